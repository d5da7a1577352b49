"""Tests build data one way: every model has a factory, each factory writes a row the database
accepts, and Stripe-shaped payloads come from one builder (``tests/stripe_payloads.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal.extensions import db
from tests import factories
from tests.conftest import both_engines

FACTORIES = {
    cls._meta.model: cls
    for cls in vars(factories).values()
    if isinstance(cls, type) and issubclass(cls, factories._Factory) and not cls._meta.abstract
}


def test_every_model_has_a_factory(app):
    models = {mapper.class_ for mapper in db.Model.registry.mappers}
    assert sorted(m.__name__ for m in models - FACTORIES.keys()) == []


@both_engines
@pytest.mark.parametrize(
    "factory", sorted(FACTORIES.values(), key=lambda f: f.__name__), ids=lambda f: f.__name__
)
def test_a_factory_writes_a_valid_row(app, factory):
    first, second = factory(), factory()
    db.session.expire_all()
    assert first is not second
    assert db.session.get(factory._meta.model, db.inspect(first).identity) is not None


def test_one_builder_loads_stripes_example_objects() -> None:
    tests = Path(__file__).parent
    copies = [str(path.relative_to(tests)) for path in tests.rglob("fixtures.json")]
    loaders = [
        str(path.relative_to(tests))
        for path in tests.rglob("*.py")
        if "fixtures.json" in path.read_text() and path != Path(__file__)
    ]
    assert (copies, loaders) == (["fixtures/stripe/fixtures.json"], ["stripe_payloads.py"])
