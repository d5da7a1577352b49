"""Creating a practice is once per rendered form: concurrent posts of one form (a double click, a
replaying client) make one practice and one Stripe customer, and every post lands on it."""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.practices.models import Practice
from tests.conftest import both_engines
from tests.reliability.live import Visitor, serve

POSTS = 3


@both_engines
def test_concurrent_posts_of_one_create_form_make_one_practice(app, user):
    with serve(app) as base:
        visitor = Visitor(base, user.email)
        form = {**visitor.form("/practices/", "/practices/"), "name": "Once Clinic"}
        assert form.get("attempt"), "the create form carries a key made when it was rendered"
        with app.extensions["stripe_call_counter"].watch() as calls:
            responses = visitor.post_each_at_once("/practices/", [form] * POSTS)
    db.session.rollback()
    practices = db.session.scalars(sa.select(Practice).where(Practice.name == "Once Clinic")).all()
    assert len(practices) == 1
    assert calls.count("customer.create") == 1
    assert {r.status_code for r in responses} == {303}
    assert {r.headers["Location"].rsplit("/", 2)[-2] for r in responses} == {str(practices[0].id)}
    print(f"\nRELIABILITY one_practice_per_form: {POSTS} concurrent posts of one form, 1 practice")
