"""Fixture documents: ``{"accounts": [{"username", "password", "apiKeys", "tokens", "oauth2Clients", "scenarios"}]}``.

An API key is a string (every scope) or ``{"key": "...", "scopes": ["omni-failover:manage"]}``; an
OAuth2 client is ``{"clientId": "...", "clientSecret": "...", "scopes": [...]}`` (scopes optional).

Files may be JSON or YAML. Everything is checked before anything is used, and a
problem is reported in one line naming the file, the account and the field, e.g.
``fixtures/a.json: account 'Aladdin': scenarios[1].key: must be 32 uppercase hex characters``.
The same checks serve state imports and seeded accounts of the admin API.
"""

from __future__ import annotations

import gc
import json
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .accounts import Account, KeyFactory, random_key
from .callbacks import PENDING_AT_EXPORT, Callback, callback_from_document, put_back
from .credentials import OAuth2Client, Scopes
from .delivery import Rule, rule_from_data
from .errors import BadRequest, InvalidArgument
from .message_documents import message_from_document
from .scenarios import Scenario, parse_scenario_data, steps_from_input

EMBEDDED = "embedded default fixtures"
KEY_PATTERN = re.compile(r"^[0-9A-F]{32}$")
_ACCOUNT_FIELDS = {"username", "password", "apiKeys", "tokens", "oauth2Clients", "scenarios", "messages", "callbacks"}
_DOCUMENT_FIELDS = {"accounts", "deliveryRules", "faults"}


@dataclass
class Extras:
    """What a document holds beside accounts and scenarios: delivery rules and sent messages (checked)."""

    delivery_rules: list[Rule] = field(default_factory=list)
    #: username -> message documents (``Messages.export``'s form).
    messages: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    #: username -> callback records (``Callback.document``'s form, checked), ids unique across the documents.
    callbacks: dict[str, list[Callback]] = field(default_factory=dict)
    #: Fault rules as the admin API takes them, each an object (testing/faults.py checks their fields).
    faults: list[dict[str, object]] = field(default_factory=list)
    #: Where each of ``faults`` came from: (the document's source, its index there), for errors naming them.
    fault_origins: list[tuple[str, int]] = field(default_factory=list)

    def documented_callbacks(self) -> tuple[Callback, ...]:
        """Every account's callbacks, to be records again: those pending when exported come back dropped."""
        return tuple(put_back((c for callbacks in self.callbacks.values() for c in callbacks), PENDING_AT_EXPORT))
_SCENARIO_FIELDS = {"key", "name", "flow", "default", "defaultScenario"}


class FixtureError(ValueError):
    """A fixture document is invalid; ``str()`` is the one-line message users see."""

    def __init__(self, source: str, where: str, message: str) -> None:
        self.source, self.where, self.message = source, where, message
        super().__init__(f"{source}: {where}: {message}" if where else f"{source}: {message}")


def load_files(paths: Sequence[str | Path], key_factory: KeyFactory = random_key,
               extras: Extras | None = None) -> list[Account]:
    """Read and check fixture files (accounts of all files together); the embedded set if none.

    Delivery rules and messages of the files go to ``extras`` when given.
    """
    with _gc_paused():
        return _load_files(paths, key_factory, extras)


@contextmanager
def _gc_paused() -> Iterator[None]:
    # Loading allocates millions of objects and no cycles; without this the cyclic GC
    # walks the growing heap again and again (about a third of a 100,000-scenario start-up).
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_files(paths: Sequence[str | Path], key_factory: KeyFactory, extras: Extras | None) -> list[Account]:
    if not paths:
        text = resources.files("mock_omni").joinpath("data/default-fixtures.json").read_text("utf-8")
        return accounts_from_document(json.loads(text), EMBEDDED, key_factory, extras)
    return merge_documents(((str(path), read_document(str(path))) for path in paths), key_factory, extras)


