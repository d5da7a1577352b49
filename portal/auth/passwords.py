"""Password hashing with argon2id, parameters from config."""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(
        time_cost=cfg["ARGON2_TIME_COST"],
        memory_cost=cfg["ARGON2_MEMORY_COST_KIB"],
        parallelism=cfg["ARGON2_PARALLELISM"],
        type=Type.ID,
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


#: Checked against when the email is unknown, so a miss costs as much as a hit: one verification.
#: Hashed once per set of parameters (a hash on every miss made unknown emails twice as slow).
_DUMMY_HASH: dict[tuple[int, int, int], str] = {}


def burn_verification_time(password: str) -> None:
    cfg = current_app.config
    params = (cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST_KIB"], cfg["ARGON2_PARALLELISM"])
    dummy = _DUMMY_HASH.get(params)
    if dummy is None:
        dummy = _DUMMY_HASH.setdefault(params, hash_password("not-a-real-password"))
    verify_password(dummy, password)
