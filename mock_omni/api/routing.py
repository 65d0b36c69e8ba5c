"""What an entry of the route table is, and the router compiled from the table (routes.py).

An ``Operation`` states everything about one vendor call that more than one part of
the server needs: method and path template, handler, success status, the vendor's
operationId and scopes (``x-scopes``), its rate limit (``x-throttling-info``), query
parameters, body model, response model, XML element names and documented errors.
The dispatcher (api.py), the limiter, the fast path and the OpenAPI all read it here.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl

from pydantic import BaseModel

from ..domain.errors import BadRequest, InvalidArgument, MethodNotAllowed, NotFound, OmniError
from ..domain.send_request import parse_instant
from ..domain.validation import problems_sentence

if TYPE_CHECKING:
    from ..domain.backend import Backend
    from ..domain.steps import Steps
    from .ratelimit import Rule

INT32_MAX = 2**31 - 1


@dataclass(frozen=True, slots=True)
class QueryParam:
    """One query parameter: its type decides how it is read and how /openapi.json shows it."""

    name: str
    kind: Literal["boolean", "int32", "string", "enum", "date-time", "string-list"]
    description: str
    #: Any, not object: mypyc (bench.compare --compile) cannot compile a dataclass field typed object.
    default: Any = None
    minimum: int = 0
    maximum: int = INT32_MAX
    #: The values of an ``enum`` parameter, and the name of its schema in /openapi.json.
    choices: tuple[str, ...] = ()
    schema: str | None = None

    def read(self, text: str) -> object:
        """The value of ``text``, or ValueError with the message the client gets.

        ``date-time`` reads as exact POSIX seconds (a Fraction); ``string-list`` as a tuple (the values of repeated
        parameters and comma-separated ones together).
        """
        if self.kind == "enum":
            if text not in self.choices:
                raise ValueError(f"must be one of {', '.join(self.choices)}")
            return text
        if self.kind == "date-time":
            return parse_instant(text)
        if self.kind == "boolean":
            flag = text.lower()
            if flag not in ("true", "false"):
                raise ValueError("must be true or false")
            return flag == "true"
        if self.kind == "int32":
            # Length first: int() of a 5,000-digit string raises (Python's 4,300-digit limit).
            if not (text.isascii() and text.isdigit() and len(text) <= 10) or not (
                self.minimum <= int(text) <= self.maximum
            ):
                raise ValueError(f"must be an integer from {self.minimum} to {self.maximum}")
            return int(text)
        return text


@dataclass(slots=True)
class Call:
    """What a handler gets from one request, already checked."""

    #: The authenticated account; empty for sign-in calls until the handler has checked their
    #: credentials and set it (the journal records it).
    account: str
    #: Path parameters by name (``scenarioKey``).
    params: dict[str, str]
    #: Query parameters by name, defaults filled in.
    query: dict[str, object]
    #: The validated body (an instance of the operation's ``body`` model), None without one;
    #: for a ``form`` operation, the raw form-encoded bytes.
    body: Any
    #: The request's Authorization header (sign-in calls read the token itself).
    authorization: str | None = None
    #: What the handler adds to the journal's reason of a success (a send that outgrew the message bound).
    notes: list[str] | None = None


#: A handler returns the data to answer with, or (a send) work in steps that returns it (domain/steps.py).
Handler = Callable[["Backend", Call], "dict[str, object] | Steps[dict[str, object]]"]


@dataclass(frozen=True)
class Operation:
    """One vendor call: the single place every part of the server learns about it from."""

    #: The operation's short name: rate-limit specs (``update=5/1m``) and the journal use it.
    name: str
    method: str
    #: The path template, parameters in braces: ``/omni/1/scenarios/{scenarioKey}``.
    path: str
    handler: Handler
    operation_id: str
    summary: str
    tag: str
    description: str = ""
    status: int = 200
    #: The vendor's ``x-scopes``: a credential needs one of them.
    scopes: tuple[str, ...] = ()
    #: The vendor's ``x-throttling-info``, as the limiter applies it; None: not limited.
    limit: Rule | None = None
    query: tuple[QueryParam, ...] = ()
    #: The request body's model (JSON and XML), None for calls without a body.
    body: type[BaseModel] | None = None
    #: The success response's model (for /openapi.json).
    response: type[BaseModel] | None = None
    #: The XML root element of the success response.
    xml_root: str = "response"
    #: XML element names of list items, by the list's element name (``flow`` -> ``step``).
    xml_items: Mapping[str, str] = field(default_factory=dict)
    #: Statuses the vendor documents for this call, beyond the success (published in /openapi.json).
    errors: tuple[int, ...] = ()
    #: Examples for /openapi.json: ``request``, ``request_xml``, ``response``, ``response_xml``.
    examples: Mapping[str, Any] = field(default_factory=dict)
    #: Whether the call needs credentials (the sign-in calls do not).
    authenticated: bool = True
    #: The security schemes /openapi.json lists for it (names of its securitySchemes).
    security: tuple[str, ...] = ("IBSSOTokenHeader", "APIKeyHeader", "Basic", "OAuth2")
    #: Whether the HTTP protocol may answer the call in place (server/http_protocol.py).
    direct: bool = True
    #: The body is ``application/x-www-form-urlencoded`` (OAuth2): the handler reads it (``body``
    #: then only describes it in /openapi.json).
    form: bool = False
    #: Answers are JSON whatever ``Accept`` says (RFC 6749 defines the token response as JSON).
    json_only: bool = False
    #: Headers of the success answer beyond content-type and content-length.
    headers: tuple[tuple[bytes, bytes], ...] = ()
    #: The vendor's wording of a documented error status, where the operation has its own: an
    #: injected fault of that status says it (unless the fault rule gives a message).
    texts: Mapping[int, str] = field(default_factory=dict)
    #: The journal's reason for a success of this operation (built once).
    answered: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "answered", f"answered by {self.method} {self.path} (operation '{self.name}')")

    def worded(self, error: OmniError) -> OmniError:
        """``error`` with this operation's wording of its status, if it has one and the error says the default."""
        text = self.texts.get(error.status)
        if text is not None and error.text == error.default_text:
            error.text = text
        return error

    def parse_query(self, query: bytes) -> dict[str, object]:
        """The declared query parameters with defaults; the first of repeated ones counts (a ``string-list``
        takes them all); others are ignored."""
        values: dict[str, object] = {param.name: param.default for param in self.query}
        if not query:
            return values
        try:
            pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, strict_parsing=False)
        except ValueError as exc:
            raise BadRequest().because(f"the query does not parse: {exc}") from None
        given: dict[str, str] = {}
        lists: dict[str, list[str]] = {}
        for name, value in pairs:
            given.setdefault(name, value)
            lists.setdefault(name, []).extend(value.split(","))
        errors: dict[str, list[str]] = {}
        for param in self.query:
            if param.kind == "string-list" and param.name in lists:
                values[param.name] = tuple(item for item in lists[param.name] if item)
            elif param.name in given:
                try:
                    values[param.name] = param.read(given[param.name])
                except ValueError as exc:
                    errors[param.name] = [str(exc)]
        if errors:
            raise InvalidArgument(validation_errors=errors).because(problems_sentence(errors))
        return values


