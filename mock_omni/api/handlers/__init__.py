"""Handlers of the vendor calls, one module per resource: call the domain, return data."""
