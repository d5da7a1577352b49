"""A person's language and time zone: saved on the account, checked against what the portal knows."""

from __future__ import annotations

from flask_babel import gettext as _

from portal.errors import UserError
from portal.extensions import db
from portal.i18n import LOCALE_NAMES, LOCALES, is_known_timezone
from portal.users.models import User


class PreferenceError(UserError):
    status = 400
    code = "unknown_preference"


def checked_locale(locale: object) -> str:
    """``locale`` when the portal is written in it, else a ``PreferenceError`` naming the choices."""
    if isinstance(locale, str) and locale in LOCALES:
        return locale
    choices = ", ".join(LOCALE_NAMES[code] for code in LOCALES)
    raise PreferenceError(
        _("The portal is not written in that language. Choose one of: %(choices)s.", choices=choices),
        code="unknown_locale",
        field="locale",
    )


def save_locale(user: User, locale: object) -> str:
    user.locale = checked_locale(locale)
    db.session.commit()
    return user.locale


def checked_timezone(name: str | None) -> str | None:
    """An IANA zone (``Asia/Ho_Chi_Minh``), or None for empty; a ``PreferenceError`` for another name."""
    name = (name or "").strip() or None
    if name is not None and not is_known_timezone(name):
        raise PreferenceError(
            _(
                "“%(zone)s” is not a time zone we know. Choose one from the list, e.g. Asia/Ho_Chi_Minh.",
                zone=name,
            ),
            code="unknown_timezone",
            field="timezone",
        )
    return name


def save_timezone(user: User, name: str | None) -> None:
    """The zone the person's dates read in (none: UTC; a practice's pages use the practice's own)."""
    user.timezone = checked_timezone(name)
    db.session.commit()
