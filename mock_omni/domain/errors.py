"""Domain errors, each carrying the vendor's status, messageId and text.

One handler (``vendor_api.render_error``) turns any of them into the vendor's
envelope in the negotiated format; nothing else builds error bodies.

    OmniError
     ├── BadRequest           400 BAD_REQUEST        body does not parse
     ├── InvalidArgument      400 INVALID_ARGUMENT   parses, but values are invalid
     ├── Unauthorized         401 UNAUTHORIZED
     ├── NotFound             404 NOT_FOUND
     ├── MethodNotAllowed     405 (ours; the vendor documents none)
     ├── NotAcceptable        406 (ours)
     ├── PayloadTooLarge      413 (ours)
     ├── UriTooLong           414 (ours; a request target the HTTP parser cannot take)
     ├── UnsupportedMediaType 415 (ours)
     ├── TooManyRequests      429 TOO_MANY_REQUESTS
     ├── ServiceUnavailable   503 (ours; only ever injected as a fault)
     └── GeneralError         500 GENERAL_ERROR
"""

from __future__ import annotations

from typing import ClassVar


class OmniError(Exception):
    """Base of every error the vendor API can answer with."""

    status: ClassVar[int] = 500
    message_id: ClassVar[str] = "GENERAL_ERROR"
    default_text: ClassVar[str] = "Something went wrong. Please contact support."

    def __init__(
        self,
        text: str | None = None,
        validation_errors: dict[str, list[str]] | None = None,
    ) -> None:
        self.text = text or self.default_text
        self.validation_errors = validation_errors
        super().__init__(self.text)

    def envelope(self) -> dict[str, object]:
        """The vendor's error body as plain data (rendered to JSON or XML elsewhere)."""
        details: dict[str, object] = {"messageId": self.message_id, "text": self.text}
        if self.validation_errors:
            details["validationErrors"] = self.validation_errors
        return {"requestError": {"serviceException": details}}


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


class NotAcceptable(OmniError):
    status = 406
    message_id = "NOT_ACCEPTABLE"
    default_text = "Not acceptable: the API answers application/json or application/xml"


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


# Any status an admin may inject as a fault maps to the class that renders it.
BY_STATUS: dict[int, type[OmniError]] = {
    cls.status: cls
    for cls in (
        BadRequest, Unauthorized, NotFound, MethodNotAllowed, NotAcceptable,
        PayloadTooLarge, UnsupportedMediaType, TooManyRequests, ServiceUnavailable,
        GeneralError,
    )
}
