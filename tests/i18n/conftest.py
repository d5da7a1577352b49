"""The catalogues compiled as ``make test`` compiles them, for a run of these tests alone."""

from __future__ import annotations

import contextlib
import pathlib

import flask_babel
import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from portal.i18n import use_practice_timezone

TRANSLATIONS = pathlib.Path(__file__).resolve().parents[2] / "translations"


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogues():
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as source:
                catalog = read_po(source)
            with mo.open("wb") as target:
                write_mo(target, catalog)


@contextlib.contextmanager
def reading(app, locale: str = "en", zone: str | None = None):
    """Format as a reader of ``locale`` on a page whose time zone is ``zone`` (None: UTC)."""
    with app.app_context():
        use_practice_timezone(zone)
        with flask_babel.force_locale(locale):
            yield
