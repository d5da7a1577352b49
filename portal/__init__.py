"""The practice billing portal: ``create_app`` reads as the table of contents."""

from __future__ import annotations

import functools
import logging
import os

from flask import Flask, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from config import (
    CONFIGS,
    SANDBOX_API_BASE,
    SANDBOX_PUBLISHABLE_KEY,
    SANDBOX_SECRET_KEY,
    SANDBOX_WEBHOOK_SECRET,
    Config,
)


def create_app(config_class: type[Config] | str | None = None, **overrides: object) -> Flask:
    if config_class is None or isinstance(config_class, str):
        config_class = CONFIGS[config_class or os.environ.get("PORTAL_ENV", "development")]
    if hasattr(config_class, "validate"):
        config_class.validate()

    app = Flask(
        __name__,
        template_folder="../templates",
        static_folder="../static",
        instance_relative_config=True,
    )
    app.config.from_object(config_class)
    app.config.update(overrides)
    os.makedirs(app.instance_path, exist_ok=True)
    configure_database_url(app)
    configure_database_pool(app)
    configure_stripe(app)
    configure_proxies(app)

    observe_requests(app)  # first: its clock and request id start before any other hook may answer
    limit_request_bodies(app)
    run_work_after_responses(app)
    register_extensions(app)
    register_url_converters(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_template_context(app)
    configure_logging(app)
    return app


def configure_database_url(app: Flask) -> None:
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        path = os.path.join(app.instance_path, "portal.sqlite")
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgres://") or uri.startswith("postgresql://"):
        # psycopg 3 is the driver we ship.
        app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + uri.split("://", 1)[1]
    if uri.startswith("sqlite"):
        # SQLite: wait for a writer instead of failing with "database is locked".
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}


def configure_database_pool(app: Flask) -> None:
    """DATABASE_POOL_SIZE (gunicorn.conf.py sets it to the threads per worker): every thread can hold
    a connection at once, so a page never waits for one held by a request that waits on Stripe."""
    size = int(app.config.get("DATABASE_POOL_SIZE") or 0)
    if size > 0:
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            **app.config["SQLALCHEMY_ENGINE_OPTIONS"],
            "pool_size": size,
        }


def configure_stripe(app: Flask) -> None:
    """No secret key: the built-in sandbox, with its keys and address."""
    cfg = app.config
    sandbox = not cfg.get("STRIPE_SECRET_KEY")
    cfg["STRIPE_SANDBOX"] = sandbox
    if sandbox:
        cfg["STRIPE_SECRET_KEY"] = SANDBOX_SECRET_KEY
        cfg["STRIPE_PUBLISHABLE_KEY"] = cfg.get("STRIPE_PUBLISHABLE_KEY") or SANDBOX_PUBLISHABLE_KEY
        cfg["STRIPE_WEBHOOK_SECRET"] = cfg.get("STRIPE_WEBHOOK_SECRET") or SANDBOX_WEBHOOK_SECRET
        cfg["STRIPE_API_BASE"] = cfg.get("STRIPE_API_BASE") or SANDBOX_API_BASE
    base = cfg.get("STRIPE_API_BASE") or "https://api.stripe.com"
    cfg["STRIPE_API_BASE_EFFECTIVE"] = base.rstrip("/")
    cfg["STRIPE_JS_URL"] = (
        f"{base.rstrip('/')}/v3/" if cfg.get("STRIPE_API_BASE") else "https://js.stripe.com/v3/"
    )


def configure_proxies(app: Flask) -> None:
    """Trust X-Forwarded-* from exactly TRUSTED_PROXIES hops (none by default)."""
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)


def limit_request_bodies(app: Flask) -> None:
    from portal.request_limits import init_request_limits

    init_request_limits(app)


def observe_requests(app: Flask) -> None:
    """Metrics for every request (by URL rule), and its id on its log records and in its answer."""
    from portal.access_log import init_request_log
    from portal.metrics import init_metrics

    init_metrics(app)
    init_request_log(app)


def run_work_after_responses(app: Flask) -> None:
    from portal.after_response import init_after_response

    init_after_response(app)


def register_extensions(app: Flask) -> None:
    from portal import i18n, throttle
    from portal.auth.services import load_session_user
    from portal.database import enforce_foreign_keys, server_default_comparison
    from portal.extensions import csrf, db, login_manager, mail, migrate
    from portal.jobs import queue as job_queue
    from portal.mail import outbox
    from portal.security import init_csrf_tokens, init_security_headers
    from portal.users.lookup import mail_reading
    from portal.webhooks import services as webhook_inbox

    import_models()

    db.init_app(app)
    with app.app_context():
        dialect = db.engine.dialect.name
        enforce_foreign_keys(db.engine)
    migrate.init_app(
        app,
        db,
        directory=os.path.join(os.path.dirname(app.root_path), "migrations"),
        render_as_batch=True,
        compare_server_default=server_default_comparison(dialect),
    )
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Log in to see that page.")
    login_manager.login_message_category = "info"
    csrf.init_app(app)
    init_csrf_tokens(app)
    i18n.init_app(app)  # Flask-Babel: the reader's language and time zone
    throttle.init_app(app)  # names the portal-database:// storage, then binds the limiter
    mail.init_app(app)
    outbox.init_app(app, reader=mail_reading)  # every email in its recipient's language and zone
    webhook_inbox.init_app(app)
    job_queue.init_app(app)  # Celery: the jobs, their schedule; QUEUE_URL unset: in-process
    login_manager.user_loader(load_session_user)
    login_manager.unauthorized_handler(unauthorized)
    init_security_headers(app)

    from portal.gateway.gateway import init_stripe_client

    init_stripe_client(app)


