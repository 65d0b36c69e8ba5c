"""A small typed client of the admin API, for any test runner (the pytest plugin uses it too).

    from mock_omni.testing.admin_client import AdminClient

    with AdminClient("http://127.0.0.1:8080") as admin:
        account = admin.new_account(seed_account="Aladdin")
        admin.fault(status=500, path="/omni/1/scenarios/*", times=1, account=account.username)
        ...
        admin.remove_account(account.username)

It talks through any httpx-style client (``request(method, url, params=, json=)``),
so it also works in-process over Starlette's TestClient.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from . import ADMIN_PREFIX, ADMIN_TOKEN_HEADER
from .real_time import real_monotonic

#: The longest wait one call asks the server for (the admin API allows a minute).
MAX_WAIT_STEP = 30.0


class _Response(Protocol):
    status_code: int

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


class HttpClient(Protocol):
    def request(self, method: str, url: str, *, params: Any = ..., json: Any = ...,
                headers: Any = ...) -> Any: ...

    def close(self) -> None: ...


class CallbacksNotReached(AssertionError):
    """``wait_for_callback`` timed out; the message lists the callbacks there were."""


class AdminError(Exception):
    """The admin API refused a call; ``validation_errors`` names the fields at fault."""

    def __init__(self, status: int, message_id: str, text: str,
                 validation_errors: dict[str, list[str]] | None = None) -> None:
        self.status, self.message_id, self.text = status, message_id, text
        self.validation_errors = validation_errors or {}
        details = f" {self.validation_errors}" if self.validation_errors else ""
        super().__init__(f"{status} {message_id}: {text}{details}")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    api_keys: tuple[str, ...]
    tokens: tuple[str, ...]
    #: Ready-made Authorization header values: basic, app, ibsso, bearer.
    authorization: Mapping[str, str]
    #: OAuth2 clients: ``{"clientId", "clientSecret", "scopes"?}`` each.
    oauth2_clients: tuple[Mapping[str, Any], ...] = ()

    @property
    def basic(self) -> str:
        return self.authorization["basic"]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Credentials:
        return cls(data["username"], data["password"], tuple(data["apiKeys"]), tuple(data["tokens"]),
                   dict(data["authorization"]), tuple(data.get("oauth2Clients", ())))

    @classmethod
    def of(cls, account: Mapping[str, Any]) -> Credentials:
        """An account's credentials as a fixture document gives them (keys may be ``{"key", "scopes"}``)."""
        keys = [key if isinstance(key, str) else key["key"] for key in account.get("apiKeys", ())]
        tokens = list(account.get("tokens", ()))
        username, password = account["username"], account["password"]
        return cls(username, password, tuple(keys), tuple(tokens),
                   authorization_headers(username, password, keys, tokens), tuple(account.get("oauth2Clients", ())))


@dataclass(frozen=True)
class IssuedToken:
    """An OAuth2 access token or IBSSO session minted through the admin API."""

    account: str
    #: ``oauth2`` or ``ibsso``.
    kind: str
    token: str
    #: The ready-made Authorization header value: ``Bearer <token>`` or ``IBSSO <token>``.
    authorization: str
    scopes: tuple[str, ...] | None
    #: Lifetime (oauth2) or inactivity period (ibsso) in seconds of the mock's clock.
    expires_in: float

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IssuedToken:
        scopes = data["scopes"]
        return cls(data["account"], data["kind"], data["token"], data["authorization"],
                   None if scopes is None else tuple(scopes), data["expiresInSeconds"])


def authorization_headers(username: str, password: str, api_keys: Sequence[str],
                          tokens: Sequence[str]) -> dict[str, str]:
    """Ready-made Authorization values for each scheme the account can use (the first key and token)."""
    basic = base64.b64encode(f"{username}:{password}".encode()).decode()
    headers = {"basic": f"Basic {basic}"}
    if api_keys:
        headers["app"] = f"App {api_keys[0]}"
    if tokens:
        headers["ibsso"] = f"IBSSO {tokens[0]}"
        headers["bearer"] = f"Bearer {tokens[0]}"
    return headers


def _segment(name: str, field: str) -> str:
    """A name as one path segment; an empty one cannot be sent (it would name another route)."""
    if not name:
        raise AdminError(400, "INVALID_ARGUMENT", "Invalid argument", {field: ["must not be empty"]})
    return quote(name, safe="")


def _params(**values: object) -> dict[str, object]:
    return {name: value for name, value in values.items() if value is not None}


