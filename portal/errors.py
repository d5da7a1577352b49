"""The one way the portal refuses a person: ``UserError`` and the two handlers that answer it.

Every feature's refusal (an account rule, a wallet rule, a declined card...) derives from
``UserError``, so a view that has nothing to add lets it propagate: a page shows the message
with the status, the API answers its envelope with the status, the code and the message
(both handlers: ``register_errorhandlers`` in the app factory).
"""

from __future__ import annotations

import flask_babel

from portal.text import N_


class UserError(Exception):
    """A refusal the person can act on; ``message`` is safe to show them.

    ``status`` is the HTTP status, ``code`` a stable machine code for the API, ``field`` the
    form field the message belongs under (if any). Subclasses set the first two per class;
    an instance may override them. A lazy message (``lazy_gettext``) is read when the refusal is made,
    in the language of the request that made it (the API's requests read English), so the message
    is plain text wherever it goes next: a flash in the session, a log line, a JSON body.
    """

    status = 400
    code = "user_error"
    field: str | None = None

    def __init__(
        self, message: object, *, status: int | None = None, code: str | None = None, field: str | None = None
    ) -> None:
        message = str(message)
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        if field is not None:
            self.field = field


#: Werkzeug's own descriptions of the error statuses the portal answers with a page (an ``abort(404)``
#: says no more), marked for the catalogue; the error page reads them in the reader's language.
HTTP_DESCRIPTIONS = (
    N_("The browser (or proxy) sent a request that this server could not understand."),
    N_(
        "You don't have the permission to access the requested resource. It is either read-protected "
        "or not readable by the server."
    ),
    N_(
        "The requested URL was not found on the server. If you entered the URL manually please check "
        "your spelling and try again."
    ),
    N_("The method is not allowed for the requested URL."),
    N_(
        "A conflict happened while processing the request. The resource might have been modified while "
        "the request was being processed."
    ),
    N_("The data value transmitted exceeds the capacity limit."),
    N_("The request was well-formed but was unable to be followed due to semantic errors."),
    N_("This user has exceeded an allotted request count. Try again later."),
    N_(
        "The server encountered an internal error and was unable to complete your request. Either the "
        "server is overloaded or there is an error in the application."
    ),
)


def page_words(description: object) -> str:
    """An error's description on a page, in the reader's language when the catalogue has it (werkzeug's
    defaults above, a lazy message); any other text as it came."""
    return flask_babel.gettext(description) if isinstance(description, str) else str(description)
