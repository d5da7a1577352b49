"""The request pipeline every ``/v1`` call runs through: outage knobs, params, key, idempotency,
the transaction, expansion and Stripe-shaped errors."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

from flask import Flask, Response, request

from stripe_sandbox.api import billing_routes, payment_routes
from stripe_sandbox.api.keys import api_key, check_key
from stripe_sandbox.api.routing import Route
from stripe_sandbox.api.schema import endpoint_specs, route_key
from stripe_sandbox.api.validation import check_request
from stripe_sandbox.billing.discounts import with_validity as coupon_validity
from stripe_sandbox.checkout import session_line_items
from stripe_sandbox.core import RequestInfo, Sandbox, clean
from stripe_sandbox.errors import SandboxError, invalid_request
from stripe_sandbox.limits import rate_limited
from stripe_sandbox.params import as_list, parse_params
from stripe_sandbox.shapes.includable import hide_includable, is_includable

log = logging.getLogger("stripe_sandbox")

#: Every ``/v1`` route, payments first (the order the endpoints were always registered in).
ROUTES: tuple[Route, ...] = (*payment_routes.ROUTES, *billing_routes.ROUTES)

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": (
        "Authorization, Content-Type, Stripe-Version, Idempotency-Key, Stripe-Account"
    ),
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Max-Age": "600",
}


# expansion -----------------------------------------------------------------------------------


def _load(sb: Sandbox, value: Any) -> Any:
    # Most ids have a prefix (``cus_``); a coupon's is whatever its creator chose (``SPRING30``).
    if isinstance(value, str) and value:
        obj = sb.get(value)
        if obj is not None and obj.get("object") == "coupon":  # ``valid`` as of now (redeem_by)
            return clean(coupon_validity(sb, dict(obj)))
        if obj is not None:
            return clean(obj)
    return value


def _holds_ids(sb: Sandbox, value: Any) -> bool:
    """An id, or a list of ids (``discounts``; an empty one expands to an empty list, as at Stripe)."""
    if isinstance(value, list):
        return all(_holds_ids(sb, item) for item in value)
    return isinstance(value, str) and sb.get(value) is not None


def _cannot_expand(path: str) -> SandboxError:
    return invalid_request(f"This property cannot be expanded ({path}).", param="expand")


def _expand_path(sb: Sandbox, node: Any, parts: list[str], done: list[str]) -> Any:
    """Expand ``parts`` below ``node``; ``done`` is the path walked so far (for the error message).

    Like Stripe, a path naming a field that is not there, or that holds neither an id nor an
    includable value, is refused: https://docs.stripe.com/api/expanding_objects."""
    if isinstance(node, list):
        return [_expand_path(sb, item, parts, done) for item in node]
    if not parts:
        return _load(sb, node)
    if isinstance(node, str):
        node = _load(sb, node)
    if node is None:
        return node
    if not isinstance(node, dict):
        raise _cannot_expand(".".join(done))
    key, rest = parts[0], parts[1:]
    here = [*done, key]
    if key == "line_items" and node.get("object") == "checkout.session":
        node[key] = _expand_path(sb, session_line_items(sb, node), rest, here)
        return node
    if key == "sources" and node.get("object") == "customer" and key not in node:
        node[key] = _expand_path(sb, _customer_sources(node), rest, here)
        return node
    if key not in node:
        raise _cannot_expand(".".join(here))
    value = node[key]
    expandable = value is None or is_includable(node, key) or _holds_ids(sb, value)
    if not rest and not expandable:
        raise _cannot_expand(".".join(here))
    if rest and isinstance(value, str) and not expandable:
        raise _cannot_expand(".".join(here))
    node[key] = _expand_path(sb, value, rest, here)
    return node


def _customer_sources(customer: dict[str, Any]) -> dict[str, Any]:
    """A customer's ``sources``, includable (sent only when expanded) since API version 2020-08-27:
    its legacy Sources and Cards, a list object. The sandbox makes PaymentMethods only, and Stripe
    leaves those out of ``sources``, so the list is always empty (what dj-stripe reads with
    ``expand[]=sources``)."""
    return {
        "object": "list",
        "data": [],
        "has_more": False,
        "total_count": 0,
        "url": f"/v1/customers/{customer['id']}/sources",
    }


