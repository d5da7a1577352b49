"""``python -m stripe_sandbox run``: serve the Stripe sandbox on its own port.

A plain click group, not a ``flask`` command: the portal never imports the sandbox, so the sandbox
brings its own entry point (``stripe_sandbox/__main__.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from werkzeug.serving import make_server

from stripe_sandbox import defaults
from stripe_sandbox.app import SandboxRequestHandler, create_sandbox_app
from stripe_sandbox.delivery import MAX_CONCURRENCY, MODES


@click.group(help="The Stripe sandbox: a stand-in for api.stripe.com and js.stripe.com.")
def sandbox_cli() -> None:
    pass


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "1").lower() not in ("0", "false", "off", "no")


def _default_database() -> str:
    return os.environ.get("SANDBOX_DATABASE") or defaults.DATABASE


@sandbox_cli.command("run")
@click.option("--host", default=defaults.HOST, show_default=True)
@click.option("--port", default=defaults.PORT, show_default=True, type=int)
@click.option("--database", default=_default_database, help="SQLite file [env SANDBOX_DATABASE].")
@click.option(
    "--webhook-url",
    default=lambda: os.environ.get("SANDBOX_WEBHOOK_URL", defaults.WEBHOOK_URL),
    help="Where events are POSTed; 'none' records them only [env SANDBOX_WEBHOOK_URL].",
)
@click.option(
    "--webhook-secret",
    default=lambda: os.environ.get("STRIPE_WEBHOOK_SECRET", defaults.WEBHOOK_SECRET),
    help="Signing secret [env STRIPE_WEBHOOK_SECRET].",
)
@click.option("--delivery-mode", type=click.Choice(MODES), default="ordered", show_default=True)
@click.option(
    "--delivery-concurrency",
    type=click.IntRange(1, MAX_CONCURRENCY),
    default=lambda: int(os.environ.get("SANDBOX_DELIVERY_CONCURRENCY", "1")),
    show_default="1",
    help="Deliveries in flight at once; Stripe sends several [env SANDBOX_DELIVERY_CONCURRENCY].",
)
@click.option(
    "--strict/--no-strict",
    default=lambda: _env_flag("SANDBOX_STRICT"),
    help="Reject parameters Stripe would reject (default on) [env SANDBOX_STRICT=0 turns it off].",
)
@click.option(
    "--rate-limit/--no-rate-limit",
    default=lambda: _env_flag("SANDBOX_RATE_LIMIT"),
    help="Stripe's test-mode limit, 25 requests/s (default on) [env SANDBOX_RATE_LIMIT=0 turns it off].",
)
def run(
    host: str,
    port: int,
    database: str,
    webhook_url: str,
    webhook_secret: str,
    delivery_mode: str,
    delivery_concurrency: int,
    strict: bool,
    rate_limit: bool,
) -> None:
    """Serve the sandbox API, Stripe.js and hosted pages (threaded)."""
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    url = None if webhook_url.lower() in ("", "none") else webhook_url
    app = create_sandbox_app(
        database,
        url,
        webhook_secret,
        delivery_mode=delivery_mode,
        delivery_concurrency=delivery_concurrency,
        strict=strict,
        rate_limit=rate_limit,
    )
    server = make_server(host, port, app, threaded=True, request_handler=SandboxRequestHandler)
    click.echo(
        f"Stripe sandbox on http://{host}:{server.server_port} (database {database}, webhooks -> {url})"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        app.extensions["stripe_sandbox"].close()
