"""``flask create-admin`` and ``flask seed-demo``."""

from __future__ import annotations

import sqlalchemy as sa

from portal.cli import DEMO_PASSWORD, DEMO_USERS
from portal.extensions import db
from portal.users.models import Role, User
from tests.auth.conftest import db_state, submit
from tests.conftest import both_engines


def _user(email: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(User).where(User.email == email))


def test_create_admin_new_account_with_generated_password(app, runner, client):
    app.config["SERVER_NAME"] = None  # as on a real command line: no request to build links from
    result = runner.invoke(args=["create-admin", "Boss@Example.com"])
    assert result.exit_code == 0, result.output
    assert "Created platform admin boss@example.com." in result.output
    password = result.output.split("Password: ", 1)[1].strip()
    admin = _user("boss@example.com")
    assert admin.role == Role.ADMIN and admin.email_verified
    app.config["SERVER_NAME"] = "portal.test"
    assert submit(client, "/login", {"email": "boss@example.com", "password": password}).status_code == 302


def test_create_admin_with_password_option(runner):
    result = runner.invoke(
        args=["create-admin", "ops@example.com", "--name", "Ops", "--password", "ops-pass-123"]
    )
    assert result.exit_code == 0, result.output
    assert "Password:" not in result.output
    assert _user("ops@example.com").name == "Ops"


def test_create_admin_refuses_short_password(runner):
    result = runner.invoke(args=["create-admin", "ops@example.com", "--password", "short"])
    assert result.exit_code != 0
    assert _user("ops@example.com") is None


def test_create_admin_promotes_an_existing_account(runner, user):
    assert user.role == Role.USER
    result = runner.invoke(args=["create-admin", user.email.upper()])
    assert result.exit_code == 0, result.output
    assert "is now a platform admin" in result.output
    assert _user(user.email).role == Role.ADMIN
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1


@both_engines
def test_seed_demo_twice_gives_the_same_rows(app, runner, mailbox):
    app.config["SERVER_NAME"] = None
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    after_first = db_state()
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0, second.output
    assert "created" not in second.output
    assert db_state() == after_first
    users = {row.email: row for row in after_first[0]}
    assert set(users) == {email for _, email, _ in DEMO_USERS}
    assert users["admin@example.com"].role == Role.ADMIN.value
    assert all(row.email_verified for row in users.values())
    assert mailbox.messages == []  # demo accounts are not sent confirmation emails


def test_demo_login_works(runner, client):
    runner.invoke(args=["seed-demo"])
    response = submit(client, "/login", {"email": "user@example.com", "password": DEMO_PASSWORD})
    assert response.status_code == 302
