"""Migrate a fresh database and add what dj-stripe needs before its first event (run in the peer's venv).

- the Account the API key belongs to: dj-stripe reads it with ``GET /v1/account`` on the first event,
  which the sandbox does not serve, so it is stored here (a stub, as dj-stripe itself makes one);
- the APIKey row tying the test key to that Account;
- the WebhookEndpoint (fixed UUID, the bench's signing secret) whose URL the events are sent to.
"""

import os
import sys

import django

ENDPOINT_UUID = "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
ACCOUNT_ID = "acct_benchpeer000000000"


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djpeer.settings")
    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    if "--migrate-only" in sys.argv:
        return
    from djstripe.models import Account, APIKey, WebhookEndpoint

    account, _ = Account.objects.get_or_create(id=ACCOUNT_ID, defaults={"livemode": False})
    key, _ = APIKey.objects.get_or_create_by_api_key(settings.STRIPE_TEST_SECRET_KEY)
    key.djstripe_owner_account = account
    key.save()
    WebhookEndpoint.objects.get_or_create(
        id="we_benchpeer000000000000",
        defaults={
            "livemode": False,
            "djstripe_owner_account": account,
            "djstripe_uuid": ENDPOINT_UUID,
            "secret": os.environ.get("PEER_WEBHOOK_SECRET", "whsec_bench"),
            "url": "http://127.0.0.1/stripe/webhook/" + ENDPOINT_UUID + "/",
            "api_version": "",
            "enabled_events": ["*"],
            "status": "enabled",
        },
    )


if __name__ == "__main__":
    main()
