"""``flask webhooks ...``: operate the inbox from a shell."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.webhooks import services

webhooks_cli = AppGroup("webhooks", help="The Stripe webhook inbox.")


@webhooks_cli.command("replay")
@click.argument("event_id")
@click.option("--force", is_flag=True, help="Also re-run an event already processed or ignored.")
def replay_command(event_id: str, force: bool) -> None:
    """Run the handler of the stored event EVENT_ID (evt_...) again and print the outcome."""
    outcome = services.replay_event(event_id, force=force)
    row = services.find_event(event_id)
    if outcome is services.Outcome.NOT_FOUND:
        raise click.ClickException(f"no event {event_id} in the inbox")
    if outcome is services.Outcome.DUPLICATE:
        click.echo(f"{event_id}: already {row.status.value}; nothing to do (use --force to run it again)")
        return
    click.echo(f"{event_id} ({row.type}): {outcome.value}, attempts {row.attempts}")
    if outcome is services.Outcome.FAILED:
        raise click.ClickException(row.last_error or "the handler failed")
