"""The vendor's own examples (scenario-update.txt, its OpenAPI), published in /openapi.json and used by tests."""

from __future__ import annotations

SEED_KEY = "CD265875E3A6EA43478D5F37A635BE4A"
SEED_UPDATE: dict[str, object] = {
    "name": "Test update: SMS or VIBER",
    "flow": [
        {"from": "InfoSMS", "channel": "SMS"},
        {"from": "0492DF1379D122771652385E4C6743E3", "channel": "VIBER"},
    ],
    "default": True,
}
SEED_UPDATE_XML = (
    "<scenario><name>Test update: SMS or VIBER</name><flow>"
    "<step><from>InfoSMS</from><channel>SMS</channel></step>"
    "<step><from>0492DF1379D122771652385E4C6743E3</from><channel>VIBER</channel></step>"
    "</flow><default>true</default></scenario>"
)
SEED_RESPONSE: dict[str, object] = {"key": SEED_KEY, **SEED_UPDATE}
SEED_RESPONSE_XML = f"<scenario><key>{SEED_KEY}</key>" + SEED_UPDATE_XML.removeprefix("<scenario>")

SCENARIO = {"request": SEED_UPDATE, "request_xml": SEED_UPDATE_XML,
            "response": SEED_RESPONSE, "response_xml": SEED_RESPONSE_XML}
SCENARIO_LIST = {"response": {"scenarios": [SEED_RESPONSE]}}


# The vendor's OpenAPI examples of sending (tests hold every one of them against the server).
SEND_REQUEST: dict[str, object] = {
    "scenarioKey": "AD9E01A5DC7BEE2C2B828D208182A611",
    "bulkId": "BULK-ID-123-xyz",
    "destinations": [
        {"messageId": "MESSAGE-ID-123-xyz", "to": {"phoneNumber": "41793026727", "emailAddress": "email@example.com"}},
        {"to": {"phoneNumber": "41793026731"}},
    ],
    "sms": {"text": "Artık Ulusal Dil Tanımlayıcısı ile Türkçe karakterli smslerinizi rahatlıkla iletebilirsiniz.",
            "transliteration": "TURKISH", "language": {"languageCode": "TR"}},
    "viber": {"text": "Or to have fun with Viber text."},
    "voice": {"text": "Or make a call and read this text"},
    "email": {"text": "Finally, send an email.", "subject": "Email subject"},
}
_PENDING = {"groupId": 1, "groupName": "PENDING", "id": 7, "name": "PENDING_ENROUTE",
            "description": "Message sent to next instance"}
SEND_RESPONSE: dict[str, object] = {
    "bulkId": "Bulk-ID-12xyz",
    "messages": [
        {"to": {"phoneNumber": "41793026727", "emailAddress": "email@example.com"}, "status": _PENDING,
         "messageId": "MESSAGE-ID-123-xyz"},
        {"to": {"phoneNumber": "41793026731"}, "status": _PENDING, "messageId": "4adbe74a-a600-47b3-9f2e-e410d3224843"},
    ],
}
TEXT_REQUEST: dict[str, object] = {
    "scenarioKey": "CD265875E3A6EA43478D5F37A635BE4A", "destinations": [{"to": {"phoneNumber": "41793026727"}}],
    "text": "The same text on every step of the flow.",
}
_DELIVERED = {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET",
              "description": "Message delivered to handset"}
REPORTS: dict[str, object] = {"results": [{
    "bulkId": "bafdeb3d-719b-4cce-8762-54d47b40f3c5", "messageId": "07e03aae-fabc-44ad-b1ce-222e14094d70",
    "to": "41793026727", "sentAt": "2015-02-23T16:41:11.833+0000", "doneAt": "2015-02-23T16:41:11.843+0000",
    "messageCount": 1, "mccMnc": "22801", "price": {"pricePerMessage": 0.0104, "currency": "EUR"},
    "status": _DELIVERED, "error": {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR",
                                     "description": "No Error", "permanent": False},
    "channel": "VIBER",
}]}
LOGS: dict[str, object] = {"results": [{
    "bulkId": "bafdeb3d-719b-4cce-8762-54d47b40f3c5", "messageId": "07e03aae-fabc-44ad-b1ce-222e14094d70",
    "to": "41793026727", "from": "InfoSMS", "text": "Test SMS.", "sentAt": "2015-02-23T16:41:11.833+0000",
    "doneAt": "2015-02-23T16:41:11.843+0000", "messageCount": 1, "mccMnc": "22801",
    "price": {"pricePerMessage": 0.01, "currency": "EUR"}, "status": _DELIVERED, "channel": "SMS",
}]}
SEND = {"request": SEND_REQUEST, "response": SEND_RESPONSE}
TEXT = {"request": TEXT_REQUEST, "response": {"messages": [SEND_RESPONSE["messages"][1]]}}  # type: ignore[index]
# The vendor's Create session page; the token is the vendor's IBSSO example's.
SESSION_TOKEN = "2f9b4d31-2d0d-49a8-85f0-9b862bdca394"
SESSION: dict[str, object] = {
    "request": {"username": "Aladdin", "password": "open sesame"},
    "request_xml": "<session><username>Aladdin</username><password>open sesame</password></session>",
    "response": {"token": SESSION_TOKEN},
    "response_xml": f"<session><token>{SESSION_TOKEN}</token></session>",
}
