"""Stripe's HTTP conventions: auth, params, idempotency, expansion, lists, errors, CORS."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, request

from stripe_sandbox.core import RequestInfo, Sandbox
from stripe_sandbox.errors import SandboxError, authentication_error, invalid_request
from stripe_sandbox.params import as_list, parse_params, to_int

log = logging.getLogger("stripe_sandbox")

Handler = Callable[..., dict[str, Any]]

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": (
        "Authorization, Content-Type, Stripe-Version, Idempotency-Key, Stripe-Account"
    ),
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Max-Age": "600",
}


@dataclass(frozen=True)
class Route:
    method: str
    rule: str
    handler: Handler
    #: Stripe.js calls this with a publishable key (``pk_test_...``).
    publishable: bool = False


ROUTES: list[Route] = []


def api(method: str, rule: str, *, publishable: bool = False) -> Callable[[Handler], Handler]:
    """Register a ``/v1`` handler ``fn(sb, params, **path_args) -> object``."""

    def decorator(fn: Handler) -> Handler:
        ROUTES.append(Route(method, rule, fn, publishable))
        return fn

    return decorator


def clean(obj: Any) -> Any:
    """Drop store bookkeeping (``__seq``) from anything about to be returned."""
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items() if k != "__seq"}
    if isinstance(obj, list):
        return [clean(v) for v in obj]
    return obj


# lists ---------------------------------------------------------------------------------------


def paginate(objs: list[dict[str, Any]], params: dict[str, Any], url: str) -> dict[str, Any]:
    """A Stripe list object over ``objs`` (already newest first), honouring limit and cursors."""
    limit = to_int(params.get("limit", 10), "limit")
    if not 1 <= limit <= 100:
        raise invalid_request("Invalid limit: must be between 1 and 100", param="limit")
    ids = [o["id"] for o in objs]
    start, end = 0, len(objs)
    if params.get("starting_after"):
        cursor = params["starting_after"]
        if cursor not in ids:
            raise invalid_request(
                f"No such object: '{cursor}'", param="starting_after", code="resource_missing"
            )
        start = ids.index(cursor) + 1
        page = objs[start : start + limit]
        has_more = start + limit < end
    elif params.get("ending_before"):
        cursor = params["ending_before"]
        if cursor not in ids:
            raise invalid_request(
                f"No such object: '{cursor}'", param="ending_before", code="resource_missing"
            )
        end = ids.index(cursor)
        page = objs[max(0, end - limit) : end]
        has_more = end - limit > 0
    else:
        page = objs[:limit]
        has_more = len(objs) > limit
    return {"object": "list", "data": page, "has_more": has_more, "url": url}


def search_result(objs: list[dict[str, Any]], params: dict[str, Any], url: str) -> dict[str, Any]:
    limit = to_int(params.get("limit", 10), "limit")
    offset = 0
    if params.get("page"):
        try:
            offset = int(str(params["page"]).removeprefix("page_"))
        except ValueError:
            raise invalid_request("Invalid page token.", param="page") from None
    page = objs[offset : offset + limit]
    has_more = offset + limit < len(objs)
    return {
        "object": "search_result",
        "data": page,
        "has_more": has_more,
        "next_page": f"page_{offset + limit}" if has_more else None,
        "url": url,
        "total_count": len(objs),
    }


def created_filter(objs: list[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
    created = params.get("created")
    if created is None:
        return objs
    if not isinstance(created, dict):
        value = to_int(created, "created")
        return [o for o in objs if o.get("created") == value]
    ops = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}
    for op, fn in ops.items():
        if op in created:
            bound = to_int(created[op], f"created[{op}]")
            objs = [o for o in objs if fn(int(o.get("created", 0)), bound)]
    return objs


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
        from stripe_sandbox.checkout import session_line_items

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


def _api_key() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip()
    if request.authorization and request.authorization.username:
        return request.authorization.username
    return None


def _check_key(route: Route) -> None:
    key = _api_key()
    if not key:
        raise authentication_error(
            "You did not provide an API key. You need to provide your API key in the Authorization header, "
            "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."
        )
    if key.startswith(("sk_test_", "rk_test_")):
        return
    if key.startswith("pk_test_"):
        if not route.publishable:
            raise authentication_error(
                "This API call cannot be made with a publishable API key. Please use a secret API key. "
                "You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys."
            )
        return
    shown = key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else key
    raise authentication_error(f"Invalid API Key provided: {shown}")


def check_client_secret(obj: dict[str, Any], params: dict[str, Any]) -> None:
    """With a publishable key, an intent is reachable only with its client secret."""
    key = _api_key() or ""
    if key.startswith("pk_test_") and params.get("client_secret") != obj.get("client_secret"):
        raise invalid_request(
            "The client_secret provided does not match the client_secret associated with the "
            f"{obj['object'].replace('_', '')}.",
            param="client_secret",
        )


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
        _check_key(route)
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
    from stripe_sandbox import routes  # noqa: F401  (registers every handler with @api)

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
