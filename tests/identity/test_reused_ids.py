"""Finding 1: a deleted account's id is never handed to the next one, and nothing of it survives."""

from __future__ import annotations

import sqlalchemy as sa

from portal.auth.api_tokens import ApiToken
from portal.extensions import db
from portal.practices import members
from portal.practices.models import Practice, PracticeMember
from portal.users.models import User
from tests.conftest import both_engines
from tests.identity.conftest import api_register, bearer


@both_engines
def test_a_deleted_accounts_id_and_token_never_reach_the_next_person(client, sandbox):
    # The repro: POST /users (id N, token T), create a practice, DELETE /users/N with T.
    first = api_register(client, name="First Person")
    user_id, token = first["user"]["id"], first["access_token"]
    practice_id = members.create_practice(db.session.get(User, user_id), "Old Clinic").id
    assert client.delete(f"/users/{user_id}", headers=bearer(token)).status_code == 200

    # A new person registers: a new id, and T is dead.
    second = api_register(client, name="Second Person")
    assert second["user"]["id"] != user_id
    assert client.get(f"/users/{user_id}", headers=bearer(token)).status_code == 401
    assert client.get(f"/users/{second['user']['id']}", headers=bearer(token)).status_code == 401
    renamed = client.patch(f"/users/{second['user']['id']}", json={"name": "Hijacked"}, headers=bearer(token))
    assert renamed.status_code == 401
    assert db.session.get(User, second["user"]["id"]).name == "Second Person"

    # The new person owns nothing of the old account; no row of it is left behind.
    new_user = db.session.get(User, second["user"]["id"])
    assert members.practices_for(new_user) == []
    db.session.expire_all()
    assert db.session.scalars(sa.select(PracticeMember).where(PracticeMember.user_id == user_id)).all() == []
    assert db.session.scalars(sa.select(ApiToken).where(ApiToken.user_id == user_id)).all() == []
    # The old practice had no one else and never billed: it went with the account.
    assert db.session.get(Practice, practice_id) is None


def test_every_integer_id_is_declared_never_reused(app):
    """The class, not one table: a new model with a plain integer id fails here."""
    integer_ids = {
        name: table.primary_key.columns[0]
        for name, table in db.metadata.tables.items()
        if len(table.primary_key.columns) == 1 and isinstance(table.primary_key.columns[0].type, sa.Integer)
    }
    assert {"users", "practices", "orders", "api_tokens", "practice_members"} <= set(integer_ids)
    for name, column in integer_ids.items():
        assert isinstance(column.identity, sa.Identity), f"{name}.id is not an identity column"
        assert column.table.dialect_options["sqlite"]["autoincrement"], f"{name} lacks AUTOINCREMENT"
