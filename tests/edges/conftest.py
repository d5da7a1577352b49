"""Fixtures for the input-edge tests."""

from __future__ import annotations

import pytest

from tests.factories import DEFAULT_PASSWORD


@pytest.fixture
def password() -> str:
    return DEFAULT_PASSWORD
