"""What a ``--store`` URL may say, checked before anything connects: one line naming the mistake.

redis-py reads a URL leniently: a database that is not a number (``/O``, ``/abc``) silently
becomes database 0, and an option it does not know (``?socket_timout=2``) is passed on to the
connection class, which raises a ``TypeError`` on the first command (a traceback). Here each
part is checked the way redis-py will read it, with redis-py's own parsers of option values.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

#: Options redis-py 5 to 8 takes in a URL's query as text (its classes' parameters that are not objects); the
#: installed version's parsed options (``URL_QUERY_ARGUMENT_PARSERS``) are added to them.
KNOWN_OPTIONS = frozenset({
    "db", "socket_timeout", "socket_connect_timeout", "socket_keepalive", "socket_read_size", "retry_on_timeout",
    "max_connections", "health_check_interval", "client_name", "username", "password", "protocol",
    "encoding", "encoding_errors", "ssl_keyfile", "ssl_certfile", "ssl_cert_reqs", "ssl_ca_certs", "ssl_ca_path",
    "ssl_check_hostname", "ssl_password", "ssl_ciphers", "ssl_min_version",
})
SCHEMES = ("redis", "rediss", "unix")


def shown(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


def store_url_problem(url: str) -> str | None:
    """What is wrong with ``url`` as a Redis store, in a few words; None when redis-py will read it as written."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES or not url.lower().startswith(tuple(f"{s}://" for s in SCHEMES)):
        return f"expected 'memory' or a Redis URL such as redis://127.0.0.1:6379/0, got {shown(url)!r}"
    try:
        port = parts.port
    except ValueError:
        port_text = parts.netloc.rpartition("@")[2].rpartition(":")[2]
        return f"port {port_text!r} in {shown(url)!r} is not a number from 1 to 65535"
    if scheme == "unix":
        if not parts.path:
            return f"a unix:// URL names the socket's path (unix:///run/redis.sock), got {shown(url)!r}"
    else:
        if port == 0:
            return f"port 0 in {shown(url)!r} is not a number from 1 to 65535"
        host = parts.hostname or ""
        try:
            # As the connection will encode it: a host of bytes that are not UTF-8 (\udcff) or of characters no
            # name may hold ended start-up with the codec's words ("encoding with 'idna' codec failed"), no flag.
            host.encode("idna")
        except UnicodeError:
            return f"host {host!r} in {shown(url)!r} is not a host name or address"
        database = unquote(parts.path).strip("/")
        if database and not (database.isascii() and database.isdigit()):  # isdigit alone takes "²"
            return f"database {database!r} in {shown(url)!r} is not a number (redis://host:6379/0)"
    return _options_problem(parts.query, url)


def _options_problem(query: str, url: str) -> str | None:
    known = known_options()
    seen: set[str] = set()
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(sorted(known))}"
            return f"unknown option {name!r} in {shown(url)!r}{hint}"
        if name in seen:
            return f"option {name!r} is given twice in {shown(url)!r}"
        seen.add(name)
        parser = _value_parsers().get(name)
        if parser is not None:
            try:
                parser(value)
            except (TypeError, ValueError):
                return f"option {name}={value!r} in {shown(url)!r} is not a valid value"
    return None


def known_options() -> frozenset[str]:
    """The query options taken: those redis-py 5 to 8 reads from text, and the installed one's parsed options."""
    return KNOWN_OPTIONS | frozenset(_value_parsers())


def _value_parsers() -> dict[str, Callable[[str], object]]:
    try:
        from redis.connection import URL_QUERY_ARGUMENT_PARSERS
    except ImportError:  # outside the tested range: only names are checked
        return {}
    parsers: dict[str, Callable[[str], object]] = {}
    for name, parser in URL_QUERY_ARGUMENT_PARSERS.items():
        if callable(parser):
            parsers[name] = parser
    return parsers
