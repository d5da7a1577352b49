"""dj-stripe as its documentation sets it up, pointed at the bench's sandbox (see bench/README.md, "peers").

Environment: ``PEER_DATABASE`` (a SQLite file path or a ``postgresql://`` URL), ``PEER_STRIPE_API_BASE``
(the sandbox's address).
"""

import os
from urllib.parse import urlsplit

import stripe

SECRET_KEY = "bench-peer-django-key-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "djstripe"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "djpeer.urls"
WSGI_APPLICATION = "djpeer.wsgi.application"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_database = os.environ.get("PEER_DATABASE", "peer.sqlite")
if _database.startswith("postgresql://"):
    _url = urlsplit(_database)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _url.path.lstrip("/"),
            "USER": _url.username or "postgres",
            "PASSWORD": _url.password or "",
            "HOST": _url.hostname or "127.0.0.1",
            "PORT": str(_url.port or 5432),
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _database,
            # Django's default (deferred) transactions left 100 of 300 events "database is locked".
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }

# dj-stripe: test mode, the signature checked locally (no Stripe call to validate an event).
STRIPE_LIVE_MODE = False
# dj-stripe refuses a key shorter than sk_test_ + 24 characters; the sandbox takes any sk_test_ key.
STRIPE_TEST_SECRET_KEY = "sk_test_" + "benchpeer" * 3
DJSTRIPE_WEBHOOK_VALIDATION = "verify_signature"
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
STRIPE_API_HOST = os.environ.get("PEER_STRIPE_API_BASE", "http://127.0.0.1:12111")
stripe.api_base = STRIPE_API_HOST
stripe.max_network_retries = 1  # as the portal's gateway

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
