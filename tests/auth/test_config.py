"""Configuration: production fails closed; password hashing meets OWASP's argon2id minimum."""

from __future__ import annotations

import pytest

from config import Config, ProductionConfig
from portal import create_app
from portal.auth.passwords import hash_password, verify_password

REQUIRED = (
    "SECRET_KEY",
    "DATABASE_URL",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_SECRET_KEY",
    "STRIPE_PUBLISHABLE_KEY",
)


@pytest.fixture
def production_env(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "a-real-production-secret")
    monkeypatch.setenv("DATABASE_URL", "postgresql://portal@db.internal/portal")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_real")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_real")
    monkeypatch.setenv("STRIPE_PUBLISHABLE_KEY", "pk_live_real")
    return monkeypatch


@pytest.mark.parametrize("missing", REQUIRED)
@pytest.mark.parametrize("how", ["unset", "empty"])
def test_production_refuses_to_start_without(production_env, missing, how):
    if how == "unset":
        production_env.delenv(missing)
    else:
        production_env.setenv(missing, "")
    with pytest.raises(RuntimeError, match=missing):
        create_app("production")


def test_production_names_every_missing_variable(monkeypatch):
    for name in REQUIRED:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError) as excinfo:
        ProductionConfig.validate()
    assert all(name in str(excinfo.value) for name in REQUIRED)


def test_production_starts_with_everything_set(production_env, tmp_path):
    app = create_app("production", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'p.sqlite'}")
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    assert not app.testing and not app.debug


def test_default_argon2id_parameters_meet_owasp_minimum():
    # OWASP Password Storage Cheat Sheet: argon2id, m >= 19 MiB (19456 KiB), t >= 2, p >= 1.
    assert Config.ARGON2_MEMORY_COST_KIB >= 19456
    assert Config.ARGON2_TIME_COST >= 2
    assert Config.ARGON2_PARALLELISM >= 1


def test_default_config_hashes_with_argon2id_and_those_parameters(tmp_path):
    app = create_app("development", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'd.sqlite'}")
    with app.app_context():
        hashed = hash_password("correct-horse-battery")
        assert verify_password(hashed, "correct-horse-battery")
        assert not verify_password(hashed, "wrong-horse-battery")
    cfg = app.config
    expected = (
        f"$argon2id$v=19$m={cfg['ARGON2_MEMORY_COST_KIB']},t={cfg['ARGON2_TIME_COST']},"
        f"p={cfg['ARGON2_PARALLELISM']}$"
    )
    assert hashed.startswith(expected)


def test_proxy_headers_are_not_trusted_by_default():
    assert Config.TRUSTED_PROXIES == 0
