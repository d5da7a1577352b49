"""Several tabs of one practice racing through Checkout, driven over real sockets.

Each tab renders the billing page, then "starts" (posts its Subscribe form: Checkout for its
plan) and "pays" (the card form on the sandbox's hosted page). Webhooks go to the portal's
real endpoint, either promptly after each step (and the tab comes back to the success page)
or late, after every step (the worst case: nothing tells the portal a tab already paid).
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests
import sqlalchemy as sa

from portal.extensions import db
from portal.gateway.shapes import object_id
from portal.practices import members
from portal.practices import plans as practice_plans
from portal.practices.models import BillingAuditEntry, Practice
from tests.factories import make_user
from tests.practices.sandbox_helpers import CHECKOUT_ADDRESS
from tests.reliability.live import HOST, Visitor
from tests.stripe_payloads import signature

CARD = {
    "number": "4242 4242 4242 4242",
    "expiry": "12 / 34",
    "cvc": "123",
    "name": "Dr Race",
    **CHECKOUT_ADDRESS,
}
LIVE = ("active", "trialing", "past_due", "unpaid", "incomplete")


@dataclass
class Race:
    sandbox: object
    base: str
    practice_id: int
    customer_id: str
    visitor: Visitor
    forms: list[dict[str, str]]
    checkout_urls: dict[int, str] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def billing(self) -> str:
        return f"/practices/{self.practice_id}/billing"

    def start(self, tab: int, plan: str) -> None:
        response = self.visitor.post(f"{self.billing}/subscribe", {**self.forms[tab], "plan": plan})
        if response.status_code == 204:
            self.checkout_urls[tab] = response.headers["HX-Redirect"]
        else:  # e.g. "This practice already has a subscription."
            assert response.status_code in (200, 409), response.text[:300]

    def pay(self, tab: int, *, come_back: bool) -> None:
        url = self.checkout_urls.get(tab)
        if url is None:
            return
        paid = requests.post(f"{url}/pay", data=CARD, allow_redirects=False, timeout=30)
        assert paid.status_code in (303, 400), paid.text[:300]  # 400: expired by a newer start
        if paid.status_code == 303 and come_back:
            success = paid.headers["Location"].split(HOST, 1)[1]
            assert self.visitor.get(success, allow_redirects=False).status_code == 303

    def deliver(self, *, concurrently: bool = False) -> int:
        """The practice's new sandbox events, to the portal's webhook endpoint."""
        with self.lock:
            events = [
                event
                for event in self.sandbox.events()
                if event["id"] not in self.seen
                and object_id(event["data"]["object"].get("customer")) == self.customer_id
            ]
            self.seen.update(event["id"] for event in events)

        def post(event: dict) -> None:
            body = json.dumps(event)
            response = requests.post(
                f"{self.base}/webhooks/stripe",
                data=body,
                headers={
                    "Stripe-Signature": signature(body),
                    "Host": HOST,
                    "Content-Type": "application/json",
                },
                timeout=60,
            )
            assert response.status_code == 200, response.text[:300]

        if concurrently:
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(post, events))
        else:
            for event in events:
                post(event)
        return len(events)

    def settle(self, *, concurrently: bool = False) -> None:
        """Deliver until quiet: the fix's own events (cancellation, refunds) arrive too."""
        while self.deliver(concurrently=concurrently):
            pass


def new_race(sandbox, base: str, tabs: int) -> Race:
    """A practice whose owner has ``tabs`` billing pages open, on an empty sandbox (fast event reads)."""
    sandbox.reset()
    practice_plans.bootstrap_plans()
    owner = make_user()
    practice = members.create_practice(owner, "Racing Clinic")
    race = Race(sandbox, base, practice.id, practice.stripe_customer_id, Visitor(base, owner.email), [])
    race.forms = [race.visitor.form(race.billing, "/billing/subscribe") for _ in range(tabs)]
    return race


@dataclass(frozen=True)
class Result:
    live: int
    net_onboarding_fees: float
    local_matches: bool
    duplicates_cancelled: int


def result(race: Race) -> Result:
    """Live subscriptions at Stripe, onboarding fees kept (net of refunds), and the local mirror."""
    client = race.sandbox.client()
    subscriptions = client.v1.subscriptions.list({"customer": race.customer_id, "status": "all"}).data
    live = [sub for sub in subscriptions if sub.status in LIVE]
    charges = client.v1.charges.list({"customer": race.customer_id}).data
    net = sum(charge.amount_captured - charge.amount_refunded for charge in charges if charge.paid)
    plans = {offer.plan.lookup_key: offer.amount for offer in practice_plans.plan_offers()}
    plan_amounts = sum(plans.get(sub["items"]["data"][0]["price"]["lookup_key"], 0) for sub in live)
    fee = practice_plans.onboarding_fee()[0]
    db.session.rollback()
    practice = db.session.get(Practice, race.practice_id, populate_existing=True)
    local = len(live) == 1 and practice.stripe_subscription_id == live[0].id and practice.has_access
    cancelled = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(BillingAuditEntry)
        .where(
            BillingAuditEntry.practice_id == race.practice_id,
            BillingAuditEntry.action == "duplicate_subscription_cancelled",
        )
    )
    return Result(len(live), (net - plan_amounts) / fee, local, cancelled)