@dataclass(frozen=True, slots=True)
class _Template:
    path: str
    #: Literal segments, or None where a parameter stands.
    segments: tuple[str | None, ...]
    names: tuple[str, ...]
    by_method: dict[str, Operation]
    #: For the common shape ``/literal/.../{name}`` (one parameter, last): the literal part before it.
    tail_prefix: str | None

    def match(self, path: str) -> dict[str, str] | None:
        if self.tail_prefix is not None:
            # The hot path's shape (/omni/1/scenarios/{scenarioKey}): a prefix test and one find.
            if not path.startswith(self.tail_prefix):
                return None
            value = path[len(self.tail_prefix):]
            return {self.names[0]: value} if value and "/" not in value else None
        parts = path.split("/")
        if len(parts) != len(self.segments):
            return None
        values = []
        for part, segment in zip(parts, self.segments, strict=True):
            if segment is None:
                if not part:
                    return None
                values.append(part)
            elif part != segment:
                return None
        return dict(zip(self.names, values, strict=True))


class Router:
    """Method and path to an operation; 404 and 405 (with every allowed method) in the vendor's terms.

    ``aliases`` maps a path prefix to the canonical one it stands for; matching, faults and
    the journal all see the canonical path.
    """

    def __init__(self, operations: tuple[Operation, ...], aliases: Mapping[str, str]) -> None:
        self.operations = operations
        self.aliases = dict(aliases)
        self.alias_prefixes = tuple(aliases)
        by_path: dict[str, dict[str, Operation]] = {}
        for operation in operations:
            methods = by_path.setdefault(operation.path, {})
            if operation.method in methods:
                raise ValueError(f"two operations for {operation.method} {operation.path}")
            methods[operation.method] = operation
        #: Paths without parameters, looked up whole (the common case costs one dict lookup).
        self._exact = {path: methods for path, methods in by_path.items() if "{" not in path}
        self._templates = tuple(_compile(path, methods) for path, methods in by_path.items() if "{" in path)
        #: First segments of every vendor path: what ``handles`` recognises as the vendor's.
        self.prefixes = tuple(sorted({"/" + op.path.split("/")[1] + "/" for op in operations} | set(aliases)))
        self.by_name = {operation.name: operation for operation in operations}
        #: Whether every operation may be answered in the protocol (then nothing needs routing first).
        self.all_direct = all(operation.direct for operation in operations)

    def handles(self, path: str) -> bool:
        return path.startswith(self.prefixes)

    def canonical(self, path: str) -> str:
        if not path.startswith(self.alias_prefixes):
            return path
        for alias, target in self.aliases.items():
            if path.startswith(alias):
                return target + path[len(alias):]
        return path

    def direct(self, method: str, path: str) -> bool:
        """Whether the protocol may answer this call in place: unknown paths and methods (404, 405) may."""
        try:
            operation, _ = self.match(method, self.canonical(path))
        except (NotFound, MethodNotAllowed):
            return True
        return operation.direct

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]]:
        """The operation for a canonical path and its parameters, or NotFound / MethodNotAllowed."""
        methods = self._exact.get(path)
        params: dict[str, str] | None = {}
        if methods is None:
            for template in self._templates:
                params = template.match(path)
                if params is not None:
                    methods = template.by_method
                    break
        if methods is None or params is None:
            raise NotFound("Resource not found.").because(self._closest(method, path))
        operation = methods.get(method)
        if operation is None:
            raise MethodNotAllowed(tuple(methods)).because(
                f"{method} is not a method of {next(iter(methods.values())).path}: it takes {', '.join(methods)}")
        return operation, params

    def _closest(self, method: str, path: str) -> str:
        """Why no route matched, naming the operation whose path (and method) is closest to the call's."""
        calls = [f"{op.method} {op.path}" for op in self.operations]
        close = difflib.get_close_matches(f"{method} {path}", calls, n=1, cutoff=0.5)
        hint = f"; the closest is {close[0]}" if close else ""
        return f"no vendor operation matches {method} {path}{hint}"


def _compile(path: str, methods: dict[str, Operation]) -> _Template:
    segments: list[str | None] = []
    names: list[str] = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            segments.append(None)
            names.append(part[1:-1])
        else:
            segments.append(part)
    tail_prefix = path[:path.index("{")] if len(names) == 1 and segments[-1] is None else None
    return _Template(path, tuple(segments), tuple(names), methods, tail_prefix)
