"""The sandbox's own defaults: its address, the keys it hands out and the webhook signing secret.

The portal keeps its own copy of these values in ``config.py`` (it must not import the sandbox, nor
the sandbox the portal); ``tests/sandbox/test_package.py`` checks the two copies agree.
"""

from __future__ import annotations

#: The sandbox accepts any key starting ``sk_test_``; this one marks "no real Stripe".
SECRET_KEY = "sk_test_sandbox"
PUBLISHABLE_KEY = "pk_test_sandbox"
WEBHOOK_SECRET = "whsec_sandbox"

HOST = "127.0.0.1"
PORT = 12111
ADDRESS = f"http://{HOST}:{PORT}"

#: Where ``python -m stripe_sandbox run`` delivers events unless told otherwise (``make run``'s portal).
WEBHOOK_URL = "http://127.0.0.1:5000/webhooks/stripe"
#: Its state, relative to the working directory (the portal's instance folder under ``make run``).
DATABASE = "instance/sandbox.sqlite"
