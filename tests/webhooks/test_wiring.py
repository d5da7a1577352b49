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
import importlib, json, pkgutil
import portal
from portal.webhooks.handlers import EVENT_HANDLERS
before = {t: f"{h.__module__}.{h.__qualname__}" for t, h in EVENT_HANDLERS.items()}
for module in pkgutil.walk_packages(portal.__path__, "portal."):
    importlib.import_module(module.name)
app = portal.create_app("testing")
after = {t: f"{h.__module__}.{h.__qualname__}" for t, h in EVENT_HANDLERS.items()}
banners = [provider.__qualname__ for provider in app.extensions["banner_providers"]]
print(json.dumps({"same": before == after, "banners": banners}))
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
    assert outcome == {"same": True, "banners": ["practice_banners"]}


def test_the_table_covers_exactly_the_documented_event_types() -> None:
    documented = documented_event_types()
    assert len(documented) == len(set(documented))
    assert sorted(EVENT_HANDLERS) == sorted(documented)
