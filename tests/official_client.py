"""Drives infobip-api-python-client 2.3.0 (Python 2.7) against a mock-omni URL; prints one JSON result.

Run by tests/test_official_client.py as: python2.7 official_client.py URL [API_KEY SESSION_TOKEN | --calls N]
(with a key and a token: how the client fares with an API key lacking the scope, and with an IBSSO session;
with --calls: N scenario lists in a row, each one's keys or the error the client raised, as fault rules give).
"""

import json
import sys

from infobip.api.model.omni.Destination import Destination
from infobip.api.model.omni.scenarios.Scenario import Scenario
from infobip.api.model.omni.scenarios.Step import Step
from infobip.api.model.omni.send.OmniAdvancedRequest import OmniAdvancedRequest
from infobip.api.model.omni.send.OmniSimpleRequest import OmniSimpleRequest
from infobip.api.model.omni.send.SmsData import SmsData
from infobip.api.model.omni.send.ViberData import ViberData
from infobip.api.model.omni.To import To
from infobip.clients import (
    create_scenario,
    get_omni_logs,
    get_omni_reports,
    get_scenarios,
    get_specific_scenario,
    send_advanced_omni_message,
    send_simple_omni_message,
    update_scenario,
)
from infobip.util.configuration import Configuration
from infobip.util.exception import ApiException
from infobip.util.TimeUnit import TimeUnit

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
    result.update(send_and_read(good, created.key))
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


def destination(phone, message_id=None):
    to = To()
    to.phone_number = phone
    found = Destination()
    found.to = to
    found.message_id = message_id
    return found


def date(value):
    # The client parses the vendor's dates into naive datetimes (the zone is dropped).
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def send_and_read(good, key):
    result = {}
    sms = SmsData()
    sms.text = "Sent by the official client"
    sms.validity_period = 2
    sms.validity_period_time_unit = TimeUnit.MINUTES
    viber = ViberData()
    viber.text = "Viber text from the official client"
    advanced = OmniAdvancedRequest()
    advanced.scenario_key = key
    advanced.bulk_id = "OFFICIAL-BULK"
    # 447700900008 is a test destination whose SMS is undeliverable: it fails over to Viber.
    advanced.destinations = [destination("41793026727", "OFFICIAL-1"), destination("447700900008")]
    advanced.sms = sms
    advanced.viber = viber
    advanced.callback_data = "official"
    sent = send_advanced_omni_message(good).execute(advanced)
    result["advanced"] = {"bulkId": sent.bulk_id, "messages": [
        {"to": m.to.phone_number, "status": m.status.name, "messageId": m.message_id} for m in sent.messages]}

    simple = OmniSimpleRequest()
    simple.scenario_key = key
    simple.text = "Simple text"
    simple.destinations = [destination("41793026731")]
    single = send_simple_omni_message(good).execute(simple)
    result["simple"] = {"bulkId": single.bulk_id, "messageIds": [m.message_id for m in single.messages]}

    reports = get_omni_reports(good).execute({"limit": 10}).results
    result["reports"] = [{"messageId": r.message_id, "bulkId": r.bulk_id, "channel": r.channel,
                          "status": r.status.name, "sentAt": date(r.sent_at), "doneAt": date(r.done_at),
                          "price": float(r.price.price_per_message)} for r in reports]
    result["reports_again"] = len(get_omni_reports(good).execute({}).results)

    logs = [get_omni_logs(good).execute({"limit": 10}).results for _ in range(2)]
    result["logs"] = [[{"messageId": log.message_id, "from": log.from_, "text": log.text, "channel": log.channel,
                        "status": log.status.group_name, "sentAt": date(log.sent_at)} for log in found]
                      for found in logs]
    return result


def calls(url, count):
    """``count`` scenario lists; for each, the keys or the exception the client let through (type and text)."""
    good = Configuration(username="Aladdin", password="open sesame", base_url=url)
    outcomes = []
    for _ in range(count):
        try:
            outcomes.append({"keys": [s.key for s in get_scenarios(good).execute({}).scenarios]})
        except Exception as exc:  # noqa: BLE001 - what the app using the client would see
            outcomes.append({"error": type(exc).__module__ + "." + type(exc).__name__ + ": " + str(exc)})
    return outcomes


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[2] == "--calls":
        print(json.dumps(calls(sys.argv[1], int(sys.argv[3]))))
    elif len(sys.argv) == 4:
        signed_in(*sys.argv[1:])
    else:
        main(sys.argv[1])