def import_models() -> None:
    """Every feature's models, so metadata (and Alembic) sees the whole schema."""
    import portal.auth.api_tokens
    import portal.customers.models
    import portal.jobs.models
    import portal.mail.models
    import portal.practices.models
    import portal.shop.models
    import portal.throttle  # the throttle counters, and the portal-database:// storage they back
    import portal.users.models
    import portal.wallet.models
    import portal.webhooks.models  # noqa: F401


def register_url_converters(app: Flask) -> None:
    from portal.urls import init_id_converter

    init_id_converter(app)


def register_blueprints(app: Flask) -> None:
    from portal.admin.views import bp as admin_bp
    from portal.api.views import bp as api_bp
    from portal.auth.views import bp as auth_bp
    from portal.extensions import csrf, limiter
    from portal.main.views import bp as main_bp
    from portal.practices.views import bp as practices_bp
    from portal.shop.views import bp as shop_bp
    from portal.wallet.views import bp as wallet_bp
    from portal.webhooks.views import bp as webhooks_bp

    for blueprint in (main_bp, auth_bp, wallet_bp, api_bp, webhooks_bp, admin_bp, practices_bp, shop_bp):
        app.register_blueprint(blueprint)
    csrf.exempt(api_bp)  # bearer tokens, no cookies: nothing for a forged cross-site form to ride on
    csrf.exempt(webhooks_bp)  # Stripe signs its requests; there is no browser session to forge
    limiter.exempt(webhooks_bp)  # Stripe's bursts and retries must never be throttled away
    if app.config.get("DEV_INBOX"):  # never in production
        from portal.mail.views import bp as dev_inbox_bp

        app.register_blueprint(dev_inbox_bp)


def _end_failed_transaction(code: int) -> None:
    """A 500 may come from a failed write, which leaves the session unusable until rolled back:
    roll back, so the error page itself can render (it reads the signed-in user)."""
    if code >= 500:
        from portal.extensions import db

        db.session.rollback()


def register_errorhandlers(app: Flask) -> None:
    from flask_login import current_user
    from flask_wtf.csrf import CSRFError

    from portal import htmx
    from portal.api import envelope
    from portal.errors import UserError, page_words
    from portal.request_limits import too_large_message

    def render_error(error):
        code = getattr(error, "code", 500) or 500
        _end_failed_transaction(code)
        description = getattr(error, "description", None) or _l("Something went wrong.")
        if code == 413:  # werkzeug's own words when a chunked body runs over
            description = too_large_message(app.config)
        if wants_json():  # the API's envelope (its own handlers yield to these per-code ones)
            return envelope.fail(code, getattr(error, "name", "error").lower().replace(" ", "_"), description)
        description = page_words(description)  # werkzeug's words too, in the reader's language
        if htmx.is_htmx():  # an error page would not be swapped in: say it in the page's messages
            return htmx.refusal(description)
        return render_template("errors/error.html", code=code, description=description), code

    for code in (400, 403, 404, 405, 409, 413, 422, 429, 500):
        app.register_error_handler(code, render_error)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        if htmx.is_htmx() and not current_user.is_authenticated:  # its session ended meanwhile
            return htmx.signed_out(login_again_url())
        description = _("Your form expired or was sent from elsewhere. Reload the page and try again.")
        if htmx.is_htmx():
            return htmx.refusal(description)
        return render_template("errors/error.html", code=400, description=description), 400

    @app.errorhandler(UserError)
    def refused(error: UserError):
        """Every feature's refusal that its view lets through: one answer for the API, one for pages."""
        if request.blueprint == "api" or wants_json():
            return envelope.fail(error.status, error.code, error.message)
        if htmx.is_htmx():
            return htmx.refusal(error.message)
        return render_template(
            "errors/error.html", code=error.status, description=error.message
        ), error.status


def login_again_url() -> str:
    """The login page, coming back to the page the person is on (htmx tells which)."""
    from urllib.parse import urlsplit

    from flask_login import login_url

    page = urlsplit(request.headers.get("HX-Current-URL", ""))
    if page.netloc != request.host or not page.path.startswith("/"):
        return url_for("auth.login")
    return login_url("auth.login", next_url=page.path + (f"?{page.query}" if page.query else ""))


