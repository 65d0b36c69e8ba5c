"""The dashboard and /docs in a real browser: headless Chromium (Debian's), driven by Selenium.

The browser runs with a proxy that leads nowhere, so anything but loopback (which
Chromium never proxies) fails to load: the pages must work with no internet.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from . import server
from .conftest import ALADDIN_BASIC, OTHER_KEY, SEED_KEY
from .receiver import receiver

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                       reason="chromium and chromedriver are not installed (scripts/system-deps.sh installs the "
                              "Debian packages chromium and chromium-driver as root)"),
]
WAIT_SECONDS = 20
#: Nothing listens on the discard port: every proxied (non-loopback) request fails.
DEAD_PROXY = "127.0.0.1:9"
#: A name of an attacker's, resolved to 127.0.0.1 as DNS rebinding would leave it (and not proxied).
REBOUND = "evil.example"


@pytest.fixture
def live() -> Iterator[server.Server]:
    with server.running() as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--proxy-server={DEAD_PROXY}", f"--proxy-bypass-list={REBOUND}",
                 f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER),
                                      log_output=str(Path(tmp_path_factory.mktemp("chromedriver")) / "log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser: webdriver.Chrome) -> webdriver.Chrome:
    """The browser on a blank page with its console log drained: nothing left over from a previous test."""
    browser.get("about:blank")
    browser.get_log("browser")
    return browser


def wait_for(driver: webdriver.Chrome, condition: object, message: str) -> object:
    # The page rebuilds its rows when the state changes: an element read mid-rebuild is simply read again.
    wait = WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.1,
                         ignored_exceptions=[StaleElementReferenceException])
    return wait.until(condition, message)  # type: ignore[arg-type]


def loaded_urls(driver: webdriver.Chrome) -> list[str]:
    entries = driver.execute_script(
        "return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
        ".map(e => e.name)")
    return list(entries)


def assert_only_local(driver: webdriver.Chrome, base: str) -> None:
    urls = loaded_urls(driver)
    assert urls and all(url.startswith(base) for url in urls), urls
    failed = [entry["message"] for entry in driver.get_log("browser") if "net::ERR" in entry["message"]]
    assert not failed, failed


def scenario_row(driver: webdriver.Chrome, key: str) -> object:
    rows = driver.find_elements(By.CSS_SELECTOR, f'tr[data-key="{key}"]')
    return rows[0] if rows else False


def row_state(driver: webdriver.Chrome, key: str) -> tuple[str, str] | bool:
    """(data-default, text) of a scenario's row, read in one go; False while it is not there."""
    row = scenario_row(driver, key)
    return (row.get_attribute("data-default"), row.text) if row else False  # type: ignore[attr-defined]


def state_of(driver: webdriver.Chrome, key: str) -> tuple[str, str]:
    return wait_for(driver, lambda d: row_state(d, key), f"no row for {key}")  # type: ignore[return-value]


def test_the_dashboard_shows_the_seed_and_follows_api_changes(page: webdriver.Chrome, live: server.Server) -> None:
    page.get(live.url + "/")
    default, text = state_of(page, SEED_KEY)
    assert default == "true" and "Test SMS or VIBER" in text
    assert state_of(page, OTHER_KEY)[0] == "false"

    # A change through the vendor API, as any client would make it, shows up on the page by itself.
    response = httpx.put(f"{live.url}/omni/1/scenarios/{OTHER_KEY}", headers={"Authorization": ALADDIN_BASIC},
                         json={"name": "Promoted through the API", "default": True}, timeout=10)
    assert response.status_code == 200
    wait_for(page, lambda d: state_of(d, OTHER_KEY)[0] == "true", "the page did not follow the change")
    assert "Promoted through the API" in state_of(page, OTHER_KEY)[1]
    assert state_of(page, SEED_KEY)[0] == "false"
    wait_for(page, lambda d: "/omni/1/scenarios/" + OTHER_KEY in d.find_element(By.ID, "requests").text,
             "the journal did not show the request")
    assert_only_local(page, live.url)


