"""The response envelope: ``{"success", "timestamp", "data" | "error"}``."""

from __future__ import annotations

import datetime as dt

from flask import Response, jsonify

from portal.errors import UserError


def _timestamp() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ok(data: object, status: int = 200) -> tuple[Response, int]:
    return jsonify(success=True, timestamp=_timestamp(), data=data), status


def fail(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify(success=False, timestamp=_timestamp(), error={"code": code, "message": message}), status


class ApiError(UserError):
    """A refusal only the API makes (a missing token, a malformed body)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, status=status, code=code)
