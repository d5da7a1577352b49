"""The parameters each endpoint accepts, read from the pinned ``stripe`` SDK, never written by hand.

The SDK is generated from Stripe's OpenAPI spec for the API version it pins: each service method
(``CustomerService.create``) sends ``self._request("post", "/v1/customers", params=...)`` and types
its ``params`` with a ``TypedDict`` (``CustomerCreateParams``) whose fields, nested hashes, lists and
``Literal`` enums are exactly what Stripe accepts. We read the services' source with ``ast`` (which
method and path each one calls, which params class it takes) and turn each params class into a plain
spec with ``typing.get_type_hints``; the next SDK upgrade updates the lists by itself.

A spec is a dict: ``{"kind": "object", "fields": {...}}``, ``{"kind": "list", "item": spec}``,
``{"kind": "map"}`` (metadata), ``{"kind": "enum", "values": [...]}``, ``{"kind": "string" | "integer"
| "number" | "boolean"}`` or ``{"kind": "union", "options": [...]}``; ``"empty": True`` marks a field
that also takes ``""`` (Stripe's "unset").
"""

from __future__ import annotations

import ast
import functools
import importlib
import re
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import typing_extensions

Spec = dict[str, Any]

_PATH_ARG = re.compile(r"\{[^}]*\}")
_FLASK_ARG = re.compile(r"<[^>]*>")


def route_key(method: str, path: str) -> tuple[str, str]:
    """``("POST", "/v1/customers/{}")`` for both the SDK's ``{customer}`` and Flask's ``<cid>``."""
    return method.upper(), _FLASK_ARG.sub("{}", _PATH_ARG.sub("{}", path))


def _service_files() -> list[Path]:
    import stripe

    root = Path(stripe.__file__).parent
    return [p for p in root.rglob("_*_service.py") if "v2" not in p.relative_to(root).parts]


def _format_base(node: ast.AST) -> str | None:
    """The path string of ``"/v1/x"`` or ``"/v1/x/{id}".format(...)``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return _format_base(node.func.value)
    return None


def _params_class(fn: ast.FunctionDef) -> str | None:
    for arg in fn.args.args:
        if arg.arg == "params" and arg.annotation is not None:
            match = re.search(r"(\w+Params)\b", ast.unparse(arg.annotation))
            return match.group(1) if match else None
    return None


def _sdk_calls(path: Path) -> list[tuple[str, str, str, str]]:
    """(method, path, params module, params class) of every synchronous request the service makes."""
    tree = ast.parse(path.read_text())
    modules = {
        alias.name: node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("stripe.params")
        for alias in node.names
    }
    found = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef):
            continue
        params_class = _params_class(fn)
        for call in ast.walk(fn):
            if not (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "_request"
                and len(call.args) >= 2
            ):
                continue
            method = call.args[0].value if isinstance(call.args[0], ast.Constant) else None
            url = _format_base(call.args[1])
            if method and url and params_class and params_class in modules:
                found.append((method, url, modules[params_class], params_class))
    return found


def _spec(tp: Any, seen: tuple[type, ...] = ()) -> Spec:
    origin = get_origin(tp)
    if tp is str:
        return {"kind": "string"}
    if tp is bool:
        return {"kind": "boolean"}
    if tp is int:
        return {"kind": "integer"}
    if tp is float:
        return {"kind": "number"}
    if origin in (Literal, typing_extensions.Literal):
        values = [str(v).lower() if isinstance(v, bool) else v for v in get_args(tp)]
        return {"kind": "enum", "values": values}
    if origin in (list, typing.List):  # noqa: UP006 - the SDK spells it ``List``
        return {"kind": "list", "item": _spec(get_args(tp)[0], seen)}
    if origin in (dict, typing.Dict) or getattr(origin, "__name__", "") == "UntypedStripeObject":  # noqa: UP006
        return {"kind": "map"}
    if origin is typing.Union or type(tp).__name__ == "UnionType":
        options = [_spec(arg, seen) for arg in get_args(tp)]
        empty = any(o["kind"] == "enum" and o["values"] == [""] for o in options)
        options = [o for o in options if not (o["kind"] == "enum" and o["values"] == [""])]
        spec = options[0] if len(options) == 1 else {"kind": "union", "options": options}
        return {**spec, "empty": True} if empty else spec
    if isinstance(tp, type) and typing_extensions.is_typeddict(tp):
        if tp in seen:  # a recursive type: accept anything below
            return {"kind": "any"}
        hints = typing_extensions.get_type_hints(tp, localns=_SdkNames())
        fields = {name: hint for name, hint in hints.items() if name not in _REQUEST_OPTIONS}
        return {"kind": "object", "fields": {name: _spec(hint, (*seen, tp)) for name, hint in fields.items()}}
    return {"kind": "any"}


def _request_options() -> frozenset[str]:
    from stripe._request_options import RequestOptions

    return frozenset(RequestOptions.__annotations__)


#: The SDK's per-request options (``api_key``, ``idempotency_key``...): its params classes inherit
#: them, but they travel as headers, never as parameters.
_REQUEST_OPTIONS = _request_options()


class _SdkNames(dict):
    """Names a params module imports only for type checkers (``StripeContext``): looked up on ``stripe``."""

    def __missing__(self, name: str) -> Any:
        import stripe

        for namespace in (stripe, typing):
            if hasattr(namespace, name):
                return getattr(namespace, name)
        raise KeyError(name)


@functools.cache
def endpoint_specs() -> dict[tuple[str, str], Spec]:
    """``{("POST", "/v1/customers/{}"): spec}`` for every v1 endpoint of the pinned SDK."""
    specs: dict[tuple[str, str], Spec] = {}
    for path in sorted(_service_files()):
        for method, url, module, class_name in _sdk_calls(path):
            if not url.startswith("/v1/"):
                continue
            params = getattr(importlib.import_module(module), class_name)
            specs[route_key(method, url)] = _spec(params)
    return specs
