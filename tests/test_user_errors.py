"""One way to refuse: every refusal is a ``UserError``, answered by one page and one API handler."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from markupsafe import escape

import portal
from portal.api.envelope import ApiError
from portal.auth.services import AccountError, EmailTaken, OwnsBilledPractice, PasswordRequired
from portal.errors import UserError
from portal.forms import UnclearNumber
from portal.gateway.errors import BillingError, CardDeclined, InvalidWebhook, StripeUnavailable
from portal.jobs.tasks import EventNotApplied
from portal.mail.services import MailNotConfigured
from portal.practices.errors import NotAllowed, PracticeError
from portal.shop.errors import PaymentNotSent, ProductNotFound, ShopError
from portal.throttle import Throttled
from portal.wallet.services import CardNotFound, DefaultCardInUse, WalletError

#: Exceptions that never reach a person: an operator's misconfiguration, a forged webhook delivery.
#: ``EventNotApplied`` is a queue worker's: it makes Celery retry the job, no person sees it.
#: (``UnclearNumber`` never leaves a form: each form catches it and says its message under the field.)
NOT_SHOWN_TO_USERS = {MailNotConfigured, InvalidWebhook, EventNotApplied, UnclearNumber}
#: HTTP errors of werkzeug's family, answered by the per-status handlers: a service-level throttle is
#: a 429 like the route throttles, so the same handler shows the form again with what was typed.
HTTP_ERRORS = {Throttled}

#: One refusal of each feature (and a few subclasses with their own status), as a view would meet it.
REFUSALS = [
    AccountError("Your password is not correct.", field="password"),
    EmailTaken(),
    PasswordRequired(),
    OwnsBilledPractice(["Smile Dental"]),
    ApiError(401, "unauthorized", "The access token is invalid, expired or revoked."),
    WalletError("That card cannot be used."),
    CardNotFound(),
    DefaultCardInUse(),
    BillingError("Stripe refused the request."),
    CardDeclined("Your card was declined.", decline_code="generic_decline"),
    StripeUnavailable(),
    ShopError("That cannot be bought now."),
    ProductNotFound(),
    PaymentNotSent("Stripe could not be reached, so nothing was charged."),
    PracticeError("That person is not in this practice.", status=404),
    NotAllowed("Only the practice's owner and admins can invite people."),
]
IDS = [type(error).__name__ for error in REFUSALS]


def portal_exception_classes() -> set[type[BaseException]]:
    """Every exception class defined in a module of the portal (importing them all)."""
    for module in pkgutil.walk_packages(portal.__path__, "portal."):
        importlib.import_module(module.name)

    def subclasses(cls: type) -> set[type]:
        found = set(cls.__subclasses__())
        return found.union(*(subclasses(sub) for sub in found))

    return {cls for cls in subclasses(Exception) if cls.__module__.split(".")[0] == "portal"}


def test_every_refusal_a_user_sees_is_a_user_error():
    shown = {
        cls
        for cls in portal_exception_classes()
        if not cls.__name__.startswith("_") and cls not in NOT_SHOWN_TO_USERS | HTTP_ERRORS
    }
    assert {AccountError, ApiError, WalletError, BillingError, ShopError, PracticeError} <= shown
    assert sorted(cls.__qualname__ for cls in shown if not issubclass(cls, UserError)) == []


def test_billing_errors_keep_their_statuses():
    assert (StripeUnavailable().status, StripeUnavailable().code) == (503, "stripe_unavailable")
    assert CardDeclined("Your card was declined.").status == 402
    assert StripeUnavailable().message == "Stripe could not be reached. Please try again in a moment."


@pytest.fixture
def raising_app(app):
    """The app with a page route and an API route that raise ``REFUSALS[index]``."""

    def raise_refusal(name: str):
        raise REFUSALS[IDS.index(name)]

    app.add_url_rule("/refusals/<name>", "raise_refusal", raise_refusal)
    # An endpoint named "api.*" belongs to the API blueprint, as every route under /api does.
    app.add_url_rule("/api/refusals/<name>", "api.raise_refusal", raise_refusal)
    return app


@pytest.mark.parametrize("index", range(len(REFUSALS)), ids=IDS)
def test_a_page_shows_the_refusal_with_its_status(raising_app, index):
    error = REFUSALS[index]
    page = raising_app.test_client().get(f"/refusals/{IDS[index]}")
    assert page.status_code == error.status
    assert page.mimetype == "text/html"
    assert str(escape(error.message)) in page.get_data(as_text=True)


@pytest.mark.parametrize("index", range(len(REFUSALS)), ids=IDS)
def test_the_api_answers_the_refusal_in_its_envelope(raising_app, index):
    error = REFUSALS[index]
    answer = raising_app.test_client().get(f"/api/refusals/{IDS[index]}")
    assert answer.status_code == error.status
    body = answer.get_json()
    assert body["success"] is False
    assert body["error"] == {"code": error.code, "message": error.message}


def test_a_json_client_of_a_page_gets_the_envelope(raising_app):
    answer = raising_app.test_client().get("/refusals/AccountError", headers={"Accept": "application/json"})
    assert answer.status_code == 422
    assert answer.get_json()["error"] == {"code": "account_error", "message": "Your password is not correct."}
