"""The reliability figures: each module proves one claim and prints it as ``RELIABILITY <name>: ...``.

The ``figure`` fixture writes the line straight to the terminal (pytest's capture
does not swallow it) and repeats every figure in a summary at the end of the run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from portal.extensions import db
from tests.stripe_payloads import SECRETS_CONFIG

_FIGURES: list[str] = []


@pytest.fixture
def figure(request) -> Callable[[str, int, str], str]:
    """``figure("bad_webhooks", 500, "of 500 bad deliveries rejected, 0 rows written")``."""
    plugins = request.config.pluginmanager
    reporter = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")

    def report(name: str, count: int, what: str) -> str:
        line = f"RELIABILITY {name}: {count} {what}"
        _FIGURES.append(line)
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            if reporter is not None:
                reporter.ensure_newline()
                reporter.write_line(line)
            else:  # pytest without its terminal plugin
                print(line)
        return line

    return report


def pytest_terminal_summary(terminalreporter) -> None:
    if _FIGURES:
        terminalreporter.section("reliability figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture
def app_overrides() -> dict:
    """The webhook tests' endpoint secrets, so their signed events verify."""
    return {"STRIPE_WEBHOOK_SECRET": SECRETS_CONFIG}


#: Bookkeeping, not state: a throttle counts requests, refused ones included (portal/throttle.py).
NOT_STATE = {"rate_limit_counters"}


def row_counts() -> dict[str, int]:
    """Rows in every table of the schema (but the throttle counters)."""
    db.session.rollback()
    return {
        table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
        for table in db.metadata.sorted_tables
        if table.name not in NOT_STATE
    }


def stripe_calls(app):
    """``with stripe_calls(app) as calls:`` lists the Stripe operations made inside the block."""
    return app.extensions["stripe_call_counter"].watch()
