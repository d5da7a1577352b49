"""The event table is the one wiring of Stripe events to handlers: a literal, the README's list, and
nothing adds to it when portal modules are imported or the app is built."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

from portal.webhooks.handlers import EVENT_HANDLERS

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "portal" / "webhooks" / "handlers" / "__init__.py"

IMPORT_EVERYTHING = """
import gc, importlib, json, pkgutil
import flask, sqlalchemy.orm
from limits.storage import SCHEMES
import portal
from portal.extensions import PortalSession, csrf, limiter, login_manager
from portal.webhooks.handlers import EVENT_HANDLERS

SESSION_EVENTS = ("before_commit", "after_commit", "after_rollback", "after_flush", "before_flush")


def listeners(cls):
    return sum(len(getattr(cls.dispatch, name)._clslevel.get(cls, ())) for name in SESSION_EVENTS)


def global_state():
    blueprints = [obj for obj in gc.get_objects() if isinstance(obj, flask.Blueprint)]
    return {
        "handlers": {t: f"{h.__module__}.{h.__qualname__}" for t, h in EVENT_HANDLERS.items()},
        "limits_schemes": sorted(SCHEMES),
        "session_listeners": [listeners(sqlalchemy.orm.Session), listeners(PortalSession)],
        "blueprint_commands": sorted(name for bp in blueprints for name in bp.cli.commands),
        "user_loader": login_manager._user_callback is not None,
        "csrf_exempt": sorted(getattr(b, "name", b) for b in [*csrf._exempt_blueprints, *csrf._exempt_views]),
        "limiter_exempt": sorted(getattr(bp, "name", bp) for bp in limiter._blueprint_exemptions),
    }


before = global_state()
for module in pkgutil.walk_packages(portal.__path__, "portal."):
    importlib.import_module(module.name)
imported = global_state()
app = portal.create_app("testing")
built = global_state()
banners = [provider.__qualname__ for provider in app.extensions["banner_providers"]]
print(json.dumps({"before": before, "imported": imported, "built": built, "banners": banners}))
"""


def documented_event_types() -> list[str]:
    """The event types the README's "Webhook events" table lists."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Webhook events", 1)[1].split("\n#", 1)[0]
    return re.findall(r"^\| `([a-z_.]+)` \|", section, flags=re.MULTILINE)


def test_the_table_is_a_literal_with_nothing_registering_itself() -> None:
    tree = ast.parse(TABLE.read_text())
    tables = [
        node.value
        for node in tree.body
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "EVENT_HANDLERS"
    ]
    assert len(tables) == 1 and isinstance(tables[0], ast.Dict)
    assert all(isinstance(key, ast.Constant) for key in tables[0].keys)
    portal_source = "\n".join(path.read_text() for path in (ROOT / "portal").rglob("*.py"))
    for hook in ("record_once", "SEEDERS", "def register(*", "except ImportError"):
        assert hook not in portal_source


def test_importing_every_portal_module_and_building_the_app_registers_nothing() -> None:
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["imported"] == outcome["before"]  # importing registers nothing anywhere
    assert outcome["banners"] == ["practice_banners"]
    before, built = outcome["before"], outcome["built"]
    assert built["handlers"] == before["handlers"]
    # Building the app is what wires the rest, explicitly.
    assert "portal-database" in built["limits_schemes"] and "portal-database" not in before["limits_schemes"]
    assert built["session_listeners"][0] == before["session_listeners"][0]  # never SQLAlchemy's Session
    assert built["session_listeners"][1] == 3  # the outbox's two and the webhook dispatcher's guard
    assert built["user_loader"] and not before["user_loader"]
    assert built["csrf_exempt"] == ["api", "webhooks"]
    assert built["blueprint_commands"] == []


def test_the_table_covers_exactly_the_documented_event_types() -> None:
    documented = documented_event_types()
    assert len(documented) == len(set(documented))
    assert sorted(EVENT_HANDLERS) == sorted(documented)


def test_every_read_first_step_belongs_to_a_handled_event():
    """Attack 3 F12: a read-first step runs before its event's handler; one without a handler is a typo."""
    from portal.webhooks.handlers import EVENT_HANDLERS, READ_FIRST

    assert set(READ_FIRST) <= set(EVENT_HANDLERS)
