"""Every model has a factory, and each factory writes a row the database accepts."""

from __future__ import annotations

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
