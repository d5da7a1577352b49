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
from stripe_sandbox.api.keys import check_key
from stripe_sandbox.api.routing import Route
from stripe_sandbox.checkout import session_line_items
from stripe_sandbox.core import RequestInfo, Sandbox, clean
from stripe_sandbox.errors import SandboxError, invalid_request
from stripe_sandbox.params import as_list, parse_params

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
    if isinstance(value, str) and "_" in value:
        obj = sb.get(value)
        if obj is not None:
            return clean(obj)
    return value


def _expand_path(sb: Sandbox, node: Any, parts: list[str]) -> Any:
    if isinstance(node, list):
        return [_expand_path(sb, item, parts) for item in node]
    if not parts:
        return _load(sb, node)
    if isinstance(node, str):
        node = _load(sb, node)
    if not isinstance(node, dict):
        return node
    key, rest = parts[0], parts[1:]
    if key in node:
        node[key] = _expand_path(sb, node[key], rest)
    elif key == "line_items" and node.get("object") == "checkout.session":
        node[key] = _expand_path(sb, session_line_items(sb, node), rest)
    return node


def expand(sb: Sandbox, obj: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    for path in paths:
        if path.count(".") > 4:
            raise invalid_request(
                f"You cannot expand more than 4 levels of a property. Property: {path}", param="expand"
            )
        obj = _expand_path(sb, obj, path.split("."))
    return obj


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


def _dispatch(sb: Sandbox, route: Route, path_args: dict[str, str]) -> Response:
    request_id = sb.new_id("req", 14)
    if sb.latency_ms:
        time.sleep(sb.latency_ms / 1000)
    if sb.outage or sb.fail_next > 0:
        status = sb.fail_status
        with sb.store.lock:
            if sb.fail_next > 0:
                sb.fail_next -= 1
        return error_response(
            SandboxError(
                status, "api_error", "An unknown error occurred (the sandbox is simulating an outage)."
            ),
            request_id,
        )
    pairs = list(request.args.items(multi=True))
    if request.method == "POST":
        pairs += list(request.form.items(multi=True))
    try:
        params = parse_params(pairs)
        check_key(route)
    except SandboxError as error:
        return error_response(error, request_id)
    expand_paths = [str(p) for p in as_list(params.pop("expand", None))]
    idem_key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
    fingerprint = hashlib.sha256(
        json.dumps([request.method, request.path, params, expand_paths], sort_keys=True).encode()
    ).hexdigest()
    with sb.store.lock:
        sb.public_url = request.host_url.rstrip("/")
        if idem_key:
            stored = sb.store.idempotent_get(idem_key, request.path)
            if stored is not None:
                if stored[0] != fingerprint:
                    return error_response(
                        SandboxError(
                            400,
                            "idempotency_error",
                            "Keys for idempotent requests can only be used with the same parameters they "
                            f"were first used with. Try using a key other than '{idem_key}' if you meant to "
                            "execute a different request.",
                        ),
                        request_id,
                    )
                return _json(stored[1], stored[2], {"Idempotent-Replayed": "true", "Request-Id": request_id})
        try:
            with sb.transaction(RequestInfo(request_id, idem_key)):
                result = route.handler(sb, params, **path_args)
                body = json.dumps(clean(expand(sb, result, expand_paths)), indent=2)
                if idem_key:
                    sb.store.idempotent_put(idem_key, request.path, fingerprint, 200, body)
            return _json(200, body, {"Request-Id": request_id})
        except SandboxError as error:
            response = error_response(error, request_id)
            if idem_key:
                with sb.store.transaction():
                    sb.store.idempotent_put(
                        idem_key, request.path, fingerprint, error.status, response.get_data(as_text=True)
                    )
            return response
        except Exception:
            log.exception("sandbox handler crashed: %s %s", request.method, request.path)
            return error_response(SandboxError(500, "api_error", "An unknown error occurred."), request_id)


def register_api(app: Flask, sb: Sandbox) -> None:
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
