"""The testing toolkit: admin API, faults, journal, admin client and the pytest plugin."""

#: Where mock-omni's own API lives; never part of the vendor's paths.
ADMIN_PREFIX = "/__admin"
#: The header that carries the admin token (``--admin-token``).
ADMIN_TOKEN_HEADER = "x-admin-token"
#: The User-Agent of every pushed report, which the admin API refuses (web/csrf.py): a notifyUrl that reaches the
#: admin API through something the address check cannot see (a proxy serving the mock under a prefix, a public
#: address or service that forwards to it) still changes nothing. A value, not a header of its own: the pushes
#: carry no header the vendor's do not (every HTTP client sends a User-Agent; the vendor documents none).
PUSH_USER_AGENT = "mock-omni (pushed delivery report)"