def expand(sb: Sandbox, obj: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    for path in paths:
        if path.count(".") > 3:
            raise invalid_request(
                f"You cannot expand more than 4 levels of a property. Property: {path}", param="expand"
            )
        obj = _expand_path(sb, obj, path.split("."), [])
    return hide_includable(obj, paths)


# the request pipeline ------------------------------------------------------------------------


def _json(status: int, body: str, extra: dict[str, str] | None = None) -> Response:
    response = Response(body, status=status, mimetype="application/json")
    response.headers.update(CORS_HEADERS)
    response.headers["Stripe-Version"] = "2026-10-28.endive"
    for k, v in (extra or {}).items():
        response.headers[k] = v
    return response


def error_response(error: SandboxError, request_id: str) -> Response:
    body = error.body()
    body["error"]["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
    return _json(error.status, json.dumps(body, indent=2), {"Request-Id": request_id})


def _outage(sb: Sandbox, request_id: str) -> Response | None:
    if not (sb.outage or sb.fail_next > 0):
        return None
    with sb.store.lock:
        if sb.fail_next > 0:
            sb.fail_next -= 1
    return error_response(
        SandboxError(
            sb.fail_status, "api_error", "An unknown error occurred (the sandbox is simulating an outage)."
        ),
        request_id,
    )


def _validate(sb: Sandbox, route: Route, endpoint: str, params: dict[str, Any]) -> None:
    """Strict mode: the parameters the pinned SDK says this endpoint takes, and nothing else."""
    if not sb.strict:
        return
    spec = endpoint_specs().get(route_key(route.method, route.rule))
    if spec is None:
        return
    try:
        check_request(params, spec, publishable=(api_key() or "").startswith("pk_"))
    except SandboxError as error:
        sb.request_log.reject(endpoint, request.full_path.rstrip("?"), error)
        raise


def _idempotency_conflict(idem_key: str, endpoint: str, stored: tuple[Any, ...]) -> SandboxError:
    if stored[0] != endpoint:
        message = (
            "Keys for idempotent requests can only be used for the same endpoint they were first used for "
            f"('{stored[0]}' vs '{endpoint}'). Try using a key other than '{idem_key}' if you meant to "
            "execute a different request."
        )
    else:
        message = (
            "Keys for idempotent requests can only be used with the same parameters they were first used "
            f"with. Try using a key other than '{idem_key}' if you meant to execute a different request."
        )
    return SandboxError(400, "idempotency_error", message)


#: Stripe's longest idempotency key (https://docs.stripe.com/api/idempotent_requests).
MAX_IDEMPOTENCY_KEY = 255


def _dispatch(sb: Sandbox, route: Route, path_args: dict[str, str]) -> Response:
    """One ``/v1`` call; a POST with an ``Idempotency-Key`` holds it while it runs (a duplicate sent
    meanwhile gets 409), and every answer to it names the key, as Stripe's do."""
    idem_key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
    if idem_key is None:
        return _run(sb, route, path_args, None)
    if len(idem_key) > MAX_IDEMPOTENCY_KEY:
        return error_response(
            invalid_request(
                f"Idempotency-Key must be at most {MAX_IDEMPOTENCY_KEY} characters long; "
                f"yours is {len(idem_key)}.",
                param="Idempotency-Key",
            ),
            sb.new_id("req", 14),
        )
    if not sb.keys_in_flight.begin(idem_key):
        in_progress = SandboxError(
            409,
            "idempotency_error",
            "There is currently another in-progress request using this Stripe-Idempotency-Key. Please "
            f"try again later. Key: '{idem_key}'",
            code="idempotency_key_in_use",
        )
        response = error_response(in_progress, sb.new_id("req", 14))
    else:
        try:
            response = _run(sb, route, path_args, idem_key)
        finally:
            sb.keys_in_flight.end(idem_key)
    response.headers["Idempotency-Key"] = idem_key
    return response


def _run(sb: Sandbox, route: Route, path_args: dict[str, str], idem_key: str | None) -> Response:
    request_id = sb.new_id("req", 14)
    if sb.latency_ms:
        time.sleep(sb.latency_ms / 1000)
    failed = _outage(sb, request_id)
    if failed is not None:
        return failed
    try:
        check_key(route)
    except SandboxError as error:
        return error_response(error, request_id)
    # The limit is per account, so it counts the requests a key was given for.
    if sb.rate_limit and not sb.limiter.admit():
        return error_response(rate_limited(), request_id)
    endpoint = f"{request.method} {request.path}"
    sb.request_log.record(" ".join(route_key(route.method, route.rule)))
    pairs = list(request.args.items(multi=True))
    if request.method == "POST":
        pairs += list(request.form.items(multi=True))
    try:
        params = parse_params(pairs)
        _validate(sb, route, " ".join(route_key(route.method, route.rule)), params)
    except SandboxError as error:
        # Failed validation: nothing ran, so (as at Stripe) no idempotent result is saved.
        return error_response(error, request_id)
    expand_paths = [str(p) for p in as_list(params.pop("expand", None))]
    fingerprint = hashlib.sha256(
        json.dumps([request.method, request.path, params, expand_paths], sort_keys=True).encode()
    ).hexdigest()
    with sb.store.lock:
        sb.public_url = request.host_url.rstrip("/")
        if idem_key:
            stored = sb.store.idempotent_get(idem_key)
            if stored is not None and stored[0] == request.path:
                stored = (endpoint, *stored[1:])  # saved before keys recorded their method
            if stored is not None:
                if stored[0] != endpoint or stored[1] != fingerprint:
                    return error_response(_idempotency_conflict(idem_key, endpoint, stored), request_id)
                replay = {"Idempotent-Replayed": "true", "Request-Id": request_id}
                return _json(stored[2], stored[3], replay | {"Original-Request": stored[4] or request_id})
        try:
            with sb.transaction(RequestInfo(request_id, idem_key)):
                result = route.handler(sb, params, **path_args)
                body = json.dumps(clean(expand(sb, clean(result), expand_paths)), indent=2)
                if idem_key:
                    sb.store.idempotent_put(idem_key, endpoint, fingerprint, 200, body, request_id)
            return _json(200, body, {"Request-Id": request_id})
        except SandboxError as error:
            response = error_response(error, request_id)
            # A request refused before it changed anything (a 400 that rolled back) is a failed
            # validation: Stripe saves no result for it, so the key may be used again.
            validation_failure = error.status == 400 and not error.keep_changes
            if idem_key and not validation_failure:
                with sb.store.transaction():
                    sb.store.idempotent_put(
                        idem_key,
                        endpoint,
                        fingerprint,
                        error.status,
                        response.get_data(as_text=True),
                        request_id,
                    )
            return response
        except Exception:
            log.exception("sandbox handler crashed: %s %s", request.method, request.path)
            return error_response(SandboxError(500, "api_error", "An unknown error occurred."), request_id)


def register_api(app: Flask, sb: Sandbox) -> None:
    # Read the SDK's parameter lists now (about a second, once per process), not on a first request
    # that a client's read timeout is waiting for.
    endpoint_specs()
    for index, route in enumerate(ROUTES):

        def view(_route: Route = route, **path_args: str) -> Response:
            return _dispatch(sb, _route, path_args)

        # CORS preflights go to ``v1_preflight``, not Flask's automatic OPTIONS answer.
        app.add_url_rule(
            route.rule, f"api_{index}", view, methods=[route.method], provide_automatic_options=False
        )

    @app.route("/v1/<path:rest>", methods=["OPTIONS"])
    def v1_preflight(rest: str) -> Response:
        return Response(status=204, headers=CORS_HEADERS)

    @app.errorhandler(404)
    def unknown(_error: Exception) -> Response:
        if request.path.startswith("/v1/"):
            message = f"Unrecognized request URL ({request.method}: {request.path})."
            return error_response(SandboxError(404, "invalid_request_error", message), sb.new_id("req", 14))
        return Response("Not found", status=404)

    @app.errorhandler(405)
    def bad_method(_error: Exception) -> Response:
        if request.path.startswith("/v1/"):
            message = f"Unrecognized request URL ({request.method}: {request.path})."
            return error_response(SandboxError(404, "invalid_request_error", message), sb.new_id("req", 14))
        return Response("Method not allowed", status=405)
