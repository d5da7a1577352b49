"""The practices' refusals: what a person is told when an action cannot be done."""

from __future__ import annotations

from portal.errors import UserError


class PracticeError(UserError):
    """A refusal the person can act on."""

    code = "practice_error"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message, status=status, code=code)


class NotAllowed(PracticeError):
    status = 403
    code = "forbidden"

    def __init__(self, message: str = "Only the practice's owner and admins can manage its billing.") -> None:
        super().__init__(message)