def test_the_dashboard_forms_go_through_the_vendor_api(page: webdriver.Chrome, live: server.Server) -> None:
    page.get(live.url + "/")
    wait_for(page, lambda d: scenario_row(d, SEED_KEY), "the page did not load")
    form = page.find_element(By.ID, "create-form")
    name = form.find_element(By.NAME, "name")
    name.clear()
    name.send_keys("Made in the page")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(page, lambda d: "Made in the page" in d.find_element(By.ID, "accounts").text,
             "the created scenario never showed")
    assert "→ 201" in page.find_element(By.ID, "message").text
    listed = httpx.get(f"{live.url}/omni/1/scenarios", headers={"Authorization": ALADDIN_BASIC}, timeout=10)
    created = [s for s in listed.json()["scenarios"] if s["name"] == "Made in the page"]
    assert len(created) == 1 and created[0]["flow"] == [{"from": "InfoSMS", "channel": "SMS"}]

    # "Make default" on the new row: a PUT with the account's credentials.
    key = created[0]["key"]
    wait_for(page, lambda d: scenario_row(d, key).find_element(By.CSS_SELECTOR, "button.make-default").click()
             or True, "could not click Make default")
    wait_for(page, lambda d: state_of(d, key)[0] == "true", "the row was not marked default")
    default = httpx.get(f"{live.url}/omni/1/scenarios?isDefault=true", headers={"Authorization": ALADDIN_BASIC},
                        timeout=10).json()["scenarios"]
    assert [s["key"] for s in default] == [key]

    # The edit form renames it (a partial PUT: the flow stays).
    wait_for(page, lambda d: scenario_row(d, key).find_element(By.CSS_SELECTOR, "button.edit").click() or True,
             "could not open the edit form")
    edit = page.find_element(By.ID, "edit-form")
    edit_name = edit.find_element(By.NAME, "name")
    edit_name.clear()
    edit_name.send_keys("Renamed in the page")
    edit.find_element(By.NAME, "flow").clear()
    edit.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(page, lambda d: "Renamed in the page" in state_of(d, key)[1], "the rename never showed")
    got = httpx.get(f"{live.url}/omni/1/scenarios/{key}", headers={"Authorization": ALADDIN_BASIC}, timeout=10).json()
    assert got == {"key": key, "name": "Renamed in the page", "flow": [{"from": "InfoSMS", "channel": "SMS"}],
                   "default": True}


def test_docs_render_the_vendor_api_with_no_internet(page: webdriver.Chrome, live: server.Server) -> None:
    page.get(live.url + "/docs")
    wait_for(page, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) >= 4,
             "Swagger UI did not render the operations")
    paths = {(block.find_element(By.CSS_SELECTOR, ".opblock-summary-method").text,
              block.find_element(By.CSS_SELECTOR, ".opblock-summary-path").text.replace("\u200b", ""))
             for block in page.find_elements(By.CSS_SELECTOR, ".opblock")}
    assert {("GET", "/omni/1/scenarios"), ("POST", "/omni/1/scenarios"), ("GET", "/omni/1/scenarios/{scenarioKey}"),
            ("PUT", "/omni/1/scenarios/{scenarioKey}")} <= paths
    assert page.find_elements(By.CSS_SELECTOR, "button.authorize"), "no Authorize button: no security schemes"
    assert "mock-omni" in page.find_element(By.CSS_SELECTOR, ".info .title").text
    # Open the PUT operation: the seed example and the error envelope are shown.
    put = next(block for block in page.find_elements(By.CSS_SELECTOR, ".opblock-put"))
    put.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait_for(page, lambda d: "Test update: SMS or VIBER" in put.text, "the seed example is not shown")
    assert "requestError" in put.text and "serviceException" in put.text
    assert_only_local(page, live.url)


