"""``GET /``: a live page of the state for people, or the same summary as JSON for programs.

The page (``static/dashboard.*``, plain HTML/CSS/JS) polls the JSON summary and changes
scenarios through the vendor API itself, with the account's own credentials, so what
it shows is what a client gets. It shows the newest messages too, each with its walk
through its flow and the callbacks that pushed its reports. The summary therefore carries each account's Basic
credentials; when an admin token is set it needs the token like the admin API does.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from ..testing.admin_routes import require_admin_token
from .assets import STATIC_DIR
from .cors import OriginPolicy

if TYPE_CHECKING:
    from ..testing.admin import Admin

#: Journal entries shown: the newest ones.
RECENT_REQUESTS = 25
#: Messages shown, the newest ones, with their callbacks among the newest RECENT_CALLBACKS.
RECENT_MESSAGES = 20
RECENT_CALLBACKS = 200


def basic_credentials(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def summary(admin: Admin, recent: int = RECENT_REQUESTS) -> dict[str, object]:
    """Accounts with their scenarios (default marked), rate-limit buckets, the newest requests and messages."""
    revision = admin.state.accounts.revision
    accounts = []
    for account in admin.state.accounts.snapshot():
        accounts.append({
            "username": account.username,
            "authorization": basic_credentials(account.username, account.password),
            "defaultKey": account.default_key,
            "scenarios": [account.view(account.scenarios[key]) for key in account.order],
        })
    entries = admin.state.journal.entries()
    return {
        "revision": revision,
        "accounts": accounts,
        "rateLimits": admin.state.limiter.buckets(),
        "requests": [entry.to_dict() for entry in entries[-recent:]] if recent else [],
        "requestsRecorded": admin.state.journal.recorded,
        "messages": recent_messages(admin),
        "messagesSent": admin.state.messages.sent,
        "callbacksRecorded": admin.state.webhooks.recorded,
        # Everyone's clock: how far it was advanced and the date it reads (the vendor's format, UTC).
        "clock": {"offsetSeconds": admin.clock_offset(None),
                  "now": admin.state.messages.date(admin.state.messages.now())},
        "deliveryRules": [rule.to_dict() for rule in admin.state.delivery_rules.rules()],
    }


def recent_messages(admin: Admin, limit: int = RECENT_MESSAGES) -> list[dict[str, object]]:
    """The newest messages, newest first, each with its walk and its callbacks (without their bodies)."""
    messages = admin.state.messages.messages(limit=limit)
    pushed: dict[tuple[str, str | None], list[dict[str, object]]] = {}
    for callback in admin.state.webhooks.records(limit=RECENT_CALLBACKS):
        shown = callback.to_dict()
        del shown["body"]
        pushed.setdefault((callback.account, callback.message_id), []).append(shown)
    for message in messages:
        message["callbacks"] = pushed.get((str(message["account"]), str(message["messageId"])), [])
    return messages[::-1]


def wants_json(request: Request) -> bool:
    """JSON when the client prefers it to HTML (browsers ask for text/html first)."""
    accept = request.headers.get("accept", "")
    if "application/json" not in accept:
        return False
    return "text/html" not in accept or accept.index("application/json") < accept.index("text/html")


def page_headers(admin: Admin) -> dict[str, str]:
    """The headers of the mock's own HTML pages: who may frame them (web/cors.py ``frame_ancestors``)."""
    ancestors = OriginPolicy(admin.settings.cors_origins).frame_ancestors()
    return {"content-security-policy": ancestors} if ancestors else {}


def dashboard_router(admin: Admin) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    framing = page_headers(admin)

    @router.get("/")
    def dashboard(request: Request) -> Response:
        """The state dashboard (HTML), or its JSON summary for Accept: application/json."""
        if not wants_json(request):
            return FileResponse(STATIC_DIR / "dashboard.html", media_type="text/html", headers=framing)
        require_admin_token(admin, request)
        return JSONResponse(summary(admin), headers={"cache-control": "no-store"})

    return router
