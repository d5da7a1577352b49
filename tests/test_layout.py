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


def readme_layout() -> set[str]:
    """The paths the README's Layout block names: ``name/`` or ``a.py, b.py`` before the description,
    nested two spaces per level."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Layout\n\n```\n", 1)[1].split("```", 1)[0]
    named: set[str] = set()
    parents: list[str] = []
    for line in block.splitlines():
        stripped = line.lstrip(" ")
        depth = (len(line) - len(stripped)) // 2
        entry = stripped.split("   ", 1)[0].strip()
        if not entry or not all(part.strip().endswith(("/", ".py")) for part in entry.split(",")):
            continue  # a description running on
        parents = parents[:depth]
        for part in (part.strip() for part in entry.split(",")):
            named.add("/".join([*parents, part.rstrip("/")]))
        if entry.endswith("/") and "," not in entry:
            parents.append(entry.rstrip("/"))
    return named


def test_the_readme_layout_is_the_tree() -> None:
    named = readme_layout()
    assert sorted(path for path in named if not (ROOT / path).exists()) == []
    directories = {
        str(path.relative_to(ROOT))
        for base in ("portal", "stripe_sandbox")
        for path in (ROOT / base).rglob("*")
        if path.is_dir()
        and "__pycache__" not in path.parts
        and (base == "portal" or path.parent.name == base)
    }
    top_level = {
        path.name for path in ROOT.iterdir() if path.is_dir() and not path.name.startswith((".", "instance"))
    }
    assert sorted((directories | top_level) - named) == []