def test_reset_and_clear_journal_call_the_admin_api(page: webdriver.Chrome, live: server.Server) -> None:
    page.get(live.url + "/")
    wait_for(page, lambda d: scenario_row(d, SEED_KEY), "the page did not load")
    # Record the page's own calls (the admin API itself is tested in its own module).
    page.execute_script("""
        window.adminCalls = [];
        const original = window.fetch;
        window.fetch = (url, options) => {
            if (String(url).startsWith('/__admin/')) window.adminCalls.push([(options || {}).method, url]);
            return original(url, options);
        };""")
    page.find_element(By.ID, "reset").click()
    wait_for(page, lambda d: "POST /__admin/reset →" in d.find_element(By.ID, "message").text, "no reset call")
    page.find_element(By.ID, "clear-journal").click()
    wait_for(page, lambda d: "DELETE /__admin/requests →" in d.find_element(By.ID, "message").text,
             "no clear-journal call")
    assert page.execute_script("return window.adminCalls") == [["POST", "/__admin/reset"],
                                                                ["DELETE", "/__admin/requests"]]


def test_a_browser_app_on_another_local_origin_may_send_tracing_headers(
    page: webdriver.Chrome, live: server.Server,
) -> None:
    """The app's page is on http://localhost:PORT, the API it calls on http://127.0.0.1:PORT: another origin,
    so Chromium sends a real preflight asking for the tracing headers before the PUT."""
    page.get(live.url.replace("127.0.0.1", "localhost") + "/__admin/health")
    page.set_script_timeout(WAIT_SECONDS)
    result = page.execute_async_script("""
        const [url, authorization, done] = arguments;
        fetch(url, {method: 'PUT', body: JSON.stringify({name: 'traced from the browser'}), headers: {
            'Authorization': authorization, 'Content-Type': 'application/json', 'X-Request-Id': 'req-42',
            'traceparent': '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'tracestate': 'vendor=1',
            'sentry-trace': '4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1',
            'baggage': 'sentry-environment=dev,sentry-release=1.0'}})
          .then(response => response.json().then(body => done([response.status, body.name])))
          .catch(error => done(['fetch failed', String(error)]));
    """, f"{live.url}/omni/1/scenarios/{SEED_KEY}", ALADDIN_BASIC)
    assert result == [200, "traced from the browser"]
    journal = httpx.get(f"{live.url}/__admin/requests", params={"method": "PUT"}, timeout=10).json()
    sent = journal["requests"][-1]["headers"]
    assert sent["x-request-id"] == "req-42" and sent["origin"] == live.url.replace("127.0.0.1", "localhost")


def test_swagger_uis_authorize_gets_an_oauth2_token_from_the_mock(page: webdriver.Chrome,
                                                                  live: server.Server) -> None:
    page.get(live.url + "/docs")
    wait_for(page, lambda d: d.find_elements(By.CSS_SELECTOR, "button.authorize"), "no Authorize button")
    page.find_element(By.CSS_SELECTOR, "button.authorize").click()
    modal = wait_for(page, lambda d: d.find_elements(By.CSS_SELECTOR, ".modal-ux"), "no authorization dialog")
    assert modal
    client_id, client_secret = "input[id^='client_id']", "input[id^='client_secret']"
    wait_for(page, lambda d: d.find_elements(By.CSS_SELECTOR, client_id), "no OAuth2 client credentials form")
    page.find_element(By.CSS_SELECTOR, client_id).send_keys("Aladdin")
    page.find_element(By.CSS_SELECTOR, client_secret).send_keys("open sesame")
    oauth2 = next(block for block in page.find_elements(By.CSS_SELECTOR, ".auth-container")
                  if block.find_elements(By.CSS_SELECTOR, client_id))
    # The dialog is taller than the headless window and its header covers the button: click it by script.
    page.execute_script("arguments[0].click()", oauth2.find_element(By.CSS_SELECTOR, "button.authorize"))
    wait_for(page, lambda d: "Logout" in oauth2.text, f"Swagger UI did not get a token: {oauth2.text}")
    token_calls = httpx.get(f"{live.url}/__admin/requests", params={"path": "/auth/1/*"}, timeout=10).json()[
        "requests"]
    assert [(entry["method"], entry["path"], entry["status"], entry["account"]) for entry in token_calls] == [
        ("POST", "/auth/1/oauth2/token", 200, "Aladdin")]
    issued = httpx.get(f"{live.url}/__admin/tokens", timeout=10).json()["tokens"]
    assert [(entry["account"], entry["kind"]) for entry in issued] == [("Aladdin", "oauth2")]
    assert "open sesame" not in str(token_calls)
    assert_only_local(page, live.url)


