"""``/_sandbox/...``: JSON controls for tests, benchmarks and the dashboard (not part of Stripe)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from stripe_sandbox.billing.clock import advance_clock
from stripe_sandbox.billing.common import DAY, DEFAULTS, setting
from stripe_sandbox.billing.lifecycle import pause_subscription
from stripe_sandbox.core import RequestInfo, clean
from stripe_sandbox.delivery import MODES, valid_mode
from stripe_sandbox.errors import SandboxError
from stripe_sandbox.payments import authentication
from stripe_sandbox.payments.common import force_decline
from stripe_sandbox.web import current_sandbox


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if isinstance(data, dict):
        return data
    return {k: v for k, v in request.form.items()}


def _error(error: SandboxError) -> tuple[Response, int]:
    return jsonify(error.body()), error.status


bp = Blueprint("sandbox_control", __name__, url_prefix="/_sandbox")


@bp.get("/health")
def health() -> Response:
    sb = current_sandbox()
    return jsonify(ok=True, now=sb.now())


@bp.get("/state")
def state() -> Response:
    sb = current_sandbox()
    return jsonify(
        now=sb.now(),
        clock_offset=sb.setting("clock_offset", 0),
        delivery={
            "mode": sb.deliverer.mode,
            "delay_seconds": sb.deliverer.delay_seconds,
            "concurrency": sb.deliverer.concurrency,
        },
        webhook_url=sb.webhook_url,
        latency_ms=sb.latency_ms,
        outage=sb.outage,
        strict=sb.strict,
        rate_limit=sb.rate_limit,
        settings={name: setting(sb, name) for name in DEFAULTS},
    )


@bp.post("/strict")
def strict() -> Response:
    """Switch strict mode (``on``) and Stripe's rate limit (``rate_limit``); both are on by default."""
    sb = current_sandbox()
    data = _body()
    if "on" in data:
        sb.strict = _flag(data["on"])
    if "rate_limit" in data:
        sb.rate_limit = _flag(data["rate_limit"])
    if "per_second" in data:
        sb.limiter.per_second = int(data["per_second"])
    return jsonify(strict=sb.strict, rate_limit=sb.rate_limit, per_second=sb.limiter.per_second)


@bp.get("/requests")
def requests_seen() -> Response:
    """Every ``/v1`` call seen by endpoint, the ones strict mode rejected, and how many were rate limited."""
    sb = current_sandbox()
    return jsonify(**sb.request_log.summary(), rate_limited=sb.limiter.limited)


def _flag(value: Any) -> bool:
    return value in (True, 1, "1", "true", "on", "yes")


@bp.get("/clock")
def clock() -> Response:
    sb = current_sandbox()
    return jsonify(now=sb.now(), offset=sb.setting("clock_offset", 0))


@bp.post("/clock/advance")
def advance() -> Response | tuple[Response, int]:
    sb = current_sandbox()
    data = _body()
    seconds = int(float(data.get("days", 0)) * DAY) + int(float(data.get("seconds", 0)))
    if data.get("to"):
        seconds = max(0, int(data["to"]) - sb.now())
    try:
        with sb.transaction(RequestInfo()):
            result = advance_clock(sb, seconds)
    except SandboxError as error:
        return _error(error)
    if data.get("flush", True):
        result["delivery"] = sb.deliverer.flush(timeout=float(data.get("timeout", 30)))
    return jsonify(result)


@bp.post("/delivery")
def delivery() -> Response | tuple[Response, int]:
    sb = current_sandbox()
    data = _body()
    mode = data.get("mode")
    if mode is not None and not valid_mode(mode):
        return jsonify(error={"message": f"mode must be one of {MODES}"}), 400
    try:
        sb.deliverer.configure(mode, data.get("delay_seconds"), data.get("concurrency"))
    except ValueError as refused:
        return jsonify(error={"message": str(refused)}), 400
    if "max_attempts" in data:
        sb.deliverer.max_attempts = int(data["max_attempts"])
    if "retry_base_seconds" in data:
        sb.deliverer.retry_base_seconds = float(data["retry_base_seconds"])
    return jsonify(
        mode=sb.deliverer.mode,
        delay_seconds=sb.deliverer.delay_seconds,
        concurrency=sb.deliverer.concurrency,
    )


