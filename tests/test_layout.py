"""The layout every page shares (its links follow where the portal is mounted), and the layout of the
code: small files and functions in portal/, a README whose Layout section is the tree."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_FILE_LINES = 450
MAX_FUNCTION_LINES = 60


def portal_sources() -> list[Path]:
    return sorted((ROOT / "portal").rglob("*.py"))


def test_layout_links_follow_the_script_root(client):
    mounted = client.get("/login", base_url="http://localhost/portal").get_data(as_text=True)
    assert 'href="/portal/static/css/app.css"' in mounted
    assert 'href="/portal/register"' in mounted
    at_root = client.get("/login").get_data(as_text=True)
    assert 'href="/static/css/app.css"' in at_root and 'href="/register"' in at_root


def test_no_portal_file_is_over_450_lines() -> None:
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in portal_sources()
        if (lines := len(path.read_text().splitlines())) > MAX_FILE_LINES
    }
    assert too_long == {}


def test_no_portal_function_is_over_60_lines() -> None:
    """Counted from ``def`` to its last line (docstring included, decorators not)."""
    too_long = {}
    for path in portal_sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    too_long[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = lines
    assert too_long == {}
