"""Strict mode: every request's parameters checked as Stripe checks them, against ``schema``.

Stripe answers an unknown parameter, a value outside an enum, a malformed integer or boolean, a
scalar where a hash belongs and an unknown currency with a 400 ``invalid_request_error`` before
anything runs (https://docs.stripe.com/api/errors); so does the sandbox in strict mode.
"""

from __future__ import annotations

from typing import Any

from stripe_sandbox.currencies import SUPPORTED
from stripe_sandbox.errors import SandboxError, invalid_request

#: What Stripe.js adds to the calls it makes with a publishable key (never sent by a server SDK).
STRIPE_JS_PARAMS = frozenset(
    {"client_secret", "key", "payment_user_agent", "_stripe_version", "guid", "muid", "sid", "time_on_page"}
)


def _join(values: list[Any]) -> str:
    words = [str(v) for v in values]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + ", or " + words[-1]


def unknown_parameter(path: str) -> SandboxError:
    return invalid_request(f"Received unknown parameter: {path}", param=path, code="parameter_unknown")


def _options(spec: dict[str, Any]) -> list[dict[str, Any]]:
    options = spec["options"] if spec["kind"] == "union" else [spec]
    # The SDK types open enums as ``Literal[...] | str`` for forward compatibility; the API itself
    # takes only the listed values.
    if any(o["kind"] == "enum" for o in options):
        options = [o for o in options if o["kind"] != "string"]
    return options


def _scalar_ok(value: str, option: dict[str, Any], path: str) -> bool:
    kind = option["kind"]
    if kind in ("string", "any"):
        if path.rsplit("[", 1)[-1].rstrip("]") == "currency" and value.lower() not in SUPPORTED:
            raise invalid_request(
                f"Invalid currency: {value.lower()}. Stripe currently supports these currencies: "
                + ", ".join(sorted(SUPPORTED)),
                param=path,
            )
        return True
    if kind == "enum":
        return value in [str(v) for v in option["values"]]
    if kind == "integer":
        return value.lstrip("-").isdigit()
    if kind == "number":
        try:
            float(value)
        except ValueError:
            return False
        return True
    if kind == "boolean":
        return value in ("true", "false")
    return False


def _scalar_error(value: str, options: list[dict[str, Any]], path: str) -> SandboxError:
    enums = [v for o in options if o["kind"] == "enum" for v in o["values"]]
    kinds = {o["kind"] for o in options}
    if enums:
        return invalid_request(f"Invalid {path}: must be one of {_join(enums)}", param=path)
    if "integer" in kinds:
        return invalid_request(f"Invalid integer: {value}", param=path, code="parameter_invalid_integer")
    if "boolean" in kinds:
        return invalid_request(f"Invalid boolean: {value}", param=path)
    if "number" in kinds:
        return invalid_request(f"Invalid decimal: {value}", param=path)
    if "list" in kinds:
        return invalid_request("Invalid array", param=path)
    return invalid_request("Invalid hash", param=path)


def check(value: Any, spec: dict[str, Any], path: str) -> None:
    """Raise Stripe's error for the first thing in ``value`` that ``spec`` does not allow."""
    if spec["kind"] == "any" or (value == "" and spec.get("empty")):
        return
    options = _options(spec)
    if isinstance(value, dict):
        _check_hash(value, options, path)
    elif isinstance(value, list):
        _check_array(value, options, path)
    elif not any(_scalar_ok(str(value), option, path) for option in options):
        raise _scalar_error(str(value), options, path)


def _check_hash(value: dict, options: list[dict[str, Any]], path: str) -> None:
    """A form-encoded hash: an object's known fields, a free map, or an array sent as ``a[0]=..``."""
    for option in options:
        if option["kind"] == "object":
            for key, item in value.items():
                if key not in option["fields"]:
                    raise unknown_parameter(f"{path}[{key}]")
                check(item, option["fields"][key], f"{path}[{key}]")
            return
        if option["kind"] in ("map", "any"):
            return
        if option["kind"] == "list":
            return check(list(value.values()), option, path)
    raise _scalar_error(str(value), options, path)


def _check_array(value: list, options: list[dict[str, Any]], path: str) -> None:
    for option in options:
        if option["kind"] == "list":
            for index, item in enumerate(value):
                check(item, option["item"], f"{path}[{index}]")
            return
    raise _scalar_error(str(value), options, path)


def check_request(params: dict[str, Any], spec: dict[str, Any], *, publishable: bool) -> None:
    """Top-level parameters: unknown names first (Stripe names the parameter alone), then values."""
    fields = spec.get("fields", {})
    for name, value in params.items():
        if name not in fields:
            if publishable and name in STRIPE_JS_PARAMS:
                continue
            raise unknown_parameter(name)
        check(value, fields[name], name)
