"""Errors shaped like Stripe's: ``{"error": {"type", "code", "message", "param", ...}}``."""

from __future__ import annotations

from typing import Any


class SandboxError(Exception):
    """An API error. ``keep_changes`` commits the state written before it was raised.

    A declined payment must both answer 402 and leave the PaymentIntent in
    ``requires_payment_method`` with ``last_payment_error`` (and record its event), so card errors
    keep their changes; plain validation errors roll everything back.
    """

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: dict[str, Any] | None = None,
        keep_changes: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.extra = extra or {}
        self.keep_changes = keep_changes

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.error_type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        if self.decline_code:
            error["decline_code"] = self.decline_code
        error.update(self.extra)
        return {"error": error}

    def as_last_error(self) -> dict[str, Any]:
        """The ``last_payment_error`` / ``last_setup_error`` sub-object for an intent."""
        return {
            "advice_code": None,
            "charge": self.extra.get("charge"),
            "code": self.code,
            "decline_code": self.decline_code,
            "doc_url": self.body()["error"].get("doc_url"),
            "message": self.message,
            "network_advice_code": None,
            "network_decline_code": None,
            "param": self.param,
            "payment_method": self.extra.get("payment_method"),
            "payment_method_type": "card",
            "type": self.error_type,
        }


def invalid_request(message: str, *, param: str | None = None, code: str | None = None) -> SandboxError:
    return SandboxError(400, "invalid_request_error", message, param=param, code=code)


def missing_param(param: str) -> SandboxError:
    return invalid_request(f"Missing required param: {param}.", param=param, code="parameter_missing")


def not_found(label: str, object_id: str, param: str = "id") -> SandboxError:
    return SandboxError(
        404, "invalid_request_error", f"No such {label}: '{object_id}'", code="resource_missing", param=param
    )


def authentication_error(message: str) -> SandboxError:
    return SandboxError(401, "invalid_request_error", message)
