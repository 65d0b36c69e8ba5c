"""Calling the admin API's operations in-process, with bodies validated as the HTTP API validates them."""

from __future__ import annotations

from typing import Any

from mock_omni import MockOmni
from mock_omni.testing.admin_models import NewAccountIn, validated


def create_account(app: MockOmni, data: dict[str, Any]) -> dict[str, object]:
    """``POST /__admin/accounts`` with ``data``, without HTTP."""
    return app.admin.create_account(validated(NewAccountIn, data), data)
