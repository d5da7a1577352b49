"""Which language and which time zone a page is read in (Flask-Babel's two selectors).

The language: the JSON API's requests read English (its messages are a machine's contract); a page's,
the signed-in person's saved choice (``users.locale``), else a visitor's choice (the
``locale`` cookie the header's switcher sets), else the browser's ``Accept-Language`` best match
among ``LOCALES``, else English. The time zone: the practice's on that practice's pages (its pages
call ``use_practice_timezone`` once they have loaded it), else the person's (``users.timezone``),
else ``BABEL_DEFAULT_TIMEZONE`` (UTC).

An email reads in its recipient's language and zone instead: the outbox renders it inside
``reading_as`` (``portal.mail.outbox.queue_email``).

Outside a request (the CLI, a test calling a formatter directly) everything reads in English and UTC.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from contextlib import contextmanager

import flask_babel
import pytz
from flask import Flask, g, has_app_context, has_request_context, request
from flask_babel.speaklater import LazyString
from flask_login import current_user

#: The languages the portal is written in; the first is the default.
LOCALES = ("en", "vi")
#: Each language named in itself, for the switcher.
LOCALE_NAMES = {"en": "English", "vi": "Tiếng Việt"}
#: A visitor's choice (a signed-in person's is saved on the account).
LOCALE_COOKIE = "locale"
LOCALE_COOKIE_MAX_AGE = 365 * 24 * 3600

#: A practice's time zone when none was chosen, by the country of its address or its creator's language.
TIMEZONE_OF_COUNTRY = {"VN": "Asia/Ho_Chi_Minh"}
TIMEZONE_OF_LOCALE = {"vi": "Asia/Ho_Chi_Minh"}
#: A practice's language (its emails to an address with no account) by its country, else its zone.
LOCALE_OF_COUNTRY = {"VN": "vi"}
LOCALE_OF_TIMEZONE = {"Asia/Ho_Chi_Minh": "vi", "Asia/Saigon": "vi"}


def init_app(app: Flask) -> None:
    from portal.extensions import babel

    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.finalize = escaped_like_any_text


def escaped_like_any_text(value: object) -> object:
    """Every ``{{ value }}`` of a template passes here first. Flask-Babel's lazy strings call
    themselves markup (``__html__``), so a ``lazy_gettext`` message with a practice's name in a
    placeholder would be printed unescaped: as plain text it is escaped like any other."""
    return str(value) if isinstance(value, LazyString) else value


def select_locale() -> str:
    if not has_request_context() or request.blueprint == "api":
        return LOCALES[0]
    saved = getattr(current_user, "locale", None) if current_user.is_authenticated else None
    if saved in LOCALES:
        return saved
    chosen = request.cookies.get(LOCALE_COOKIE)
    if chosen in LOCALES:
        return chosen
    return request.accept_languages.best_match(LOCALES) or LOCALES[0]


def select_timezone() -> str | None:
    """None: Flask-Babel's default (``BABEL_DEFAULT_TIMEZONE``)."""
    practice_zone = g.get("practice_timezone")
    if practice_zone:
        return practice_zone
    if has_request_context() and current_user.is_authenticated:
        return getattr(current_user, "timezone", None) or None
    return None


def use_practice_timezone(name: str | None) -> None:
    """A practice's page: its dates read in the practice's zone (when it has one)."""
    g.practice_timezone = name
    flask_babel.refresh()  # the zone may have been asked for already in this request


@contextmanager
def reading_as(locale: str | None, timezone: str | None) -> Iterator[None]:
    """Everything rendered inside reads in ``locale`` (else English) and ``timezone`` (else UTC),
    whatever the request or job around it reads in: an email in its recipient's language and zone.
    """
    chosen = locale if locale in LOCALES else LOCALES[0]
    with flask_babel.force_locale(chosen), _forced_timezone(timezone):
        yield


@contextmanager
def _forced_timezone(name: str | None) -> Iterator[None]:
    """Flask-Babel's zone of the moment (its context's cached ``babel_tzinfo``), put back after."""
    ctx = flask_babel._get_current_context()  # what force_locale itself swaps, for the zone
    if ctx is None:
        yield
        return
    unset = object()
    previous = getattr(ctx, "babel_tzinfo", unset)
    ctx.babel_tzinfo = pytz.timezone(name) if is_known_timezone(name) else pytz.UTC
    try:
        yield
    finally:
        if previous is unset:
            del ctx.babel_tzinfo
        else:
            ctx.babel_tzinfo = previous


def current_locale() -> str:
    """``en`` or ``vi``: the language in force (``flask_babel.force_locale`` forces another)."""
    if not has_app_context():
        return LOCALES[0]
    locale = flask_babel.get_locale()
    return str(locale) if locale is not None else LOCALES[0]


def current_timezone() -> dt.tzinfo:
    if not has_app_context():
        return dt.UTC
    return flask_babel.get_timezone() or dt.UTC


def is_known_timezone(name: str | None) -> bool:
    return bool(name) and name in _KNOWN_TIMEZONES


_KNOWN_TIMEZONES = frozenset(pytz.common_timezones)


@functools.cache
def available_timezones() -> tuple[str, ...]:
    """The IANA zones people choose from (tz's current, canonical names: pytz's common list)."""
    return tuple(pytz.common_timezones)


def default_practice_timezone(country: str | None = None, locale: str | None = None) -> str | None:
    """Asia/Ho_Chi_Minh for a practice in Vietnam or created in Vietnamese; None (UTC, or its
    person's zone) otherwise."""
    return TIMEZONE_OF_COUNTRY.get((country or "").upper()) or TIMEZONE_OF_LOCALE.get(locale or "")


def default_practice_locale(country: str | None = None, timezone: str | None = None) -> str | None:
    """Vietnamese for a practice in Vietnam (by its address, else its zone); None otherwise (the
    language of whoever reads: an email to an address with no account then goes in English)."""
    return LOCALE_OF_COUNTRY.get((country or "").upper()) or LOCALE_OF_TIMEZONE.get(timezone or "")
