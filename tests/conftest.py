"""Fixtures shared by every test: app, client, database engines, SMTP, sandbox, login helper."""

from __future__ import annotations

import os
import re

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from portal import create_app
from portal.extensions import db
from tests.smtp import SMTPServer
from tests.strict_calls import check_no_rejections, write_figures

#: Tests marked with ``both_engines`` run on SQLite and, when TEST_DATABASE_URL is set, PostgreSQL.
ENGINES = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])
both_engines = pytest.mark.parametrize("engine", ENGINES, indirect=True)


@pytest.fixture
def engine(request) -> str:
    return getattr(request, "param", "sqlite")


def postgres_url() -> str:
    """TEST_DATABASE_URL's server, database ``portal_test`` created on demand. Fails loudly if down.

    ``TEST_DATABASE_NAME`` names another database, so two checkouts can run their suites at once.
    """
    name = os.environ.get("TEST_DATABASE_NAME", "portal_test")
    url = sa.engine.make_url(os.environ["TEST_DATABASE_URL"]).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def database_url(engine, tmp_path) -> str:
    if engine == "postgresql":
        return postgres_url()
    return f"sqlite:///{tmp_path / 'portal.sqlite'}"


@pytest.fixture(scope="session")
def smtp_server():
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(smtp_server):
    smtp_server.clear()
    return smtp_server


@pytest.fixture(scope="session")
def sandbox():
    """One Stripe sandbox for the session; tests read their own objects by id."""
    from stripe_sandbox.testing import SandboxServer

    server = SandboxServer(webhook_url=None)  # strict mode and Stripe's rate limit on: the defaults
    server.start()
    _SESSION_SANDBOX.append(server)
    yield server
    seen = server.requests_seen()
    server.stop()
    check_no_rejections("portal suite (session sandbox)", seen)


#: What renews when the session sandbox's one clock moves (Stripe's test clocks keep each
#: customer's apart; the sandbox has one clock for all).
_LIVE = ("active", "past_due", "trialing", "incomplete", "unpaid", "paused")
_SESSION_SANDBOX: list = []


@pytest.fixture(autouse=True)
def _no_subscription_outlives_its_test(request):
    """A test's subscriptions end with it: otherwise every later clock step renews every earlier
    test's subscriptions too, and the suite slows as it goes."""
    yield
    server = getattr(request.node, "funcargs", {}).get("sandbox")
    if server is None or server not in _SESSION_SANDBOX:  # a module's own sandbox keeps its state
        return
    client = server.client()
    for subscription in list(server.sandbox.all("subscription")):
        if subscription["status"] in _LIVE:
            client.v1.subscriptions.cancel(subscription["id"])


def pytest_terminal_summary(terminalreporter) -> None:
    write_figures(terminalreporter)


@pytest.fixture
def app_overrides() -> dict:
    """Override in a test module to change config for its app."""
    return {}


@pytest.fixture
def app(database_url, smtp_server, sandbox, app_overrides, tmp_path):
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=database_url,
        STRIPE_API_BASE=sandbox.url,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_server.port,
        SERVER_NAME="portal.test",
        **app_overrides,
    )
    app.test_client_class = ServedClient
    with app.app_context():
        db.drop_all()
        db.create_all()
        yield app
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


class ServedClient(FlaskClient):
    """Reads and closes each response, as a WSGI server does once it has sent the page, so the work
    queued for after the response (emails, ``run_after_response``) runs. ``buffered=False`` to stop short."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)


class IsolatedClient(ServedClient):
    """Each request in its own app context, as under a real server.

    The shared ``app`` fixture keeps one app context open for the whole test, and
    Flask reuses it for every test request: ``g`` (where Flask-Login caches the
    current user and Flask-WTF the CSRF token) and the database session would
    otherwise leak from one request into the next, hiding or faking session bugs.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app) -> IsolatedClient:
    return IsolatedClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def extract_csrf(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'"X-CSRFToken": "([^"]+)"', html
    )
    assert match, "page carries no CSRF token"
    return match.group(1)


class AuthActions:
    """Log in and out through the real forms, CSRF included."""

    def __init__(self, client) -> None:
        self.client = client

    def csrf(self, path: str = "/login") -> str:
        return extract_csrf(self.client.get(path).get_data(as_text=True))

    def login(self, email: str, password: str = "correct-horse-battery"):
        token = self.csrf("/login")
        return self.client.post("/login", data={"email": email, "password": password, "csrf_token": token})

    def logout(self):
        token = self.csrf("/account")
        return self.client.post("/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def user_factory(app):
    from tests.factories import make_user

    return make_user


@pytest.fixture
def user(user_factory):
    return user_factory()


@pytest.fixture
def logged_in(auth, user):
    """A client logged in as ``user``."""
    response = auth.login(user.email)
    assert response.status_code == 302, response.get_data(as_text=True)
    return auth.client


CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the whole run: Playwright's sync API allows one instance per thread."""
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (make chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
