"""The seed PUT answered in-process N times, for an instruction count under valgrind (bench/compare.py).

Instruction counts do not move with the shared machine's load, so small differences
between two trees show where wrk's rates are noise. bench/compare.py runs this file by
path, with another tree's package first on the path, twice per tree, and subtracts:
``python bench/instructions.py N [json|xml|send|json-new|xml-new]``. It needs only ``seed.py`` beside it. ``send`` is a
one-destination ``POST /omni/1/advanced`` through the seed scenario (a message made every call); ``json-new`` and
``xml-new`` number the scenario's name in every call, so every body is parsed (issue 24).
"""

from __future__ import annotations

import sys

from seed import ALADDIN_BASIC, REQUESTS, SEED_PATH  # type: ignore[import-not-found]

from mock_omni import Settings, create_app

try:
    from mock_omni.api.dispatcher import VendorRequest
    from mock_omni.api.ratelimit import parse_profile
except ImportError:
    try:  # a tree from before issue 19 named the vendor's HTTP surface api/ (f59fc59 and older)
        from mock_omni.vendor.api import VendorRequest  # type: ignore[no-redef]
        from mock_omni.vendor.ratelimit import parse_profile  # type: ignore[no-redef]
    except ImportError:  # a tree from before the package was shaped by layer (085fb2e and older)
        from mock_omni.ratelimit import parse_profile  # type: ignore[no-redef]
        from mock_omni.vendor_api import VendorRequest  # type: ignore[no-redef]

try:
    # The collector as ``mock-omni serve`` sets it: with CPython's defaults, full collections walk the whole app
    # and numbered bodies counted their survivors' walks too (bench/inprocess.py).
    from mock_omni.server.collector import settle
except ImportError:  # a tree from before the collector was set (15c36b9)
    def settle() -> None:
        pass


SEND = (b'{"scenarioKey": "CD265875E3A6EA43478D5F37A635BE4A", "sms": {"text": "Your parcel arrives today."}, '
        b'"viber": {"text": "Your parcel arrives today."}, "destinations": [{"to": {"phoneNumber": "41790000000"}}]}')


def main(count: int, fmt: str) -> None:
    fmt, new = fmt.removesuffix("-new"), fmt.endswith("-new")
    app = create_app(Settings(rate_limits=parse_profile(["off"])))
    settle()
    method, path = ("POST", "/omni/1/advanced") if fmt == "send" else ("PUT", SEED_PATH)
    content_type, text = REQUESTS["json" if fmt == "send" else fmt]
    body = SEND if fmt == "send" else text.encode()
    headers = [(b"host", b"bench"), (b"content-type", content_type.encode()),
               (b"authorization", ALADDIN_BASIC.encode()), (b"content-length", str(len(body)).encode())]
    if fmt != "xml":
        headers.append((b"accept", b"application/json"))
    # json-new, xml-new: the seed PUT with the scenario's name numbered, so no body is seen twice (issue 24).
    bodies = ([text.replace("SMS or VIBER", f"SMS or VIBER #{n}").encode() for n in range(count)] if new
              else [body] * count)
    answer = None
    for body in bodies:
        request = VendorRequest.read(method, path, b"", headers)
        app.answers_directly(request)
        answer = app.vendor.answer(request, body)
    assert answer is None or answer.status == 200, answer.content


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "json")
