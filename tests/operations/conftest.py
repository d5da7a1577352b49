from __future__ import annotations

import pytest

from portal import create_app
from portal.extensions import db


@pytest.fixture
def app_factory(tmp_path, sandbox):
    """A further app on its own SQLite file (schema created), with ``overrides``."""
    apps = []

    def make(**overrides):
        app = create_app(
            "testing",
            **{
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / f'app{len(apps)}.sqlite'}",
                "STRIPE_API_BASE": sandbox.url,
                **overrides,
            },
        )
        with app.app_context():
            db.create_all()
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()
