"""The testing toolkit: admin API, faults, journal, admin client and the pytest plugin."""

#: Where mock-omni's own API lives; never part of the vendor's paths.
ADMIN_PREFIX = "/__admin"
#: The header that carries the admin token (``--admin-token``).
ADMIN_TOKEN_HEADER = "x-admin-token"
#: Every pushed report carries this header, and the admin API refuses what carries it: a notifyUrl that reaches
#: the admin API through something the address check cannot see (a proxy serving the mock under a prefix, a
#: public address or service that forwards to it) still changes nothing (web/csrf.py).
PUSH_HEADER = "x-mock-omni-push"