def message_walk(driver: webdriver.Chrome, message_id: str) -> tuple[list[tuple[str, str]], list[str], str] | bool:
    """((channel, outcome) of each step tried, callback states, the card's text) of a message; False until shown."""
    for card in driver.find_elements(By.CSS_SELECTOR, "article.message"):
        if card.get_attribute("data-message-id") == message_id:
            steps = [(step.get_attribute("data-channel"), step.get_attribute("data-outcome"))
                     for step in card.find_elements(By.CSS_SELECTOR, "li.step:not(.upcoming)")]
            states = [row.get_attribute("data-state") for row in card.find_elements(By.CSS_SELECTOR, "tr[data-state]")]
            return steps, states, card.text  # type: ignore[return-value]
    return False


def test_the_dashboard_shows_each_messages_walk_and_its_callbacks(page: webdriver.Chrome, live: server.Server) -> None:
    hostile = "<img src=x onerror=window.owned=1>"
    with receiver() as target, httpx.Client(base_url=live.url, headers={"Authorization": ALADDIN_BASIC},
                                            trust_env=False, timeout=10) as http:
        page.get(live.url + "/")
        wait_for(page, lambda d: scenario_row(d, SEED_KEY), "the page did not load")
        rule = {"destination": "41793026727", "channel": "SMS", "outcome": "UNDELIVERABLE"}
        assert http.post("/__admin/delivery-rules", json=rule).status_code == 201
        payloads = {"sms": {"text": "Hi"}, "viber": {"text": "Hi"}}
        failover = {"destinations": [{"messageId": hostile, "to": {"phoneNumber": "41793026727"}}], **payloads,
                    "notifyUrl": f"{target.url}/reports", "intermediateReport": True}
        assert http.post("/omni/1/advanced", json=failover).status_code == 200
        # 447700900007 takes a minute per step: its SMS step is still in progress.
        waiting = {"destinations": [{"messageId": "slow-1", "to": {"phoneNumber": "447700900007"}}], **payloads}
        assert http.post("/omni/1/advanced", json=waiting).status_code == 200

        shown = wait_for(page, lambda d: (lambda walk: walk if walk and walk[1] == ["delivered", "delivered"]
                                          else False)(message_walk(d, hostile)),
                         "the failover and its two delivered callbacks never showed")
    steps, _, text = shown  # type: ignore[misc]
    assert steps == [("SMS", "UNDELIVERABLE"), ("VIBER", "DELIVERED")]
    assert "DELIVERED_TO_HANDSET" in text and f"{target.url}/reports" in text and "200" in text
    assert hostile in text  # shown as text, never as markup
    assert page.execute_script("return window.owned") is None
    assert not page.find_elements(By.CSS_SELECTOR, "article.message img")
    pending = wait_for(page, lambda d: message_walk(d, "slow-1"), "the pending message never showed")
    steps, states, text = pending  # type: ignore[misc]
    assert steps == [("SMS", "PENDING")] and states == []
    assert "PENDING_ENROUTE" in text and "in progress" in text and "not tried yet" in text
    assert "No notifyUrl" in text
    assert_only_local(page, live.url)


# --- pages on other sites (docs/hardening.md#pages-on-other-sites) --------------------------------------------

