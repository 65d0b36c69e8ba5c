"""Drives infobip-api-python-client 2.3.0 (Python 2.7) against a mock-omni URL; prints one JSON result.

Run by tests/test_official_client.py as: python2.7 official_client.py URL [API_KEY SESSION_TOKEN]
(with a key and a token: how the client fares with an API key lacking the scope, and with an IBSSO session).
"""

import json
import sys

from infobip.api.model.omni.scenarios.Scenario import Scenario
from infobip.api.model.omni.scenarios.Step import Step
from infobip.clients import create_scenario, get_scenarios, get_specific_scenario, update_scenario
from infobip.util.configuration import Configuration
from infobip.util.exception import ApiException

SEED_KEY = "CD265875E3A6EA43478D5F37A635BE4A"


def scenario_dict(s):
    return {"key": s.key, "name": s.name, "flow": [{"from": step.from_, "channel": step.channel} for step in s.flow]}


def error_of(call):
    try:
        call()
    except ApiException as exc:
        details = exc.requestError.serviceException
        return {"messageId": details.messageId, "text": details.text}
    return None


def main(url):
    good = Configuration(username="Aladdin", password="open sesame", base_url=url)
    bad = Configuration(username="Aladdin", password="wrong", base_url=url)
    result = {}

    step1 = Step()
    step1.from_ = "InfoSMS"
    step1.channel = "SMS"
    step2 = Step()
    step2.from_ = "ViberSender"
    step2.channel = "VIBER"
    new = Scenario()
    new.name = "Official client scenario"
    new.flow = [step1, step2]
    new.default_scenario = False
    created = create_scenario(good).execute(new)
    result["created"] = scenario_dict(created)

    listed = get_scenarios(good).execute({})
    result["listed"] = [s.key for s in listed.scenarios]

    fetched = get_specific_scenario(good).execute(created.key)
    result["fetched"] = scenario_dict(fetched)

    change = Scenario()
    change.name = "Renamed by the official client"
    change.default_scenario = True
    updated = update_scenario(good).execute(created.key, change)
    result["updated"] = scenario_dict(updated)

    defaults = get_scenarios(good).execute({"isDefault": "true"})
    result["defaults"] = [s.key for s in defaults.scenarios]

    result["not_found"] = error_of(lambda: get_specific_scenario(good).execute("F" * 32))
    result["unauthorized"] = error_of(lambda: get_scenarios(bad).execute({}))
    print(json.dumps(result))


def signed_in(url, api_key, session_token):
    scoped = Configuration(api_key=api_key, base_url=url)
    session = Configuration(token=session_token, base_url=url)
    result = {
        "forbidden_list": error_of(lambda: get_scenarios(scoped).execute({})),
        "forbidden_get": error_of(lambda: get_specific_scenario(scoped).execute(SEED_KEY)),
        "session_list": [s.key for s in get_scenarios(session).execute({}).scenarios],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) == 4:
        signed_in(*sys.argv[1:])
    else:
        main(sys.argv[1])
