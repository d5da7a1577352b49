"""The import contracts in pyproject.toml hold: ``make lint`` checks them, and this test puts them in
``make test``.

The portal and the Stripe sandbox are independent (each talks to the other only as the portal talks
to Stripe), and each side's modules form layers without an import circle (the portal: commands,
pages and the API, the webhook inbox, auth, practices and shop, wallet, customers, users, Stripe and
mail, shared plumbing).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