def unauthorized():
    """``login_required`` refused: htmx hears "You were signed out" in the page's messages, a page
    goes to the login page (with the message and a way back, as Flask-Login would)."""
    from flask import flash, redirect
    from flask_login import login_url

    from portal import htmx
    from portal.extensions import login_manager

    if htmx.is_htmx():
        return htmx.signed_out(login_again_url())
    flash(str(login_manager.login_message), login_manager.login_message_category)
    return redirect(login_url(login_manager.login_view, next_url=request.url))


def wants_json() -> bool:
    """A machine (Stripe, an API client) sent this request: answer errors in JSON, not a page."""
    accepts = request.accept_mimetypes.best_match(["text/html", "application/json"])
    bearer = request.authorization is not None and request.authorization.type == "bearer"
    return request.is_json or bearer or accepts == "application/json"


def register_commands(app: Flask) -> None:
    from portal.cli import billing_cli, create_admin_command, seed_demo_command
    from portal.shop.cli import shop_cli
    from portal.webhooks.cli import webhooks_cli

    app.cli.add_command(create_admin_command)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(billing_cli)
    app.cli.add_command(webhooks_cli)
    app.cli.add_command(shop_cli)


#: Top navigation: (endpoint, label, admins only). Links whose feature is absent are skipped.
NAVIGATION = (
    ("auth.account", _l("Account"), False),
    ("practices.index", _l("Practices"), False),
    ("shop.products", _l("Shop"), False),
    ("shop.orders", _l("Orders"), False),
    ("admin.index", _l("Admin"), True),
)


def register_template_context(app: Flask) -> None:
    from portal.formatting import format_date, format_money, format_percent
    from portal.i18n import LOCALE_NAMES, current_locale
    from portal.pages import register_page_helpers
    from portal.urls import init_cached_urls
    from portal.words import register_words

    init_cached_urls(app)

    app.add_template_filter(format_money, "money")
    app.add_template_filter(format_percent, "percent")
    app.add_template_filter(format_date, "day")
    from portal.jobs.report_lines import report_lines
    from portal.practices.discounts import discount_lines
    from portal.practices.prices import charged_words
    from portal.promotions.words import discount_words

    app.add_template_filter(discount_words, "discount_terms")  # "30% off for 3 months"
    app.add_template_global(discount_lines, "discount_lines")  # ["30% off until 28 Feb 2027", ...]
    app.add_template_global(charged_words, "charged_price")  # "$99.00 per month, $49.50 until ..."
    app.add_template_filter(report_lines, "report_lines")  # the nightly report's lines, in words
    app.add_template_global(current_locale)  # <html lang>, the language switcher
    app.add_template_global(LOCALE_NAMES, "locale_names")
    register_words(app)  # status labels and the date-and-time format
    register_page_helpers(app)

    from portal.practices.banners import practice_banners
    from portal.practices.intents import new_key

    #: Callables returning the banners (dicts with a ``template``) for the current user.
    app.extensions["banner_providers"] = [practice_banners]
    app.add_template_global(new_key, "intent_key")  # a billing form's once-only key

    @functools.lru_cache(maxsize=64)
    def navigation(script_root: str, is_admin: bool) -> list[tuple[str, str, str]]:
        return [
            (endpoint, url_for(endpoint), label)
            for endpoint, label, admin_only in NAVIGATION
            if endpoint in app.view_functions and (is_admin or not admin_only)
        ]

    # Both take the template's ``current_user`` (the user itself, not Flask-Login's proxy).
    def nav_links(user) -> list[tuple[str, str, str]]:
        """(endpoint, URL, label) of the top navigation: the same for every user of a role."""
        return navigation(request.script_root, getattr(user, "is_admin", False))

    def page_banners(user) -> list[dict]:
        if not user.is_authenticated:
            return []
        return [banner for provider in app.extensions["banner_providers"] for banner in provider(user)]

    @app.context_processor
    def inject_layout_helpers() -> dict:
        return {
            "stripe_publishable_key": app.config["STRIPE_PUBLISHABLE_KEY"],
            "stripe_js_url": app.config["STRIPE_JS_URL"],
            "stripe_js_timeout_ms": int(app.config["STRIPE_JS_LOAD_TIMEOUT_SECONDS"] * 1000),
            "nav_links": nav_links,
            "page_banners": page_banners,
        }


def configure_logging(app: Flask) -> None:
    # The SDK logs request and response bodies at DEBUG; keep them out of our logs.
    logging.getLogger("stripe").setLevel(logging.WARNING)
    # `flask run`'s request lines: no reset or email-change token in them (gunicorn: its logger_class).
    from portal.access_log import install_on_werkzeug_logger

    install_on_werkzeug_logger()
    from portal.logs import configure_logging as configure_handlers

    configure_handlers(app)  # LOG_FORMAT: readable lines, or one JSON object per line
