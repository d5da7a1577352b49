"""``flask sandbox run``: serve the Stripe sandbox on its own port.

The portal registers ``sandbox_cli`` in its factory; the command itself needs no portal app context
(the sandbox is independent of the portal), so it runs with ``with_appcontext=False``.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask.cli import AppGroup
from werkzeug.serving import make_server

from portal.sandbox.app import create_sandbox_app
from portal.sandbox.delivery import MODES

sandbox_cli = AppGroup("sandbox", help="The built-in Stripe sandbox.")


def _default_database() -> str:
    return os.environ.get("SANDBOX_DATABASE") or str(Path("instance") / "sandbox.sqlite")


@sandbox_cli.command("run", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=12111, show_default=True, type=int)
@click.option("--database", default=_default_database, help="SQLite file [env SANDBOX_DATABASE].")
@click.option(
    "--webhook-url",
    default=lambda: os.environ.get("SANDBOX_WEBHOOK_URL", "http://127.0.0.1:5000/webhooks/stripe"),
    help="Where events are POSTed; 'none' records them only [env SANDBOX_WEBHOOK_URL].",
)
@click.option(
    "--webhook-secret",
    default=lambda: os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_sandbox"),
    help="Signing secret [env STRIPE_WEBHOOK_SECRET].",
)
@click.option("--delivery-mode", type=click.Choice(MODES), default="ordered", show_default=True)
def run(
    host: str, port: int, database: str, webhook_url: str, webhook_secret: str, delivery_mode: str
) -> None:
    """Serve the sandbox API, Stripe.js and hosted pages (threaded)."""
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    url = None if webhook_url.lower() in ("", "none") else webhook_url
    app = create_sandbox_app(database, url, webhook_secret, delivery_mode=delivery_mode)
    server = make_server(host, port, app, threaded=True)
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
