"""Test data, built one way: a factory_boy factory per model, bound to the Flask-SQLAlchemy session.

A factory writes the row as it stands in the database (``UserFactory(stripe_customer_id=...)``):
no service runs, no Stripe call, no email. ``make_user`` is the other way in, on purpose: it
registers through the same service the sign-up form uses, for tests of what registration does.
Every factory commits, as the helpers it replaced did; ``.build()`` gives an unsaved row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import time

import factory
from factory.alchemy import SQLAlchemyModelFactory

from portal.auth import services as accounts
from portal.auth.api_tokens import ApiToken
from portal.auth.passwords import hash_password
from portal.customers.models import PendingCustomerDeletion
from portal.database import utcnow
from portal.extensions import db
from portal.jobs.models import FailedJob, ReconcileReport
from portal.mail.models import OutboundEmail
from portal.practices.models import (
    BillingAuditEntry,
    BillingIntent,
    InvoiceRefund,
    MemberRole,
    Practice,
    PracticeInvitation,
    PracticeInvoice,
    PracticeMember,
    PracticeTaxId,
    RetentionOffer,
)
from portal.promotions.models import PromotionCode, RetentionCoupon
from portal.shop.models import Order, OrderRefund, OrderStatus, Product
from portal.throttle import RateLimitCounter
from portal.users.models import Role, StripeSyncState, User, UserSession
from portal.wallet.models import PaymentMethod, StripeObjectVersion
from portal.webhooks.models import EventStatus, WebhookEvent

_sequence = itertools.count(1)
DEFAULT_PASSWORD = "correct-horse-battery"


class _Factory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731 - the session of the app in use
        sqlalchemy_session_persistence = "commit"


# --- Accounts ----------------------------------------------------------------------------------


class UserFactory(_Factory):
    """A user row. ``with_customer=True``: linked to a (made-up) Stripe customer, in sync."""

    class Meta:
        model = User

    class Params:
        with_customer = factory.Trait(
            stripe_customer_id=factory.Sequence(lambda n: f"cus_test{n:05d}"),
            stripe_sync=StripeSyncState.SYNCED,
        )

    name = factory.Sequence(lambda n: f"Person {n}")
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    password_hash = factory.LazyFunction(lambda: hash_password(DEFAULT_PASSWORD))
    role = Role.USER


class UserSessionFactory(_Factory):
    class Meta:
        model = UserSession

    user = factory.SubFactory(UserFactory)


class ApiTokenFactory(_Factory):
    """A token row; ``token`` is the bearer value whose digest it stores."""

    class Meta:
        model = ApiToken
        exclude = ("token",)

    user = factory.SubFactory(UserFactory)
    token = factory.Sequence(lambda n: f"pbp_test_token_{n}")
    token_hash = factory.LazyAttribute(lambda o: hashlib.sha256(o.token.encode()).hexdigest())
    expires_at = factory.LazyFunction(lambda: utcnow() + dt.timedelta(days=1))


class OutboundEmailFactory(_Factory):
    """An email waiting in the outbox."""

    class Meta:
        model = OutboundEmail

    recipient = factory.Sequence(lambda n: f"person{n}@example.com")
    subject = "Hello"
    template = "test"
    text_body = "Hello."
    html_body = "<p>Hello.</p>"


class RateLimitCounterFactory(_Factory):
    class Meta:
        model = RateLimitCounter

    key = factory.Sequence(lambda n: f"test/limit/{n}")
    hits = 1
    expires_at = factory.LazyFunction(lambda: time.time() + 60)


# --- Practices ---------------------------------------------------------------------------------


class PracticeFactory(_Factory):
    """A practice row with a (made-up) Stripe customer. ``owner=user``: with that owner."""

    class Meta:
        model = Practice

    name = "Riverside Clinic"
    stripe_customer_id = factory.Sequence(lambda n: f"cus_practice{n}")

    @factory.post_generation
    def owner(practice, create, owner, **_):
        if owner is not None:
            practice.members.append(PracticeMember(user=owner, role=MemberRole.OWNER))
            if create:
                db.session.commit()


class PracticeMemberFactory(_Factory):
    class Meta:
        model = PracticeMember

    practice = factory.SubFactory(PracticeFactory)
    user = factory.SubFactory(UserFactory)
    role = MemberRole.MEMBER


class PracticeTaxIdFactory(_Factory):
    """A tax ID of ``practice`` as Stripe holds it (a Vietnamese one unless told otherwise)."""

    class Meta:
        model = PracticeTaxId

    practice = factory.SubFactory(PracticeFactory)
    type = "vn_tin"
    value = "1234567890"
    stripe_id = factory.Sequence(lambda n: f"txi_test{n}")
    verification_status = "pending"


class PracticeInvoiceFactory(_Factory):
    """A mirrored invoice of ``practice``, paid unless told otherwise."""

    class Meta:
        model = PracticeInvoice
        exclude = ("practice",)

    practice = factory.SubFactory(PracticeFactory)
    practice_id = factory.SelfAttribute("practice.id")
    customer_id = factory.SelfAttribute("practice.stripe_customer_id")
    stripe_id = factory.Sequence(lambda n: f"in_test{n:05d}")
    number = factory.Sequence(lambda n: f"PB-{n:04d}")
    created = factory.LazyFunction(lambda: int(time.time()))
    amount_due = 9900
    amount_paid = factory.LazyAttribute(lambda o: o.amount_due if o.status == "paid" else 0)
    currency = "usd"
    status = "paid"
    billing_reason = "subscription_cycle"


class BillingAuditEntryFactory(_Factory):
    """An audit line of ``practice``; ``actor`` None means Stripe did it."""

    class Meta:
        model = BillingAuditEntry
        exclude = ("practice",)

    practice = factory.SubFactory(PracticeFactory)
    practice_id = factory.SelfAttribute("practice.id")
    actor = None
    action = "card_added"


class InvoiceRefundFactory(_Factory):
    """A refund of a practice invoice (Stripe's, through a credit note unless told otherwise)."""

    class Meta:
        model = InvoiceRefund
        exclude = ("practice",)

    practice = factory.SubFactory(PracticeFactory)
    practice_id = factory.SelfAttribute("practice.id")
    invoice_id = factory.Sequence(lambda n: f"in_refunded{n:05d}")
    stripe_refund_id = factory.Sequence(lambda n: f"re_test{n:05d}")
    amount = 1000
    currency = "usd"
    status = "succeeded"


class BillingIntentFactory(_Factory):
    """A claimed billing action of ``practice`` (unfinished unless ``finished_at`` is given)."""

    class Meta:
        model = BillingIntent
        exclude = ("practice",)

    practice = factory.SubFactory(PracticeFactory)
    practice_id = factory.SelfAttribute("practice.id")
    action = "cancel"
    intent_key = factory.Sequence(lambda n: f"intent-{n}")


class PracticeInvitationFactory(_Factory):
    """A pending invitation to ``practice`` (an ownership offer with ``role=MemberRole.OWNER``)."""

    class Meta:
        model = PracticeInvitation
        exclude = ("practice", "invited_by")

    practice = factory.SubFactory(PracticeFactory)
    practice_id = factory.SelfAttribute("practice.id")
    invited_by = factory.SubFactory(UserFactory)
    invited_by_id = factory.SelfAttribute("invited_by.id")
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role = MemberRole.MEMBER
    nonce = factory.Sequence(lambda n: f"nonce{n:027d}")
    expires_at = factory.LazyFunction(lambda: utcnow() + dt.timedelta(days=7))


# --- Shop --------------------------------------------------------------------------------------


class ProductFactory(_Factory):
    class Meta:
        model = Product

    name = "Thermometer"
    description = "A product."
    price = 1999
    currency = "usd"
    stock = 10


class OrderFactory(_Factory):
    """A pending order of ``quantity`` x ``product``, priced at the product's price."""

    class Meta:
        model = Order
        exclude = ("user",)

    user = None
    user_id = factory.LazyAttribute(lambda o: o.user.id if o.user is not None else None)
    product = factory.SubFactory(ProductFactory)
    quantity = 1
    unit_amount = factory.SelfAttribute("product.price")
    amount = factory.LazyAttribute(lambda o: o.unit_amount * o.quantity)
    currency = factory.SelfAttribute("product.currency")
    status = OrderStatus.PENDING


class OrderRefundFactory(_Factory):
    """A refund of one unit of a paid order, made by the portal."""

    class Meta:
        model = OrderRefund
        exclude = ("order",)

    order = factory.SubFactory(OrderFactory, status=OrderStatus.PAID)
    order_id = factory.SelfAttribute("order.id")
    stripe_refund_id = factory.Sequence(lambda n: f"re_order{n:05d}")
    amount = factory.SelfAttribute("order.unit_amount")
    currency = factory.SelfAttribute("order.currency")
    units = 1
    status = "succeeded"


# --- Wallet ------------------------------------------------------------------------------------


class PaymentMethodFactory(_Factory):
    """A saved card in the wallet mirror."""

    class Meta:
        model = PaymentMethod

    stripe_id = factory.Sequence(lambda n: f"pm_test{n:05d}")
    customer_id = factory.Sequence(lambda n: f"cus_test{n:05d}")
    brand = "visa"
    last4 = "4242"
    exp_month = 12
    exp_year = 2040
    is_default = False


class PendingCustomerDeletionFactory(_Factory):
    class Meta:
        model = PendingCustomerDeletion

    customer_id = factory.Sequence(lambda n: f"cus_gone{n:05d}")


class StripeObjectVersionFactory(_Factory):
    class Meta:
        model = StripeObjectVersion

    object_id = factory.Sequence(lambda n: f"pm_test{n:05d}")
    synced_at = factory.LazyFunction(lambda: int(time.time()))


# --- Webhooks ----------------------------------------------------------------------------------


class PromotionCodeFactory(_Factory):
    """A promotion code as the admin page's mirror holds it: 30% off for 3 months, unused."""

    class Meta:
        model = PromotionCode

    stripe_id = factory.Sequence(lambda n: f"promo_test{n}")
    code = factory.Sequence(lambda n: f"SPRING-{n}")
    coupon_id = factory.Sequence(lambda n: f"coupon{n}")
    percent_off = 30.0
    duration = "repeating"
    duration_in_months = 3


class RetentionCouponFactory(_Factory):
    """The retention offer's setting: 30% off for 3 months."""

    class Meta:
        model = RetentionCoupon

    coupon_id = factory.Sequence(lambda n: f"retain{n}")
    percent_off = 30.0
    duration = "repeating"
    duration_in_months = 3


class RetentionOfferFactory(_Factory):
    """The retention offer made to ``practice``'s subscription, not yet decided."""

    class Meta:
        model = RetentionOffer
        exclude = ("practice",)

    practice = factory.SubFactory(PracticeFactory)
    practice_id = factory.SelfAttribute("practice.id")
    subscription_id = factory.Sequence(lambda n: f"sub_retained{n}")
    coupon_id = "retain0"
    terms = "30% off for 3 months"


class WebhookEventFactory(_Factory):
    """An event in the inbox; ``payload`` is a minimal Stripe-shaped body matching its columns."""

    class Meta:
        model = WebhookEvent

    stripe_event_id = factory.Sequence(lambda n: f"evt_test_row{n:06d}")
    type = "customer.updated"
    created = factory.LazyFunction(lambda: int(time.time()))
    object_id = "cus_test_1"
    payload = factory.LazyAttribute(
        lambda o: (
            f'{{"id": "{o.stripe_event_id}", "object": "event", "type": "{o.type}", '
            f'"created": {o.created}, "data": {{"object": {{"id": "{o.object_id}"}}}}}}'
        )
    )
    status = EventStatus.RECEIVED


class FailedJobFactory(_Factory):
    """A job whose retries ran out: an email send that kept failing."""

    class Meta:
        model = FailedJob

    task_id = factory.Sequence(lambda n: f"task-{n}")
    task_name = "portal.jobs.send_emails"
    args = "[]"
    error = "SMTPServerDisconnected: Connection unexpectedly closed"
    attempts = 5


class ReconcileReportFactory(_Factory):
    """One night's comparison with Stripe that found nothing to report."""

    class Meta:
        model = ReconcileReport

    day = factory.Sequence(lambda n: f"2026-{1 + n // 28 % 12:02d}-{1 + n % 28:02d}")
    checked = 3


# --- Through the services ----------------------------------------------------------------------


def make_user(
    name: str | None = None,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    role: Role = Role.USER,
) -> User:
    """A user registered through the sign-up service (its emails and Stripe sync included)."""
    n = next(_sequence)
    return accounts.register_user(
        name or f"Test User {n}", email or f"user{n}@example.com", password, role=role
    )


def api_register(client, name: str, email: str, password: str = DEFAULT_PASSWORD) -> dict:
    """``POST /users`` then ``POST /auth/login`` (registration hands out no token): the login's
    data, ``{"user": ..., "access_token": ...}``."""
    body = {"name": name, "email": email, "password": password}
    registered = client.post("/users", json=body)
    assert registered.status_code == 202, registered.get_data(as_text=True)
    registered.close()  # the WSGI server closes it once sent: the Stripe customer is created then
    login = client.post("/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.get_data(as_text=True)
    return login.get_json()["data"]