def merge_documents(documents: Iterable[tuple[str, object]], key_factory: KeyFactory = random_key,
                    extras: Extras | None = None) -> list[Account]:
    """The accounts of several (source, document) pairs together: each checked, then across them, so a
    username or secret defined twice names both sources."""
    accounts: list[Account] = []
    seen: dict[str, str] = {}
    sources: list[str] = []
    for source, document in documents:
        sources.append(source)
        for account in accounts_from_document(document, source, key_factory, extras):
            if account.username in seen:
                raise FixtureError(source, f"account {account.username!r}",
                                   f"username already defined in {seen[account.username]}")
            seen[account.username] = source
            accounts.append(account)
    _check_unique_secrets(accounts, ", ".join(sources))
    return accounts


def not_a_file(path: Path, pipes: bool) -> str | None:
    """What ``path`` is when it is no file to read a document from, else None: a device (/dev/zero, /dev/urandom,
    a terminal) never ends, and reading one took all the memory there was (8 GB in 10 s) before a word was said.
    A pipe or FIFO ends when its writer does: taken where ``pipes`` (``--fixtures <(...)``, /dev/stdin)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None  # reading says why
    kinds = [(stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")]
    if not pipes:
        kinds.append((stat.S_ISFIFO, "a pipe"))
    return next((f"{what}, not a file" for test, what in kinds if test(mode)), None)


def read_document(source: str) -> object:
    path = Path(source)
    problem = not_a_file(path, pipes=True)
    if problem:
        raise FixtureError(source, "", f"cannot read: {problem}")
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        # Absolute: a relative path was looked up from a current folder the reader may not know.
        raise FixtureError(str(path.absolute()), "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FixtureError(source, "", f"cannot read: {exc}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml  # only when a YAML fixture is used: keeps start-up lean

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise FixtureError(source, "", f"not valid YAML{at}") from None
        except RecursionError:
            raise FixtureError(source, "", f"not valid YAML: {TOO_DEEP}") from None
    return json_document(text, source, "not valid JSON")


#: What a document nested deeper than the parser's recursion can go gets (a fixture nests about six levels).
TOO_DEEP = "nested too deeply"


def json_document(text: str, source: str, problem: str) -> object:
    """``text`` parsed, or a FixtureError saying ``problem`` and where (or that it is nested too deeply: the parser's
    recursion, which would otherwise end start-up with a traceback)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FixtureError(source, "", f"{problem}: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise FixtureError(source, "", f"{problem}: {TOO_DEEP}") from None


def accounts_from_document(document: object, source: str, key_factory: KeyFactory = random_key,
                           extras: Extras | None = None) -> list[Account]:
    if not isinstance(document, dict):
        raise FixtureError(source, "", 'expected an object like {"accounts": [...]}')
    unknown = set(document) - _DOCUMENT_FIELDS
    if unknown:
        raise FixtureError(source, "", f"unknown field {sorted(unknown)[0]!r}")
    raw_accounts = document.get("accounts")
    if not isinstance(raw_accounts, list):
        raise FixtureError(source, "accounts", "must be a list")
    accounts: list[Account] = []
    usernames: set[str] = set()
    rules = _delivery_rules(document.get("deliveryRules", []), source)
    faults = document.get("faults", [])
    if not isinstance(faults, list):
        raise FixtureError(source, "faults", "must be a list")
    for index, rule in enumerate(faults):
        if not isinstance(rule, dict):
            raise FixtureError(source, f"faults[{index}]", "must be an object")
    if extras is not None:
        extras.delivery_rules.extend(rules)
        extras.faults.extend(faults)
        extras.fault_origins.extend((source, index) for index in range(len(faults)))
    for index, raw in enumerate(raw_accounts):
        account = account_from_data(raw, source, f"accounts[{index}]", key_factory, extras)
        if account.username in usernames:
            raise FixtureError(source, f"account {account.username!r}", "username: defined twice")
        usernames.add(account.username)
        accounts.append(account)
    _check_unique_secrets(accounts, source)
    return accounts


def account_from_data(raw: object, source: str, where: str, key_factory: KeyFactory = random_key,
                      extras: Extras | None = None) -> Account:
    """One account checked field by field; ``where`` names it until its username is known."""
    if not isinstance(raw, dict):
        raise FixtureError(source, where, "must be an object")
    username = raw.get("username")
    if not isinstance(username, str) or not username or ":" in username:
        raise FixtureError(source, where, "username: must be a non-empty string without ':'")
    if not _is_unicode(username):
        # Not in the account's name yet: repr of a lone surrogate is printable, but it could never be
        # rendered in JSON (orjson refuses it), so /__admin/state would answer 500.
        raise FixtureError(source, where, "username: must be valid Unicode (it holds a lone surrogate)")
    where = f"account {username!r}"
    unknown = set(raw) - _ACCOUNT_FIELDS
    if unknown:
        raise FixtureError(source, where, f"unknown field {sorted(unknown)[0]!r}")
    password = raw.get("password")
    if not isinstance(password, str) or not password:
        raise FixtureError(source, where, "password: must be a non-empty string")
    if not _is_unicode(password):
        raise FixtureError(source, where, "password: must be valid Unicode (it holds a lone surrogate)")
    api_keys, key_scopes = _api_keys(raw.get("apiKeys", []), source, where)
    tokens = _strings(raw.get("tokens", []), source, where, "tokens")
    clients = _oauth2_clients(raw.get("oauth2Clients", []), source, where, username)
    scenarios_raw = raw.get("scenarios", [])
    if not isinstance(scenarios_raw, list):
        raise FixtureError(source, where, "scenarios: must be a list")
    account = Account(username, password, api_keys, tokens, key_scopes=key_scopes, oauth2_clients=clients)
    defaults: list[int] = []
    for index, item in enumerate(scenarios_raw):
        scenario, is_default = _scenario(item, source, where, f"scenarios[{index}]", key_factory)
        if scenario.key in account.scenarios:
            raise FixtureError(source, where, f"scenarios[{index}].key: {scenario.key} appears twice")
        if is_default:
            defaults.append(index)
            if len(defaults) > 1:
                raise FixtureError(
                    source, where,
                    f"scenarios[{index}].default: scenarios[{defaults[0]}] is already the default; "
                    "exactly one scenario must be default",
                )
        account.add(scenario, is_default)
    if account.scenarios and not defaults:
        raise FixtureError(source, where, "scenarios: none has \"default\": true; exactly one must")
    messages = _messages(raw.get("messages", []), source, where)
    if extras is not None and messages:
        extras.messages[username] = messages
    callbacks = _callbacks(username, raw.get("callbacks", []), source, where)
    if extras is not None and callbacks:
        taken = {callback.id: name for name, others in extras.callbacks.items() for callback in others}
        for index, callback in enumerate(callbacks):
            if callback.id in taken:
                raise FixtureError(source, where, f"callbacks[{index}].id: {callback.id} is already the id of a "
                                                  f"callback of account {taken[callback.id]!r}")
            taken[callback.id] = username
        extras.callbacks[username] = callbacks
    return account


def _delivery_rules(raw: object, source: str) -> list[Rule]:
    if not isinstance(raw, list):
        raise FixtureError(source, "deliveryRules", "must be a list")
    rules = []
    for index, item in enumerate(raw):
        try:
            rules.append(rule_from_data(item))
        except InvalidArgument as exc:
            name, messages = next(iter((exc.validation_errors or {"": [exc.text]}).items()))
            raise FixtureError(source, f"deliveryRules[{index}].{name}", messages[0]) from None
        except BadRequest:
            raise FixtureError(source, f"deliveryRules[{index}]", "must be an object") from None
    return rules


def _messages(raw: object, source: str, where: str) -> list[dict[str, object]]:
    if not isinstance(raw, list):
        raise FixtureError(source, where, "messages: must be a list")
    for index, item in enumerate(raw):
        try:
            message_from_document(index, "", item)
        except ValueError as exc:
            raise FixtureError(source, where, f"messages[{index}].{exc}") from None
    return raw


def _callbacks(username: str, raw: object, source: str, where: str) -> list[Callback]:
    if not isinstance(raw, list):
        raise FixtureError(source, where, "callbacks: must be a list")
    callbacks = []
    for index, item in enumerate(raw):
        try:
            callbacks.append(callback_from_document(username, item))
        except ValueError as exc:
            raise FixtureError(source, where, f"callbacks[{index}].{exc}") from None
    return callbacks


def _strings(value: object, source: str, where: str, name: str) -> list[str]:
    if not isinstance(value, list):
        raise FixtureError(source, where, f"{name}: must be a list of strings")
    for index, item in enumerate(value):
        problem = header_secret_problem(item)
        if problem:
            raise FixtureError(source, where, f"{name}[{index}]: {problem}")
    if len(set(value)) != len(value):
        raise FixtureError(source, where, f"{name}: contains a duplicate")
    return list(value)


def _api_keys(value: object, source: str, where: str) -> tuple[list[str], dict[str, tuple[str, ...]]]:
    """Keys and the scopes of those limited to some: ``"key"`` (every scope) or ``{"key", "scopes"}``."""
    if not isinstance(value, list):
        raise FixtureError(source, where, "apiKeys: must be a list of strings or {\"key\", \"scopes\"} objects")
    keys: list[str] = []
    scopes: dict[str, tuple[str, ...]] = {}
    for index, item in enumerate(value):
        field = f"apiKeys[{index}]"
        if isinstance(item, dict):
            unknown = set(item) - {"key", "scopes"}
            if unknown:
                raise FixtureError(source, where, f"{field}: unknown field {sorted(unknown)[0]!r}")
            key = item.get("key")
            _header_secret(key, source, where, f"{field}.key")
            assert isinstance(key, str)
            limited = _scopes(item.get("scopes"), source, where, f"{field}.scopes")
            if limited is not None:
                scopes[key] = limited
        else:
            _header_secret(item, source, where, field)
            assert isinstance(item, str)
            key = item
        keys.append(key)
    if len(set(keys)) != len(keys):
        raise FixtureError(source, where, "apiKeys: contains a duplicate")
    return keys, scopes


def _oauth2_clients(value: object, source: str, where: str, username: str) -> list[OAuth2Client]:
    if not isinstance(value, list):
        raise FixtureError(source, where, 'oauth2Clients: must be a list of {"clientId", "clientSecret"} objects')
    clients: list[OAuth2Client] = []
    for index, item in enumerate(value):
        field = f"oauth2Clients[{index}]"
        if not isinstance(item, dict):
            raise FixtureError(source, where, f'{field}: must be an object {{"clientId", "clientSecret", "scopes"}}')
        unknown = set(item) - {"clientId", "clientSecret", "scopes"}
        if unknown:
            raise FixtureError(source, where, f"{field}: unknown field {sorted(unknown)[0]!r}")
        client_id, secret = item.get("clientId"), item.get("clientSecret")
        _secret(client_id, source, where, f"{field}.clientId")
        _secret(secret, source, where, f"{field}.clientSecret")
        assert isinstance(client_id, str) and isinstance(secret, str)
        if client_id == username:
            raise FixtureError(source, where, f"{field}.clientId: is the account's username, which with the "
                                              "password already acts as a client")
        if any(client.client_id == client_id for client in clients):
            raise FixtureError(source, where, f"{field}.clientId: {client_id!r} appears twice")
        clients.append(OAuth2Client(client_id, secret, _scopes(item.get("scopes"), source, where, f"{field}.scopes")))
    return clients


def _header_secret(value: object, source: str, where: str, field: str) -> None:
    problem = header_secret_problem(value)
    if problem:
        raise FixtureError(source, where, f"{field}: {problem}")


def _secret(value: object, source: str, where: str, field: str) -> None:
    # Client ids and secrets travel form-encoded or in Basic (UTF-8): any Unicode text will do.
    if not isinstance(value, str) or not value or value != value.strip():
        raise FixtureError(source, where, f"{field}: must be a non-empty string without spaces around it")
    if not _is_unicode(value):
        raise FixtureError(source, where, f"{field}: must be valid Unicode (it holds a lone surrogate)")


def _scopes(value: object, source: str, where: str, field: str) -> Scopes:
    """A list of scope names (an empty list: no scope at all); absent or null: every scope."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(s, str) and s and " " not in s for s in value):
        raise FixtureError(source, where, f"{field}: must be a list of scope names such as \"omni-failover:manage\"")
    return tuple(dict.fromkeys(value))


def header_secret_problem(value: object) -> str | None:
    """Why ``value`` could never match as a secret sent whole in an HTTP header (API key, token, admin
    token), or None. Header values reach the server as bytes read as Latin-1, so a non-ASCII secret
    would never compare equal; HTTP parsers trim spaces around a value and refuse control characters.
    """
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if not all(" " <= char <= "~" for char in value):
        return "must be printable ASCII (HTTP headers carry it byte for byte)"
    if value != value.strip():
        return "must have no spaces around it"
    return None


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _scenario(raw: object, source: str, where: str, field: str, key_factory: KeyFactory) -> tuple[Scenario, bool]:
    if not isinstance(raw, dict):
        raise FixtureError(source, where, f"{field}: must be an object")
    unknown = set(raw) - _SCENARIO_FIELDS
    if unknown:
        raise FixtureError(source, where, f"{field}: unknown field {sorted(unknown)[0]!r}")
    key = raw.get("key")
    if key is None:
        key = key_factory()
    elif not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise FixtureError(source, where, f"{field}.key: must be 32 uppercase hex characters, got {key!r}")
    try:
        data = parse_scenario_data({k: v for k, v in raw.items() if k != "key"})
    except InvalidArgument as exc:
        name, messages = next(iter((exc.validation_errors or {"": [exc.text]}).items()))
        raise FixtureError(source, where, f"{field}.{name}: {messages[0]}") from None
    except Exception:
        raise FixtureError(source, where, f"{field}: not a valid scenario") from None
    if data.flow is None:
        raise FixtureError(source, where, f"{field}.flow: is required")
    kept_name = None if data.name is None else _detached(data.name)
    return Scenario(_detached(key), kept_name, steps_from_input(data.flow)), bool(data.default)


def _detached(text: str) -> str:
    """An equal string in memory of its own.

    What a scenario keeps must not live amid the parsed document: then the document's
    memory goes back to the system once it is dropped (a 100,000-scenario file: about
    85 MB resident instead of 175).
    """
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")


def _check_unique_secrets(accounts: Iterable[Account], source: str) -> None:
    accounts = list(accounts)
    owners: dict[tuple[str, str], str] = {}
    # A client id names one client: no other account's client, and no username (usernames act as client ids).
    for account in accounts:
        owners[("oauth2Clients", account.username)] = account.username
    for account in accounts:
        clients = [client.client_id for client in account.oauth2_clients]
        for kind, secrets in (("apiKeys", account.api_keys), ("tokens", account.tokens), ("oauth2Clients", clients)):
            for secret in secrets:
                other = owners.setdefault((kind, secret), account.username)
                if other != account.username:
                    raise FixtureError(source, f"account {account.username!r}",
                                       f"{kind}: a value is already used by account {other!r}")


def format_document_error(exc: FixtureError) -> dict[str, list[str]]:
    """A FixtureError as the vendor's validationErrors (for admin API imports)."""
    return {exc.where or "document": [exc.message]}


