"""The one way the portal refuses a person: ``UserError`` and the two handlers that answer it.

Every feature's refusal (an account rule, a wallet rule, a declined card...) derives from
``UserError``, so a view that has nothing to add lets it propagate: a page shows the message
with the status, the API answers its envelope with the status, the code and the message
(both handlers: ``register_errorhandlers`` in the app factory).
"""

from __future__ import annotations


class UserError(Exception):
    """A refusal the person can act on; ``message`` is safe to show them.

    ``status`` is the HTTP status, ``code`` a stable machine code for the API, ``field`` the
    form field the message belongs under (if any). Subclasses set the first two per class;
    an instance may override them.
    """

    status = 400
    code = "user_error"
    field: str | None = None

    def __init__(
        self, message: str, *, status: int | None = None, code: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        if field is not None:
            self.field = field
