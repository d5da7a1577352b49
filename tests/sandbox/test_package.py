"""The sandbox is its own package: its own entry point and defaults, and the portal never loads it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import config
from stripe_sandbox import defaults

ROOT = Path(__file__).resolve().parents[2]


def test_the_portal_keeps_a_copy_of_the_sandbox_defaults_that_agrees() -> None:
    """``config.py`` may not import the sandbox, so it holds its own copy of the keys and address."""
    assert config.SANDBOX_SECRET_KEY == defaults.SECRET_KEY
    assert config.SANDBOX_PUBLISHABLE_KEY == defaults.PUBLISHABLE_KEY
    assert config.SANDBOX_WEBHOOK_SECRET == defaults.WEBHOOK_SECRET
    assert config.SANDBOX_API_BASE == defaults.ADDRESS


def test_serving_the_portal_never_loads_the_sandbox() -> None:
    code = (
        "import json, sys; from portal import create_app; app = create_app('testing'); "
        "app.test_client().get('/login'); "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'stripe_sandbox')))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("STRIPE_SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_python_m_stripe_sandbox_lists_its_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stripe_sandbox", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "run" in result.stdout