def callback_line(callback: Mapping[str, Any]) -> str:
    """One callback for people: URL, account, message, state and each attempt's status or error."""
    outcomes = [str(a["status"]) if a["status"] is not None else (a["error"] or "no answer").split(":")[0]
                for a in callback["attempts"]]
    tried = f"{len(outcomes)} attempt(s): {', '.join(outcomes)}" if outcomes else "no attempt"
    reason = f"; {callback['reason']}" if callback["reason"] else ""
    return (f"#{callback['id']} POST {callback['url']} (account {callback['account']}, message "
            f"{callback['messageId']}): {callback['state']}, {tried}{reason}")


class AdminClient:
    """One method per admin call; errors raise ``AdminError``."""

    def __init__(self, base_url: str = "http://127.0.0.1:8080", *, token: str | None = None,
                 http: HttpClient | None = None, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {ADMIN_TOKEN_HEADER: token} if token else {}
        if http is None:
            import httpx

            # trust_env=False: a proxy from the environment must never see loopback test traffic.
            http = httpx.Client(timeout=timeout, trust_env=False)
        self._prefix = self.base_url + ADMIN_PREFIX
        #: A wait on the server lasts at most half the HTTP timeout; longer waits take several calls.
        self._wait_step = max(0.1, min(MAX_WAIT_STEP, timeout / 2))
        self._http = http
        #: Whether a reset through this client set fixtures or limits of its own (a plain reset keeps them).
        self.custom_baseline = False

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
              json: object = None) -> Any:
        response: _Response = self._http.request(
            method, self._prefix + path, params=dict(params or {}), json=json, headers=self._headers,
        )
        try:
            data = response.json()
        except ValueError:  # not JSON (a proxy's page, a redirect): still the admin API refusing the call
            raise AdminError(response.status_code, "?", response.text[:500]) from None
        if response.status_code >= 400:
            error = data.get("requestError", {}).get("serviceException", {}) if isinstance(data, dict) else {}
            raise AdminError(response.status_code, error.get("messageId", "?"), error.get("text", str(data)),
                             error.get("validationErrors"))
        return data

    # --- the calls ------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/health")
        return result

    def reset(self, account: str | None = None, *, baseline: Mapping[str, Any] | None = None) -> None:
        """Back to the fixture state (or one account back to where it started).

        ``baseline``: ``{"fixtures": document, "rateLimits": limits}`` (either optional) becomes what
        this and later resets return to; ``{}`` is the state the server started with.
        """
        self._call("POST", "/reset", params=_params(account=account), json=None if baseline is None else dict(baseline))
        if baseline is not None:
            self.custom_baseline = bool(baseline)

    def requests(self, method: str | None = None, path: str | None = None, account: str | None = None,
                 status: int | None = None) -> list[dict[str, Any]]:
        """Journal entries, newest last; ``path`` may be an fnmatch pattern."""
        params = _params(method=method, path=path, account=account, status=status)
        entries: list[dict[str, Any]] = self._call("GET", "/requests", params=params)["requests"]
        return entries

    def clear_requests(self, account: str | None = None) -> None:
        self._call("DELETE", "/requests", params=_params(account=account))

    def errors(self) -> list[dict[str, Any]]:
        """Unexpected errors inside the server (500s no fault asked for) since the last reset."""
        errors: list[dict[str, Any]] = self._call("GET", "/errors")["errors"]
        return errors

    def clear_errors(self) -> None:
        self._call("DELETE", "/errors")

    def fault(self, status: int | None = None, *, method: str | None = None, path: str = "*",
              account: str | None = None, times: int | None = 1, delay_ms: int = 0, drop: bool = False,
              message: str | None = None, jitter_ms: int = 0, connection: str | None = None,
              malformed: bool = False, bytes_per_second: int | None = None, probability: float = 1.0,
              seed: int | None = None) -> dict[str, Any]:
        """Add a fault rule (default: the next matching request only; ``times=None``: until cleared).

        ``connection``: "drop", "reset", "truncate" or "garbage"; ``probability`` (with ``seed`` to replay a
        sequence): the share of matching requests it applies to. docs/admin-api.md says what a client sees.
        """
        body = {"method": method, "path": path, "account": account, "status": status, "message": message,
                "delayMs": delay_ms, "jitterMs": jitter_ms, "drop": drop, "connection": connection,
                "malformed": malformed, "bytesPerSecond": bytes_per_second, "probability": probability,
                "seed": seed, "times": times}
        rule: dict[str, Any] = self._call("POST", "/faults", json=body)
        return rule

    def faults(self, account: str | None = None) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = self._call("GET", "/faults", params=_params(account=account))["faults"]
        return rules

    def clear_faults(self, account: str | None = None) -> int:
        removed: int = self._call("DELETE", "/faults", params=_params(account=account))["removed"]
        return removed

    def state(self, account: str | None = None) -> dict[str, Any]:
        """The state as a fixture document."""
        document: dict[str, Any] = self._call("GET", "/state", params=_params(account=account))
        return document

    def load(self, document: Mapping[str, Any]) -> None:
        """Replace the whole state with a fixture document (checked first; a bad one changes nothing)."""
        self._call("PUT", "/state", json=document)

    def new_account(self, username: str | None = None, password: str | None = None, *,
                    scenarios: list[Mapping[str, Any]] | None = None, seed_account: str | None = None,
                    api_keys: list[str | Mapping[str, Any]] | None = None, tokens: list[str] | None = None,
                    oauth2_clients: list[Mapping[str, Any]] | None = None) -> Credentials:
        """A fresh account; ``seed_account`` copies the scenarios of a fixture account.

        ``api_keys`` items are keys (every scope) or ``{"key", "scopes"}``; ``oauth2_clients`` items are
        ``{"clientId", "clientSecret", "scopes"?}`` (one is generated if absent).
        """
        body = _params(username=username, password=password, scenarios=scenarios, seedAccount=seed_account,
                       apiKeys=api_keys, tokens=tokens, oauth2Clients=oauth2_clients)
        return Credentials.from_dict(self._call("POST", "/accounts", json=body))

    def remove_account(self, username: str) -> None:
        self._call("DELETE", f"/accounts/{_segment(username, 'username')}")

    def accounts(self) -> list[dict[str, Any]]:
        accounts: list[dict[str, Any]] = self._call("GET", "/accounts")["accounts"]
        return accounts

    def snapshot(self, name: str, account: str | None = None) -> None:
        self._call("POST", f"/snapshots/{_segment(name, 'name')}", params=_params(account=account))

    def restore(self, name: str, account: str | None = None) -> None:
        self._call("POST", f"/snapshots/{_segment(name, 'name')}/restore", params=_params(account=account))

    def delete_snapshot(self, name: str, account: str | None = None) -> None:
        self._call("DELETE", f"/snapshots/{_segment(name, 'name')}", params=_params(account=account))

    def snapshots(self) -> list[dict[str, Any]]:
        """The saved snapshots: name, account (None for whole-state ones), accounts held."""
        snapshots: list[dict[str, Any]] = self._call("GET", "/snapshots")["snapshots"]
        return snapshots

    def clear_snapshots(self, account: str | None = None) -> int:
        removed: int = self._call("DELETE", "/snapshots", params=_params(account=account))["removed"]
        return removed

    def rate_limit(self, limits: str | Mapping[str, str | None], account: str | None = None) -> dict[str, Any]:
        """``"off"`` or ``{"update": "5/1m", "create": "off"}``, for everyone or one account."""
        body: dict[str, object] = {"limits": limits if isinstance(limits, str) else dict(limits)}
        if account is not None:
            body["account"] = account
        result: dict[str, Any] = self._call("PUT", "/rate-limits", json=body)
        return result

    def rate_limits(self) -> dict[str, Any]:
        """The limits in force, per-account overrides and the buckets in use."""
        limits: dict[str, Any] = self._call("GET", "/rate-limits")
        return limits

    def reset_rate_limits(self, account: str | None = None) -> None:
        self._call("DELETE", "/rate-limits", params=_params(account=account))

    def oauth2_token(self, account: str, *, client_id: str | None = None,
                     scopes: list[str] | None = None) -> IssuedToken:
        """An OAuth2 access token for ``account``: its client's scopes (or the account's), or fewer."""
        body = _params(account=account, kind="oauth2", clientId=client_id, scopes=scopes)
        return IssuedToken.from_dict(self._call("POST", "/tokens", json=body))

    def session(self, account: str) -> IssuedToken:
        """The account's IBSSO session (its live one, or a new one)."""
        return IssuedToken.from_dict(self._call("POST", "/tokens", json={"account": account, "kind": "ibsso"}))

    def tokens(self, account: str | None = None) -> list[dict[str, Any]]:
        """The live OAuth2 tokens and sessions the mock issued, masked."""
        listed: list[dict[str, Any]] = self._call("GET", "/tokens", params=_params(account=account))["tokens"]
        return listed

    def messages(self, account: str | None = None, message_id: str | None = None, bulk_id: str | None = None,
                 limit: int | None = None) -> list[dict[str, Any]]:
        """Sent messages with their walks through the flow (``steps``: channel, outcome, times), oldest first."""
        params = _params(account=account, messageId=message_id, bulkId=bulk_id, limit=limit)
        found: list[dict[str, Any]] = self._call("GET", "/messages", params=params)["messages"]
        return found

    def callbacks(self, account: str | None = None, url: str | None = None,
                  state: str | None = None) -> list[dict[str, Any]]:
        """Reports pushed to notifyUrls, oldest first: ``url``, ``body``, ``state`` (pending, delivered,
        failed, dropped) and ``attempts`` (``status`` or ``error`` each)."""
        found: list[dict[str, Any]] = self._call("GET", "/callbacks",
                                                 params=_params(account=account, url=url, state=state))["callbacks"]
        return found

    def wait_for_callback(self, count: int = 1, *, account: str | None = None, url: str | None = None,
                          state: str | None = "delivered", timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` callbacks match (by default: delivered), at most ``timeout`` seconds;
        returns the matching callbacks. Raises ``CallbacksNotReached`` (an AssertionError) listing the
        callbacks there were when they are not reached in time."""
        __tracebackhide__ = True  # pytest shows the message, not this function's source
        deadline = real_monotonic() + timeout
        while True:
            step = max(0.0, min(self._wait_step, deadline - real_monotonic()))
            params = _params(account=account, url=url, state=state, count=count, wait=round(step, 3))
            answer = self._call("GET", "/callbacks", params=params)
            if answer["reached"]:
                found: list[dict[str, Any]] = answer["callbacks"]
                return found
            # Those that could come have failed or been dropped, and nothing more will push: fail now.
            if answer.get("settled") or real_monotonic() >= deadline:
                break
        seen = self.callbacks(account, url)
        where = "".join(f" {name} {value}" for name, value in (("to", url), ("of account", account)) if value)
        lines = "\n".join(callback_line(callback) for callback in seen) or "(none)"
        when = (f"; they can no longer come (the others failed or were dropped, nothing more will be pushed), "
                f"so this did not wait out its {timeout:g} s" if answer.get("settled") else f" within {timeout:g} s")
        raise CallbacksNotReached(
            f"mock-omni: expected {count} {state or 'recorded'} callback(s){where}{when}, "
            f"got {len(answer['callbacks'])}. The callbacks{where}:\n{lines}")

    def clear_callbacks(self, account: str | None = None) -> None:
        """Forget the callbacks (or one account's); those still queued are not sent."""
        self._call("DELETE", "/callbacks", params=_params(account=account))

    def delivery_rule(self, destination: str = "*", outcome: str = "DELIVERED", *, channel: str | None = None,
                      account: str | None = None, delay_seconds: float | None = None,
                      times: int | None = None, delay: float | None = None) -> dict[str, Any]:
        """Add an outcome rule: steps to ``destination`` (an address or glob) on ``channel`` end with ``outcome``
        after ``delay_seconds`` (the admin API's ``delaySeconds``; ``delay`` is its older name)."""
        body = _params(destination=destination, outcome=outcome, channel=channel, account=account,
                       delaySeconds=delay if delay_seconds is None else delay_seconds, times=times)
        rule: dict[str, Any] = self._call("POST", "/delivery-rules", json=body)
        return rule

    def delivery_rules(self, account: str | None = None) -> dict[str, Any]:
        """The rules in force and the ready-made test destinations."""
        found: dict[str, Any] = self._call("GET", "/delivery-rules", params=_params(account=account))
        return found

    def clear_delivery_rules(self, account: str | None = None) -> int:
        removed: int = self._call("DELETE", "/delivery-rules", params=_params(account=account))["removed"]
        return removed

    def advance_clock(self, seconds: float, account: str | None = None) -> float:
        """Move the mock's clock forward (everyone's, or one account's own): buckets refill, messages walk on,
        tokens and sessions expire; returns its offset in seconds."""
        body = _params(seconds=seconds, account=account)
        offset: float = self._call("POST", "/clock/advance", json=body)["offsetSeconds"]
        return offset

    def clock(self, account: str | None = None) -> float:
        """How far the clock (everyone's, or one account's) has been advanced, in seconds."""
        offset: float = self._call("GET", "/clock", params=_params(account=account))["offsetSeconds"]
        return offset