#: A page on another origin, as any site could serve it: simple cross-origin requests (no preflight) to the mock.
ATTACK_PAGE = """<!doctype html>
<form id="reset" method="post" enctype="text/plain" target="sink"><input name='{"x":"' value='"}'></form>
<iframe name="sink" id="sink"></iframe>
<script>
async function attack(mock, takeover) {
  const simple = (body) => ({method: 'POST', mode: 'no-cors', headers: {'Content-Type': 'text/plain'}, body});
  const sent = [];
  for (const [path, options] of [
      ['/__admin/faults', simple('{"path":"*","status":503}')],
      ['/__admin/reset', simple(takeover)],
      ['/__admin/reset', {method: 'POST', mode: 'no-cors'}],
      ['/omni/1/scenarios', simple('{}')]]) {
    try { await fetch(mock + path, options); sent.push(path); } catch (error) { sent.push(String(error)); }
  }
  await new Promise((resolve) => {
    document.getElementById('sink').onload = resolve;
    const form = document.getElementById('reset');
    form.action = mock + '/__admin/reset';
    form.submit();
  });
  return sent;
}
</script>"""


@pytest.fixture
def other_origin(tmp_path: Path) -> Iterator[str]:
    """A tiny web server on another port of 127.0.0.1: an origin the mock's CORS policy does not allow."""
    (tmp_path / "attack.html").write_text(ATTACK_PAGE)
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as site:
        thread = threading.Thread(target=site.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{site.server_address[1]}"
        finally:
            site.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def guarded() -> Iterator[server.Server]:
    """``local`` allows any localhost port: a policy that leaves 127.0.0.1:OTHER out."""
    with server.running(["--cors-origin", "http://localhost:1"]) as running:
        yield running


def test_a_page_on_another_origin_cannot_change_the_mock(page: webdriver.Chrome, guarded: server.Server,
                                                         other_origin: str) -> None:
    with httpx.Client(base_url=guarded.url, headers={"Authorization": ALADDIN_BASIC}, trust_env=False,
                      timeout=10) as http:
        assert http.put(f"/omni/1/scenarios/{SEED_KEY}", json={"name": "kept"}).status_code == 200
        page.get(other_origin + "/attack.html")
        page.set_script_timeout(WAIT_SECONDS)
        takeover = json.dumps({"fixtures": {"accounts": [{"username": "Aladdin", "password": "pwned"}]}})
        sent = page.execute_async_script("attack(arguments[0], arguments[1]).then(arguments[2])", guarded.url,
                                          takeover)
        assert sent == ["/__admin/faults", "/__admin/reset", "/__admin/reset", "/omni/1/scenarios"]
        # The browser did send them: the vendor call is in the journal, from the page's origin.
        journal = http.get("/__admin/requests", params={"path": "/omni/1/scenarios", "method": "POST"}).json()
        assert [entry["headers"].get("origin") for entry in journal["requests"]] == [other_origin]
        # ... and nothing changed: no fault, no reset (the rename stays), Aladdin's password is still his.
        assert http.get("/__admin/faults").json()["faults"] == []
        assert http.get(f"/omni/1/scenarios/{SEED_KEY}").json()["name"] == "kept"

    # The dashboard, on the mock's own origin, still resets (the same POST, same-origin).
    page.get(guarded.url + "/")
    wait_for(page, lambda d: scenario_row(d, SEED_KEY), "the page did not load")
    page.find_element(By.ID, "reset").click()
    wait_for(page, lambda d: "POST /__admin/reset → 200" in d.find_element(By.ID, "message").text,
             "the dashboard's reset did not go through")
    wait_for(page, lambda d: "Test SMS or VIBER" in state_of(d, SEED_KEY)[1], "the reset did not show")


def test_a_page_whose_name_is_rebound_to_the_mock_reads_nothing(page: webdriver.Chrome, live: server.Server) -> None:
    """Chromium resolves evil.example to 127.0.0.1, as a rebound DNS name would: the page is same-origin with
    the mock, and still gets nothing but 403s."""
    rebound = live.url.replace("127.0.0.1", REBOUND)
    page.get(rebound + "/__admin/accounts")
    assert "open sesame" not in page.page_source
    assert f"--allowed-host {REBOUND}" in page.find_element(By.TAG_NAME, "body").text
    page.set_script_timeout(WAIT_SECONDS)
    statuses = page.execute_async_script("""
        const done = arguments[arguments.length - 1];
        Promise.all(['/__admin/accounts', '/__admin/requests', '/'].map((path) =>
            fetch(path, {headers: {Accept: 'application/json'}}).then((response) => response.status)))
          .then(done, (error) => done(String(error)));""")
    assert statuses == [403, 403, 403]


def test_a_request_opens_to_what_was_sent_answered_and_why(page: webdriver.Chrome, live: server.Server,
                                                          tmp_path: Path) -> None:
    refused = httpx.put(f"{live.url}/omni/1/scenarios/{SEED_KEY}", json={"default": False},
                        headers={"Authorization": ALADDIN_BASIC})
    assert refused.status_code == 400
    page.get(live.url + "/")
    why = f"{SEED_KEY} is Aladdin's default scenario"
    wait_for(page, lambda d: why in d.find_element(By.CSS_SELECTOR, "#requests tr.request td.reason").text,
             "the request is not listed with its reason")
    page.find_element(By.CSS_SELECTOR, "#requests tr.request").click()

    def opened(driver: webdriver.Chrome) -> object:
        found = driver.find_elements(By.CSS_SELECTOR, "#requests tr.request-detail")
        return found[0].text if found else False

    text = str(wait_for(page, opened, "the request did not open"))
    assert '{"default":false}' in text and "answer: 400" in text and refused.text in text and why in text
    # It stays open while the page polls, and closes on a second click.
    page.execute_script("return new Promise((done) => setTimeout(done, 1500))")
    assert page.find_elements(By.CSS_SELECTOR, "#requests tr.request-detail")
    page.find_element(By.CSS_SELECTOR, "#requests tr.request").click()
    wait_for(page, lambda d: not d.find_elements(By.CSS_SELECTOR, "#requests tr.request-detail"), "it did not close")
    page.save_screenshot(str(tmp_path / "request-detail.png"))


def test_the_clock_and_a_delivery_rule_are_set_from_the_page_and_times_carry_their_date(
        page: webdriver.Chrome, live: server.Server) -> None:
    """Failover watched without curl: a rule makes SMS undeliverable, the clock moves days, dates say which day."""
    page.get(live.url + "/")
    wait_for(page, lambda d: "No rule:" in d.find_element(By.ID, "delivery-rules").text, "no empty-table text")
    assert "No bucket yet" in page.find_element(By.ID, "rate-limits").text
    assert "No request yet" in page.find_element(By.ID, "requests").text
    form = page.find_element(By.ID, "rule-form")
    form.find_element(By.NAME, "destination").clear()
    form.find_element(By.NAME, "destination").send_keys("+41 79*")
    Select(form.find_element(By.NAME, "channel")).select_by_visible_text("SMS")
    Select(form.find_element(By.NAME, "outcome")).select_by_visible_text("UNDELIVERABLE")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(page, lambda d: "+41 79*" in d.find_element(By.ID, "delivery-rules").text, "the rule is not listed")
    rules = httpx.get(f"{live.url}/__admin/delivery-rules").json()["rules"]
    assert [(r["destination"], r["channel"], r["outcome"]) for r in rules] == [("+41 79*", "SMS", "UNDELIVERABLE")]

    httpx.post(f"{live.url}/__admin/delivery-rules", json={"destination": "41793026727", "channel": "VIBER",
                                                           "outcome": "EXPIRED"})
    sent = httpx.post(f"{live.url}/omni/1/advanced", headers={"Authorization": ALADDIN_BASIC}, json={
        "destinations": [{"to": {"phoneNumber": "41793026727"}}], "sms": {"text": "hi"},
        "viber": {"text": "hi", "validityPeriod": 3, "validityPeriodTimeUnit": "DAYS"}})
    message_id = sent.json()["messages"][0]["messageId"]

    def card(driver: webdriver.Chrome) -> str:
        found = driver.find_elements(By.CSS_SELECTOR, f"article.message[data-message-id='{message_id}']")
        return found[0].text if found else ""

    text = str(wait_for(page, lambda d: "next change at" in card(d) and card(d), "the pending step has no nextAt"))
    before = httpx.get(f"{live.url}/__admin/messages", params={"messageId": message_id}).json()["messages"][0]
    assert before["nextAt"][:10] in text  # the date, not only the time of day

    clock = page.find_element(By.ID, "clock-form")
    clock.find_element(By.NAME, "seconds").clear()
    clock.find_element(By.NAME, "seconds").send_keys(str(4 * 86400))
    clock.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(page, lambda d: "EXPIRED" in card(d) and "advanced 96 h" in d.find_element(By.ID, "clock-now").text,
             "the clock did not move the message on")
    after = httpx.get(f"{live.url}/__admin/messages", params={"messageId": message_id}).json()["messages"][0]
    assert after["steps"][-1]["endedAt"][:10] in card(page) and after["steps"][-1]["endedAt"][:10] != \
        before["steps"][0]["startedAt"][:10]
    # One time zone: the requests' times are UTC like the cards' (and carry their date too).
    from datetime import UTC, datetime

    newest = httpx.get(f"{live.url}/__admin/requests").json()["requests"][-1]["timestamp"]
    shown = page.find_element(By.CSS_SELECTOR, "#requests tr.request td").text
    assert shown[:19] == datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%d %H:%M:%S")


FRAME_IN = """
    const [src, done] = arguments;
    const frame = document.createElement('iframe');
    frame.id = 'framed';
    frame.width = 900;
    frame.height = 700;
    frame.onload = () => done(true);
    frame.src = src;
    document.body.append(frame);"""


def framed_element(page: webdriver.Chrome, src: str, element_id: str) -> bool:
    """Whether ``src``, framed by the page the browser is on, shows the element (the frame has loaded)."""
    page.set_script_timeout(WAIT_SECONDS)
    assert page.execute_async_script(FRAME_IN, src)
    page.switch_to.frame("framed")
    try:
        return bool(page.find_elements(By.ID, element_id))
    finally:
        page.switch_to.default_content()


def test_a_page_on_another_origin_cannot_frame_the_dashboard_or_the_docs(page: webdriver.Chrome,
                                                                          guarded: server.Server,
                                                                          other_origin: str) -> None:
    """Clickjacking: a page on another site framed the dashboard under a decoy, and the visitor's click on it
    was the dashboard's own same-origin POST /__admin/reset, which the admin API's guard lets through.

    Before: the dashboard and /docs loaded in any frame (no frame-ancestors, no X-Frame-Options). Now only
    pages the policy lets call the admin API may frame them: their own origin (shown here) and --cors-origin's."""
    # /static/dashboard.html is the dashboard too, its Reset button working: it was framed by any site.
    for path, element_id in (("/", "reset"), ("/docs", "swagger-ui"), ("/static/dashboard.html", "reset")):
        page.get(other_origin + "/attack.html")
        assert not framed_element(page, guarded.url + path, element_id), f"{path} loaded in another site's frame"
        page.get(guarded.url + "/static/dashboard.css")
        assert framed_element(page, guarded.url + path, element_id), f"{path} did not load in its own frame"


def test_a_browser_app_on_another_local_origin_may_log_out(page: webdriver.Chrome, live: server.Server) -> None:
    """An app on http://localhost:PORT opens an IBSSO session and ends it (DELETE /auth/1/session, a vendor
    operation). Before: the preflight allowed GET, POST and PUT only, so the browser refused the logout."""
    page.get(live.url.replace("127.0.0.1", "localhost") + "/__admin/health")
    page.set_script_timeout(WAIT_SECONDS)
    result = page.execute_async_script("""
        const [url, done] = arguments;
        fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'},
                    body: JSON.stringify({username: 'Aladdin', password: 'open sesame'})})
          .then(response => response.json())
          .then(session => fetch(url, {method: 'DELETE', headers: {Authorization: 'IBSSO ' + session.token}}))
          .then(response => done(response.status))
          .catch(error => done(String(error)));
    """, f"{live.url}/auth/1/session")
    assert result == 204