@bp.post("/events/flush")
def flush() -> Response:
    sb = current_sandbox()
    data = _body()
    return jsonify(sb.deliverer.flush(timeout=float(data.get("timeout", 60))))


@bp.get("/events")
def events() -> Response:
    sb = current_sandbox()
    since = request.args.get("since", type=int)
    # ``since``: only the events created at or after it (a storm's, not all the seeding made).
    found = sb.all("event") if since is None else sb.store.page_of("event", -1, created=[("gte", since)])
    wanted = request.args.get("type")
    if wanted:
        found = [e for e in found if e["type"] == wanted]
    found.reverse()  # oldest first: the order they happened in
    return jsonify(data=clean(found))


@bp.post("/latency")
def latency() -> Response:
    sb = current_sandbox()
    sb.latency_ms = int(_body().get("ms", 0))
    return jsonify(latency_ms=sb.latency_ms)


@bp.post("/outage")
def outage() -> Response:
    sb = current_sandbox()
    data = _body()
    sb.outage = bool(data.get("on", True))
    sb.fail_status = int(data.get("status", 503))
    return jsonify(outage=sb.outage, status=sb.fail_status)


@bp.post("/fail_next")
def fail_next() -> Response:
    sb = current_sandbox()
    data = _body()
    sb.fail_next = int(data.get("n", 1))
    sb.fail_status = int(data.get("status", 500))
    return jsonify(fail_next=sb.fail_next, status=sb.fail_status)


@bp.post("/settings")
def settings() -> Response | tuple[Response, int]:
    sb = current_sandbox()
    data = _body()
    for name in DEFAULTS:
        if name in data:
            sb.set_setting(name, data[name])
    return jsonify({name: setting(sb, name) for name in DEFAULTS})


@bp.post("/authenticate")
def authenticate() -> Response | tuple[Response, int]:
    """Complete (or fail) the 3-D Secure challenge of an intent, as the challenge page's buttons do."""
    sb = current_sandbox()
    data = _body()
    intent_id = str(data.get("intent", ""))
    succeed = data.get("outcome", "complete") == "complete"
    try:
        with sb.transaction(RequestInfo()):
            result = authentication.authenticate(sb, intent_id, succeed)
    except SandboxError as error:
        if error.keep_changes:
            return jsonify(clean(sb.require(intent_id))), 200
        return _error(error)
    return jsonify(clean(result))


@bp.post("/reset")
def reset() -> Response:
    """Start from nothing: for test suites that share one sandbox but reset their own database
    per test (their ids, and so their idempotency keys, repeat)."""
    sb = current_sandbox()
    sb.deliverer.flush(timeout=10)
    sb.store.reset()
    sb.latency_ms = 0
    sb.outage = False
    sb.fail_next = 0
    return jsonify(ok=True, now=sb.now())


@bp.post("/subscriptions/<sub_id>/pause")
def pause(sub_id: str) -> Response | tuple[Response, int]:
    sb = current_sandbox()
    try:
        with sb.transaction(RequestInfo()):
            result = pause_subscription(sb, sub_id)
    except SandboxError as error:
        return _error(error)
    return jsonify(clean(result))


@bp.post("/payment_methods/<pm_id>/decline")
def decline(pm_id: str) -> Response | tuple[Response, int]:
    """A test hook Stripe lacks: make a saved card's next charges fail as the issuer's decline
    ``decline_code`` would (``{"decline_code": "insufficient_funds", "charges": 2}``; no ``charges``:
    until cleared; ``{"decline_code": null}`` clears). Stripe's own decline test cards are refused
    when attached, so a saved card cannot otherwise start failing with a given reason."""
    data = _body()
    if "decline_code" not in data:
        return _error(SandboxError(400, "invalid_request_error", "Missing decline_code (null clears it)."))
    charges = data.get("charges")
    if charges is not None and (isinstance(charges, bool) or not isinstance(charges, int)):
        return _error(
            SandboxError(400, "invalid_request_error", "charges must be a whole number, or omitted.")
        )
    sb = current_sandbox()
    try:
        with sb.transaction(RequestInfo()):
            result = force_decline(sb, pm_id, data["decline_code"], charges)
    except SandboxError as error:
        return _error(error)
    return jsonify(result)
