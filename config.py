"""Configuration classes. Every setting comes from an environment variable.

Development and Testing have safe defaults; Production fails closed when a
secret it cannot work without is missing.
"""

from __future__ import annotations

import os


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    return int(_env(name, str(default)))


def _env_float(name: str, default: float) -> float:
    return float(_env(name, str(default)))


def _env_bool(name: str, default: bool) -> bool:
    return (_env(name, "1" if default else "0") or "").lower() in {"1", "true", "yes", "on"}


#: The sandbox accepts any key starting ``sk_test_``; this one marks "no real Stripe".
#: The portal's copy of the sandbox's defaults (``stripe_sandbox/defaults.py``): the portal talks to
#: the sandbox only as it talks to Stripe, so it imports nothing from it; a test checks they agree.
SANDBOX_SECRET_KEY = "sk_test_sandbox"
SANDBOX_PUBLISHABLE_KEY = "pk_test_sandbox"
SANDBOX_WEBHOOK_SECRET = "whsec_sandbox"
SANDBOX_API_BASE = "http://127.0.0.1:12111"


class Config:
    SECRET_KEY = _env("SECRET_KEY", "dev-only-not-secret")
    SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL")  # None: a SQLite file in the instance folder
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    DATABASE_POOL_SIZE = _env_int("DATABASE_POOL_SIZE", 0)  # 0: SQLAlchemy's default (5, +10 overflow)

    # Stripe: with no secret key the portal runs against the built-in sandbox.
    STRIPE_SECRET_KEY = _env("STRIPE_SECRET_KEY")
    STRIPE_PUBLISHABLE_KEY = _env("STRIPE_PUBLISHABLE_KEY")
    STRIPE_WEBHOOK_SECRET = _env("STRIPE_WEBHOOK_SECRET")  # "whsec_new,whsec_old" during a rotation
    STRIPE_API_BASE = _env("STRIPE_API_BASE")
    # A hung Stripe must not hang the portal (see portal/gateway/gateway.py). Each call waits at most
    # the connect timeout for a connection and the read timeout for each answer; retries happen only
    # while they fit in the budget, which all the Stripe calls of one web request share: a page or an
    # action that needs Stripe answers within STRIPE_ACTION_BUDGET_SECONDS, whatever Stripe does.
    STRIPE_CONNECT_TIMEOUT_SECONDS = _env_float("STRIPE_CONNECT_TIMEOUT_SECONDS", 2)
    STRIPE_READ_TIMEOUT_SECONDS = _env_float("STRIPE_READ_TIMEOUT_SECONDS", 8)
    # 9.5: the promise is an answer within 10 s; half a second is left for the request's own work.
    STRIPE_ACTION_BUDGET_SECONDS = _env_float("STRIPE_ACTION_BUDGET_SECONDS", 9.5)
    STRIPE_MAX_NETWORK_RETRIES = _env_int("STRIPE_MAX_NETWORK_RETRIES", 1)
    # Stripe.js loads beside the page, never blocking it; a card form still not there after this
    # long says "Card form unavailable, try later" (the browser may still finish loading it).
    STRIPE_JS_LOAD_TIMEOUT_SECONDS = _env_float("STRIPE_JS_LOAD_TIMEOUT_SECONDS", 15)
    # A 429 (Stripe's rate limit) is retried this often with the SDK's back-off, inside the budget.
    STRIPE_RATE_LIMIT_RETRIES = _env_int("STRIPE_RATE_LIMIT_RETRIES", 4)
    # After this many timeouts/connection failures in a row, Stripe calls fail at once for the
    # cool-down, then one trial call decides (per process: each gunicorn worker has its own).
    STRIPE_BREAKER_THRESHOLD = _env_int("STRIPE_BREAKER_THRESHOLD", 5)
    STRIPE_BREAKER_COOLDOWN_SECONDS = _env_float("STRIPE_BREAKER_COOLDOWN_SECONDS", 30)

    # Plans (minor units); `flask billing bootstrap` creates them by lookup key.
    BILLING_CURRENCY = _env("BILLING_CURRENCY", "usd")
    BILLING_ONBOARDING_FEE = _env_int("BILLING_ONBOARDING_FEE", 49900)
    BILLING_MONTHLY_PRICE = _env_int("BILLING_MONTHLY_PRICE", 9900)
    BILLING_SEMIANNUAL_PRICE = _env_int("BILLING_SEMIANNUAL_PRICE", 49900)
    # The other currencies a practice may be priced in (each with its BILLING_<CUR>_* prices).
    BILLING_OTHER_CURRENCIES = ("vnd",)
    # The same in Vietnamese dong (zero-decimal at Stripe: the amount is in dong), lookup keys
    # ``onboarding_fee_vnd``, ``plan_monthly_vnd``, ``plan_semiannual_vnd``.
    BILLING_VND_ONBOARDING_FEE = _env_int("BILLING_VND_ONBOARDING_FEE", 4_990_000)
    BILLING_VND_MONTHLY_PRICE = _env_int("BILLING_VND_MONTHLY_PRICE", 990_000)
    BILLING_VND_SEMIANNUAL_PRICE = _env_int("BILLING_VND_SEMIANNUAL_PRICE", 4_990_000)
    # Free trial days of a practice's first subscription, per plan (0: none); the onboarding fee is
    # still charged at the start, the plan when the trial ends.
    PLAN_TRIAL_DAYS_MONTHLY = _env_int("PLAN_TRIAL_DAYS_MONTHLY", 0)
    PLAN_TRIAL_DAYS_SEMIANNUAL = _env_int("PLAN_TRIAL_DAYS_SEMIANNUAL", 0)
    # A plan switch made now (either direction) at most once per this many days per practice
    # (portal/practices/switch_now.py); a switch at the period's end is not limited.
    PLAN_SWITCH_NOW_EVERY_DAYS = _env_int("PLAN_SWITCH_NOW_EVERY_DAYS", 30)

    # Language and time zone when nothing chooses them (portal/i18n.py: the person's choice, the
    # browser's Accept-Language, a practice's zone come first). Catalogues: translations/ (make i18n-compile).
    BABEL_DEFAULT_LOCALE = _env("BABEL_DEFAULT_LOCALE", "en")
    BABEL_DEFAULT_TIMEZONE = _env("BABEL_DEFAULT_TIMEZONE", "UTC")
    BABEL_TRANSLATION_DIRECTORIES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "translations")

    MAIL_SERVER = _env("MAIL_SERVER")
    MAIL_PORT = _env_int("MAIL_PORT", 25)
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", False)
    MAIL_USERNAME = _env("MAIL_USERNAME")
    MAIL_PASSWORD = _env("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = _env("MAIL_DEFAULT_SENDER", "Practice Billing <billing@localhost>")
    # Seconds an SMTP server gets to connect and to answer each command; a hung one fails the send
    # (the email waits for `flask billing send-emails`) instead of holding a thread for minutes.
    MAIL_TIMEOUT = _env_float("MAIL_TIMEOUT", 10)
    # Tests talk to a real SMTP server on loopback, so sending is never suppressed.
    MAIL_SUPPRESS_SEND = False
    #: With no MAIL_SERVER, outside production, emails stay in the outbox and /dev/inbox shows them.
    DEV_INBOX = True

    # Throttle counters: the portal's own database by default, shared by every worker and host
    # (portal/throttle.py); "redis://host:6379/0" keeps them in Redis. Never "memory://" in
    # production: each worker would count alone.
    RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "portal-database://")
    RATELIMIT_HEADERS_ENABLED = True
    # Every limit counts attempts per fixed window that opens at the first one (README, Throttles).
    LOGIN_THROTTLE = _env("LOGIN_THROTTLE", "5 per minute")  # failed logins per client address
    LOGIN_EMAIL_THROTTLE = _env("LOGIN_EMAIL_THROTTLE", "20 per hour")  # failed logins per account email
    REGISTER_THROTTLE = _env("REGISTER_THROTTLE", "10 per hour")  # registrations per client address
    REGISTER_EMAIL_THROTTLE = _env("REGISTER_EMAIL_THROTTLE", "3 per hour")  # per email registered
    RESET_THROTTLE = _env("RESET_THROTTLE", "5 per minute")  # reset-link requests per client address
    RESET_EMAIL_THROTTLE = _env("RESET_EMAIL_THROTTLE", "3 per hour")  # reset-link requests per email
    INVITE_PRACTICE_THROTTLE = _env("INVITE_PRACTICE_THROTTLE", "20 per hour")  # invitations per practice
    INVITE_INVITER_THROTTLE = _env("INVITE_INVITER_THROTTLE", "10 per hour")  # invitations per inviter
    # Wrong current passwords per account (email change, password change, account deletion).
    CURRENT_PASSWORD_THROTTLE = _env("CURRENT_PASSWORD_THROTTLE", "5 per 15 minutes")
    # Email-change requests per account and per new address (each one emails that address).
    EMAIL_CHANGE_THROTTLE = _env("EMAIL_CHANGE_THROTTLE", "3 per hour")

    # argon2id; defaults are above OWASP's minimum (m=19 MiB, t=2, p=1).
    ARGON2_TIME_COST = _env_int("ARGON2_TIME_COST", 3)
    ARGON2_MEMORY_COST_KIB = _env_int("ARGON2_MEMORY_COST_KIB", 65536)
    ARGON2_PARALLELISM = _env_int("ARGON2_PARALLELISM", 4)

    PASSWORD_RESET_MAX_AGE = _env_int("PASSWORD_RESET_MAX_AGE", 3600)
    EMAIL_VERIFY_MAX_AGE = _env_int("EMAIL_VERIFY_MAX_AGE", 7 * 24 * 3600)
    API_TOKEN_TTL_SECONDS = _env_int("API_TOKEN_TTL_SECONDS", 24 * 3600)

    # Request bodies: no page takes an upload and Stripe's events are far below 1 MB. Bigger
    # bodies are refused (413) before they are read.
    MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 1024 * 1024)
    MAX_FORM_MEMORY_SIZE = _env_int("MAX_FORM_MEMORY_SIZE", 64 * 1024)  # per form field
    MAX_FORM_PARTS = _env_int("MAX_FORM_PARTS", 200)

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PREFERRED_URL_SCHEME = _env("PREFERRED_URL_SCHEME", "http")
    #: How many reverse proxies in front of the app set X-Forwarded-For/-Proto/-Host/-Port.
    #: 0 trusts none of those headers; behind one TLS-terminating proxy set 1, so
    #: ``request.is_secure`` (HSTS, secure redirects) and the client address (throttling) are right.
    TRUSTED_PROXIES = _env_int("TRUSTED_PROXIES", 0)
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session

    # Operations (README, Operations): "json" writes one JSON object per log line and per request.
    LOG_FORMAT = (_env("LOG_FORMAT", "text") or "text").lower()
    # /metrics: with a token, only `Authorization: Bearer <token>`; without, only from this machine.
    METRICS_TOKEN = _env("METRICS_TOKEN")
    # /readyz: how long the database and Redis each get to answer.
    READINESS_TIMEOUT_SECONDS = _env_float("READINESS_TIMEOUT_SECONDS", 2)

    # The job queue (portal/jobs/, Celery). Unset: in-process, as the portal always worked (a
    # webhook applied inside its request, emails sent after the answer, a job called runs at once).
    # "redis://host:6379/1": the web processes store and enqueue, Celery workers on that broker apply.
    QUEUE_URL = _env("QUEUE_URL")
    # Where the scheduler (Celery beat) sends its jobs when QUEUE_URL is unset: kombu's SQLAlchemy
    # transport on a SQLite file in the instance folder, so `make run` needs no other server.
    QUEUE_LOCAL_BROKER = _env("QUEUE_LOCAL_BROKER")
    # The portal's address, for links in emails queued by a scheduled job (no request to take it from).
    PORTAL_URL = _env("PORTAL_URL", "http://127.0.0.1:5000/")
    # A failing job is retried this often, backing off exponentially (2, 4, 8 ... s, at most this).
    JOB_MAX_RETRIES = _env_int("JOB_MAX_RETRIES", 5)
    JOB_RETRY_BACKOFF_MAX_SECONDS = _env_int("JOB_RETRY_BACKOFF_MAX_SECONDS", 600)
    # Jobs a worker takes from Redis at once, per thread. A thread-pool worker fetches more only
    # when its event loop wakes, not when a thread frees up: taking one at a time, two workers of 8
    # threads applied 23 events a second with the CPU idle (the renewal storm); 16 at a time, one
    # worker applied about 100. A job taken and not yet run waits only while all threads are busy,
    # and goes back to the queue if the worker dies (acks late).
    QUEUE_PREFETCH_MULTIPLIER = _env_int("QUEUE_PREFETCH_MULTIPLIER", 16)
    # Seconds before Redis gives a killed worker's jobs to another (see portal/jobs/queue.py).
    QUEUE_VISIBILITY_TIMEOUT = _env_int("QUEUE_VISIBILITY_TIMEOUT", 3600)


class DevelopmentConfig(Config):
    DEBUG = False


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "testing-secret"
    # Cheap hashing keeps the suite fast; production parameters are tested separately.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST_KIB = 1024
    ARGON2_PARALLELISM = 1
    STRIPE_MAX_NETWORK_RETRIES = 0
    STRIPE_READ_TIMEOUT_SECONDS = 5
    MAIL_SERVER = None


class ProductionConfig(Config):
    DEV_INBOX = False
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"

    @classmethod
    def validate(cls) -> None:
        """Refuse to start without the secrets production cannot run safely without."""
        missing = [
            name
            for name, value in (
                ("SECRET_KEY", _env("SECRET_KEY")),
                ("DATABASE_URL", _env("DATABASE_URL")),
                ("STRIPE_WEBHOOK_SECRET", _env("STRIPE_WEBHOOK_SECRET")),
                # Production never falls back to the built-in sandbox.
                ("STRIPE_SECRET_KEY", _env("STRIPE_SECRET_KEY")),
                ("STRIPE_PUBLISHABLE_KEY", _env("STRIPE_PUBLISHABLE_KEY")),
            )
            if not value
        ]
        if missing:
            raise RuntimeError(f"Production configuration is missing: {', '.join(missing)}")


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
