"""HTMX glue: is this an htmx request, and render a page or just its fragment."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flask import Response, flash, make_response, redirect, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


#: Error statuses base.html's htmx config (``responseHandling``) swaps in; it drops every other 4xx/5xx.
SWAPPED_ERROR_STATUSES = frozenset({422})


def fragment_status(status: int) -> int:
    """The one rule for the status of an htmx answer: a refusal drawn into its fragment (the message
    inside) answers 200, since htmx would not swap a 4xx/5xx in and the person would see nothing;
    422 (a form with its errors) is swapped as it is. A full page keeps its status."""
    return status if status < 400 or status in SWAPPED_ERROR_STATUSES else 200


def render_page_or_fragment(page: str, fragment: str, status: int = 200, **context: object) -> Response:
    """The full page for a normal request, the partial alone for htmx (its status: ``fragment_status``).

    Both answers vary on HX-Request so no cache serves one for the other.
    """
    htmx = is_htmx()
    template = fragment if htmx else page
    response = make_response(
        render_template(template, **context), fragment_status(status) if htmx else status
    )
    response.vary.add("HX-Request")
    return response


def fragment_or_redirect(
    page: str,
    fragment: str,
    redirect_to: str,
    context: Callable[[], Mapping[str, object]],
    *,
    message: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The answer to an action posted by htmx or by a plain form.

    htmx: the fragment again, drawn from ``context()`` (which shows the message or error itself).
    A plain post: the message or error as a flash, then a 303 to ``redirect_to`` (post/redirect/get).
    ``context`` is called only for htmx, so a plain post reads nothing it would not show.
    """
    if not is_htmx():
        if message or error:
            flash(str(error or message), "error" if error else "success")
        return redirect(redirect_to, code=303)
    return render_page_or_fragment(page, fragment, status, **context())


#: An htmx action from a page whose session ended (logged out in another tab, or it expired).
SIGNED_OUT = _l("You were signed out; sign in again.")


def refusal(message: str, link: tuple[str, str] | None = None) -> Response:
    """An htmx request refused with no fragment of its own to show it in (a card or practice that is
    not the person's, an action their role does not allow, an expired form, an error page): the
    message (and ``link``, its URL and words) goes into the page's messages (``#flashes``), as 200
    so htmx swaps it (``fragment_status``); the form, and what was typed in it, stays."""
    page = render_template("errors/_refusal.html", message=message, link=link)
    response = make_response(page, 200)
    response.headers["HX-Retarget"] = "#flashes"
    response.headers["HX-Reswap"] = "innerHTML"
    return response


def signed_out(login_url: str) -> Response:
    """The htmx answer for a session that ended: say so, with a way to sign in again."""
    return refusal(SIGNED_OUT, link=(login_url, _("Sign in again")))


def redirect_page(location: str) -> Response:
    """Go to another page: htmx follows HX-Redirect (a 303 would be swapped in), a browser the 303."""
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, code=303)
