"""Domain errors, each carrying the vendor's status, messageId and text.

One handler (``vendor_api.render_error``) turns any of them into the vendor's
envelope in the negotiated format; nothing else builds error bodies.

    OmniError
     ├── BadRequest           400 BAD_REQUEST        body does not parse
     ├── InvalidArgument      400 INVALID_ARGUMENT   parses, but values are invalid
     ├── Unauthorized         401 UNAUTHORIZED
     ├── Forbidden            403 FORBIDDEN          the credential lacks the operation's scopes
     ├── NotFound             404 NOT_FOUND
     ├── Conflict             409 CONFLICT           (messageId ours; only ever injected as a fault)
     ├── MethodNotAllowed     405 (ours; the vendor documents none)
     ├── NotAcceptable        406 (ours)
     ├── RequestTimeout       408 (ours; a request's headers or body stalled: server/http_protocol.py)
     ├── PayloadTooLarge      413 (ours)
     ├── UriTooLong           414 (ours; a request target the HTTP parser cannot take)
     ├── UnsupportedMediaType 415 (ours)
     ├── TooManyRequests      429 TOO_MANY_REQUESTS
     ├── ServiceUnavailable   503 (ours; injected as a fault, or a callbacks wait at shutdown)
     ├── GeneralError         500 GENERAL_ERROR
     └── OAuth2Error          the token endpoint's errors, RFC 6749 5.2's body instead of the envelope
          ├── InvalidTokenRequest   400 invalid_request
          ├── InvalidClient         401 invalid_client
          ├── UnsupportedGrantType  400 unsupported_grant_type
          └── InvalidScope          400 invalid_scope
"""

from __future__ import annotations

from typing import ClassVar, Self


class OmniError(Exception):
    """Base of every error the vendor API can answer with."""

    status: ClassVar[int] = 500
    message_id: ClassVar[str] = "GENERAL_ERROR"
    default_text: ClassVar[str] = "Something went wrong. Please contact support."
    #: Why, in one sentence, with what the vendor's body does not say: the journal's, never the client's.
    reason: str | None = None

    def __init__(
        self,
        text: str | None = None,
        validation_errors: dict[str, list[str]] | None = None,
    ) -> None:
        self.text = text or self.default_text
        self.validation_errors = validation_errors
        super().__init__(self.text)

    def because(self, reason: str) -> Self:
        """This error, with the mock's ``reason`` for it (``raise Unauthorized().because(...)``)."""
        self.reason = reason
        return self

    def envelope(self) -> dict[str, object]:
        """The vendor's error body as plain data (rendered to JSON or XML elsewhere)."""
        details: dict[str, object] = {"messageId": self.message_id, "text": self.text}
        if self.validation_errors:
            details["validationErrors"] = self.validation_errors
        return {"requestError": {"serviceException": details}}

    def headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """Headers the answer carries beyond content-type and content-length."""
        return ()


class BadRequest(OmniError):
    status = 400
    message_id = "BAD_REQUEST"
    default_text = "Bad request"


class InvalidArgument(OmniError):
    status = 400
    message_id = "INVALID_ARGUMENT"
    default_text = "Invalid argument"


class Unauthorized(OmniError):
    status = 401
    message_id = "UNAUTHORIZED"
    default_text = "Invalid login details"


class Forbidden(OmniError):
    # The vendor's ApiException403 example.
    status = 403
    message_id = "FORBIDDEN"
    default_text = "Forbidden"


class Conflict(OmniError):
    # The vendor documents 409 on every scenario call but no messageId or text; each operation
    # states its own wording of it (routes.py), which an injected 409 says.
    status = 409
    message_id = "CONFLICT"
    default_text = "Conflict"


class NotFound(OmniError):
    status = 404
    message_id = "NOT_FOUND"
    default_text = "Scenario not found."


class MethodNotAllowed(OmniError):
    status = 405
    message_id = "METHOD_NOT_ALLOWED"
    default_text = "Method not allowed"

    def __init__(self, allowed: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.allowed = allowed

    def headers(self) -> tuple[tuple[bytes, bytes], ...]:
        return ((b"allow", ", ".join(self.allowed).encode()),)


class NotAcceptable(OmniError):
    status = 406
    message_id = "NOT_ACCEPTABLE"
    default_text = "Not acceptable: the API answers application/json or application/xml"


class RequestTimeout(OmniError):
    status = 408
    message_id = "REQUEST_TIMEOUT"
    default_text = "Request timeout: the request did not arrive in time"


class PayloadTooLarge(OmniError):
    status = 413
    message_id = "PAYLOAD_TOO_LARGE"
    default_text = "Request body too large"


class UriTooLong(OmniError):
    status = 414
    message_id = "URI_TOO_LONG"
    default_text = "Request target too long: at most 65535 bytes"


class UnsupportedMediaType(OmniError):
    status = 415
    message_id = "UNSUPPORTED_MEDIA_TYPE"
    default_text = "Unsupported media type: send application/json or application/xml"


class TooManyRequests(OmniError):
    status = 429
    message_id = "TOO_MANY_REQUESTS"
    default_text = "Too many requests"


class ServiceUnavailable(OmniError):
    status = 503
    message_id = "SERVICE_UNAVAILABLE"
    default_text = "Service unavailable"


class GeneralError(OmniError):
    status = 500


class OAuth2Error(OmniError):
    """An error of the token endpoint: ``{"error", "error_description"}`` (RFC 6749 5.2), not the envelope."""

    status = 400
    message_id = "invalid_request"
    default_text = "The request is missing a parameter or is otherwise malformed."

    def envelope(self) -> dict[str, object]:
        return {"error": self.message_id, "error_description": self.text}

    def headers(self) -> tuple[tuple[bytes, bytes], ...]:
        # RFC 6749 5.1: token endpoint answers must not be cached; its errors neither.
        return ((b"cache-control", b"no-store"), (b"pragma", b"no-cache"))


class InvalidTokenRequest(OAuth2Error):
    pass


class InvalidClient(OAuth2Error):
    status = 401
    message_id = "invalid_client"
    default_text = "Client authentication failed."

    def __init__(self, text: str | None = None, challenge: bool = False) -> None:
        super().__init__(text)
        #: The client tried HTTP Basic: RFC 6749 5.2 requires a WWW-Authenticate challenge then.
        self.challenge = challenge

    def headers(self) -> tuple[tuple[bytes, bytes], ...]:
        challenge = ((b"www-authenticate", b'Basic realm="mock-omni"'),) if self.challenge else ()
        return (*super().headers(), *challenge)


class UnsupportedGrantType(OAuth2Error):
    message_id = "unsupported_grant_type"
    default_text = "Only grant_type=client_credentials is supported."


class InvalidScope(OAuth2Error):
    message_id = "invalid_scope"
    default_text = "The requested scope is invalid, unknown, or exceeds the client's scopes."


# Any status an admin may inject as a fault maps to the class that renders it.
BY_STATUS: dict[int, type[OmniError]] = {
    cls.status: cls
    for cls in (
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, MethodNotAllowed, NotAcceptable,
        PayloadTooLarge, UnsupportedMediaType, TooManyRequests, ServiceUnavailable,
        GeneralError,
    )
}
