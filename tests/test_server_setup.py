"""`make run`'s gunicorn.conf.py: enough threads that hung Stripe actions leave room for pages."""

from __future__ import annotations

import os
import runpy
from pathlib import Path

from portal import create_app
from portal.extensions import db

ROOT = Path(__file__).resolve().parent.parent


def test_make_run_uses_gunicorn_conf_py():
    assert "--config gunicorn.conf.py" in (ROOT / "Makefile").read_text()


def test_make_run_gives_scheduled_jobs_its_own_address():
    """Attack 19 A6: `make run PORT=7100` queued job emails linking to port 5000 (PORTAL_URL's default)."""
    run_recipe = (ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "export PORTAL_URL=$${PORTAL_URL:-http://127.0.0.1:$(PORT)/}" in run_recipe


def test_a_dozen_hung_stripe_actions_in_one_worker_leave_threads_for_pages(monkeypatch, tmp_path):
    for name in ("WEB_CONCURRENCY", "GUNICORN_THREADS", "DATABASE_POOL_SIZE"):
        monkeypatch.setenv(name, "")  # recorded, so the file's setdefault is undone after the test
        monkeypatch.delenv(name)
    # The file sets the metrics directory as gunicorn reads it: named here, so this process's
    # environment is left as it was (a later app would otherwise count into a directory).
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert settings["worker_class"] == "gthread"
    assert settings["threads"] - 12 >= 4
    assert os.environ["DATABASE_POOL_SIZE"] == str(settings["threads"])


def test_the_database_pool_holds_a_connection_per_thread(tmp_path):
    app = create_app(
        "testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'x.sqlite'}", DATABASE_POOL_SIZE=16
    )
    with app.app_context():
        assert db.engine.pool.size() == 16
