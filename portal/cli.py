"""``flask`` commands: admin creation, demo data, and the billing maintenance group."""

from __future__ import annotations

import secrets

import click
from flask.cli import AppGroup, with_appcontext

from portal.auth import services as accounts
from portal.extensions import db
from portal.practices.demo import seed_practices
from portal.shop.cli import seed_products
from portal.users.models import Role

billing_cli = AppGroup("billing", help="Stripe maintenance: retries, plans, reconciliation.")

DEMO_PASSWORD = "demo-password-123"
MIN_PASSWORD_LENGTH = 10
DEMO_USERS = (
    ("Dana Owner", "owner@example.com", Role.USER),
    ("Alex Patient", "user@example.com", Role.USER),
    ("Pat Admin", "admin@example.com", Role.ADMIN),
)


@click.command("create-admin")
@click.argument("email")
@click.option("--name", default="Platform Admin", show_default=True)
@click.option("--password", default=None, help="Defaults to a random one, printed once.")
@with_appcontext
def create_admin_command(email: str, name: str, password: str | None) -> None:
    """Create a platform admin, or promote the existing account with EMAIL."""
    user = accounts.find_user_by_email(email)
    if user is not None:
        user.role = Role.ADMIN
        db.session.commit()
        click.echo(f"{user.email} is now a platform admin.")
        return
    generated = password is None
    password = password or secrets.token_urlsafe(12)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.BadParameter(f"use at least {MIN_PASSWORD_LENGTH} characters", param_hint="--password")
    user = accounts.register_user(name, email, password, role=Role.ADMIN, verified=True)
    click.echo(f"Created platform admin {user.email}.")
    if generated:
        click.echo(f"Password: {password}")


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Demo users, a practice and products; running it again changes nothing."""
    for name, email, role in DEMO_USERS:
        if accounts.find_user_by_email(email) is None:
            accounts.register_user(name, email, DEMO_PASSWORD, role=role, verified=True)
            click.echo(f"created {email} (password: {DEMO_PASSWORD})")
    seed_practices()  # the plans at Stripe, and a practice with the three users
    seed_products()
    click.echo("Demo data is in place.")


@billing_cli.command("retry")
@with_appcontext
def retry_command() -> None:
    """Create, update or delete the Stripe customers that an outage left pending, and learn the
    outcome of billing changes Stripe did not answer (sent again with the same Idempotency-Key),
    settle the invoices an ended subscription left open (marked uncollectible, or void if closed),
    and apply the webhook events stored but never applied. The scheduled retry job's work, once."""
    from portal.jobs.tasks import retry_pending

    done = retry_pending()
    click.echo(f"synced {done['customers']}, still pending {done['customers_pending']}")
    click.echo(f"practices synced {done['practices']}, still pending {done['practices_pending']}")
    click.echo(f"billing changes confirmed {done['confirmed']}, still unconfirmed {done['unconfirmed']}")
    click.echo(
        "practices whose ended subscription left invoices open: "
        f"settled {done['settled']}, still open {done['left_open']}"
    )
    click.echo(f"webhook events stored but never applied, sent again: {done['stranded_events']}")


@billing_cli.command("bootstrap")
@with_appcontext
def bootstrap_command() -> None:
    """Create the onboarding fee and plan prices (by lookup key) in the configured Stripe; idempotent."""
    from portal.practices.plans import bootstrap_plans

    for lookup_key, price_id, created in bootstrap_plans():
        click.echo(f"{lookup_key}: {price_id} ({'created' if created else 'exists'})")


@billing_cli.command("send-emails")
@click.option(
    "--min-age", default=0, show_default=True, help="Only emails queued at least this many seconds ago."
)
@with_appcontext
def send_emails_command(min_age: int) -> None:
    """Send billing emails still unsent (the SMTP server was down, or the process died)."""
    from portal.mail.outbox import send_unsent

    sent, remaining = send_unsent(min_age_seconds=min_age)
    click.echo(f"sent {sent}, unsent {remaining}")


@billing_cli.command("reconcile")
@click.option("--fix", is_flag=True, help="Repair the drift and apply the missing events.")
@click.option(
    "--since", type=int, default=None, help="Compare events created since this Unix time (default: 30 days)."
)
@with_appcontext
def reconcile_command(fix: bool, since: int | None) -> None:
    """Compare every practice's and user's billing with Stripe; print the drift (and repair it with --fix).

    Safe to run any time: without --fix nothing changes, and a second --fix finds nothing.
    """
    from portal.webhooks import reconcile

    missing = reconcile.missing_events(since)
    for event in missing:
        click.echo(f"missing event {event['id']} {event['type']} created {event['created']}")
    if missing and fix:
        outcomes = reconcile.apply_events(missing)
        click.echo("applied events: " + ", ".join(f"{k.value} {v}" for k, v in sorted(outcomes.items())))

    drifts = []
    targets = reconcile.targets()
    view = reconcile.StripeView.read()  # every subscription and invoice, in pages of 100
    with click.progressbar(targets, label="Comparing with Stripe", show_pos=True) as bar:
        for target in bar:
            drifts.extend(reconcile.reconcile_target(target, fix=fix, view=view))
    for drift in drifts:
        click.echo(str(drift))
    owners = len({drift.target for drift in drifts})
    if not drifts and not missing:
        click.echo(f"no drift: {len(targets)} checked")
    elif fix:
        click.echo(
            f"repaired {len(drifts)} differences in {owners} of {len(targets)}; {len(missing)} events applied"
        )
    else:
        click.echo(
            f"{len(drifts)} differences in {owners} of {len(targets)}; {len(missing)} events missing. "
            "Run with --fix to repair."
        )
