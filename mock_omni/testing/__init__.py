"""The testing toolkit: admin API, faults, journal, admin client and the pytest plugin."""

#: Where mock-omni's own API lives; never part of the vendor's paths.
ADMIN_PREFIX = "/__admin"
#: The header that carries the admin token (``--admin-token``).
ADMIN_TOKEN_HEADER = "x-admin-token"
