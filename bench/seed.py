"""The seed PUT of the vendor's Scenario: Update page: plain data, importable by any tree's code."""

SEED_KEY = "CD265875E3A6EA43478D5F37A635BE4A"
SEED_PATH = f"/omni/1/scenarios/{SEED_KEY}"
ALADDIN_BASIC = "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="

SEED_JSON = (
    '{\n  "name":"Test update: SMS or VIBER",\n  "flow": [\n    {\n      "from": "InfoSMS",\n      "channel": "SMS"\n'
    '    },\n    {\n      "from": "0492DF1379D122771652385E4C6743E3",\n      "channel": "VIBER"\n    }\n  ],\n'
    '  "default": true\n}'
)
SEED_XML = """<scenario>
    <name>Test update: SMS or VIBER</name>
    <flow>
        <step>
            <from>InfoSMS</from>
            <channel>SMS</channel>
        </step>
        <step>
            <from>0492DF1379D122771652385E4C6743E3</from>
            <channel>VIBER</channel>
        </step>
    </flow>
    <default>true</default>
</scenario>"""

#: (Content-Type, body) of the seed PUT in each format; the XML one carries no Accept, like the page.
REQUESTS = {"json": ("application/json", SEED_JSON), "xml": ("application/xml", SEED_XML)}
