// The dashboard: polls GET / (JSON) and acts through the vendor API and the admin API.
// Plain DOM, no framework, no build step. Every value is set as text, never as HTML.
"use strict";

const POLL_MS = 1000;
const TOKEN_KEY = "mock-omni-admin-token";
let state = null;
let lastText = "";
let lastAccounts = "";

function adminHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { "X-Admin-Token": token } : {};
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  }
  return node;
}

function say(text, isError) {
  const message = document.getElementById("message");
  message.textContent = text;
  message.className = isError ? "error" : "";
}

function account(username) {
  return state && state.accounts.find((a) => a.username === username);
}

async function vendorCall(username, method, path, body) {
  const acc = account(username);
  if (!acc) { say(`unknown account ${username}`, true); return; }
  const response = await fetch(path, {
    method,
    headers: { Authorization: acc.authorization, "Content-Type": "application/json", Accept: "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  say(`${method} ${path} → ${response.status} ${text}`, !response.ok);
  await refresh();
}

async function adminCall(method, path, body) {
  const headers = adminHeaders();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = body === undefined ? "" : ` ${await response.text()}`;
  say(`${method} ${path} → ${response.status}${text}`, !response.ok);
  if (response.status === 401) askForToken();
  await refresh();
}

function askForToken() {
  document.getElementById("token-box").hidden = false;
}

function flowText(flow) {
  return flow.map((step) => `${step.channel}${step.from ? ` (${step.from})` : ""}`).join(" → ");
}

function renderAccounts() {
  const container = document.getElementById("accounts");
  container.replaceChildren();
  for (const acc of state.accounts) {
    const rows = acc.scenarios.map((scenario) => el("tr",
      { class: scenario.default ? "is-default" : "", "data-key": scenario.key, "data-default": String(scenario.default) },
      el("td", { class: "key" }, scenario.key),
      el("td", { class: "name" }, scenario.name ?? ""),
      el("td", {}, flowText(scenario.flow)),
      el("td", {}, scenario.default ? el("span", { class: "default-badge" }, "default") : ""),
      el("td", {},
        el("button", { type: "button", class: "edit", onclick: () => fillEdit(acc.username, scenario) }, "Edit"),
        scenario.default ? "" : el("button", {
          type: "button", class: "make-default",
          onclick: () => vendorCall(acc.username, "PUT", `/omni/1/scenarios/${scenario.key}`, { default: true }),
        }, "Make default"))));
    container.append(
      el("h3", { "data-account": acc.username }, acc.username, " ", el("span", { class: "muted" },
        `${acc.scenarios.length} scenario(s)`)),
      el("table", { class: "scenarios", "data-account": acc.username },
        el("thead", {}, el("tr", {}, ...["key", "name", "flow", "", ""].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...rows)));
  }
}

function renderSelects() {
  for (const select of document.querySelectorAll("select.account-select")) {
    const chosen = select.value;
    const all = select.classList.contains("account-or-all") ? [el("option", { value: "" }, "everyone")] : [];
    select.replaceChildren(...all, ...state.accounts.map((a) => el("option", { value: a.username }, a.username)));
    if (account(chosen) || (all.length && chosen === "")) select.value = chosen;
  }
  renderKeySelect();
}

function renderKeySelect() {
  const form = document.getElementById("edit-form");
  const select = form.elements.key;
  const chosen = select.value;
  const acc = account(form.elements.account.value);
  select.replaceChildren(...(acc ? acc.scenarios : []).map((s) =>
    el("option", { value: s.key }, `${s.key} ${s.name ?? ""}${s.default ? " (default)" : ""}`)));
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
}

function fillEdit(username, scenario) {
  const form = document.getElementById("edit-form");
  form.elements.account.value = username;
  renderKeySelect();
  form.elements.key.value = scenario.key;
  form.elements.name.value = scenario.name ?? "";
  form.elements.flow.value = JSON.stringify(scenario.flow);
  form.elements.default.checked = scenario.default;
}

function renderClock(clock) {
  document.getElementById("clock-now").textContent = `reads ${vendorDate(clock.now)}` +
    (clock.offsetSeconds ? `, advanced ${duration(clock.offsetSeconds)}` : "");
}

// An empty table says so, and what would fill it.
function rowsOrNote(rows, columns, note) {
  return rows.length ? rows : [el("tr", { class: "empty" }, el("td", { colspan: String(columns), class: "muted" }, note))];
}

function renderTables() {
  const buckets = document.querySelector("#rate-limits tbody");
  buckets.replaceChildren(...rowsOrNote(state.rateLimits.map((b) => el("tr", {},
    el("td", {}, b.account), el("td", {}, b.operation), el("td", {}, `${Number(b.tokens).toFixed(1)} / ${b.capacity}`),
    el("td", {}, b.per))), 4, "No bucket yet: the first limited call (create, update, logs) starts one."));
  const rules = document.querySelector("#delivery-rules tbody");
  rules.replaceChildren(...rowsOrNote(state.deliveryRules.map((r) => el("tr", { "data-rule-id": String(r.id) },
    el("td", {}, `#${r.id}`), el("td", { class: "key" }, r.destination), el("td", {}, r.channel ?? "any"),
    el("td", {}, r.outcome), el("td", {}, r.delaySeconds === null ? "–" : duration(r.delaySeconds)),
    el("td", {}, r.times ?? "∞"), el("td", {}, r.hits))), 7,
  "No rule: the test destinations decide (447700900000 to 447700900008), then DELIVERED."));
  const requests = document.querySelector("#requests tbody");
  const rows = [];
  for (const r of state.requests.slice().reverse()) {
    const key = requestKey(r);
    rows.push(el("tr", { class: "request", tabindex: "0", "aria-expanded": String(openRequests.has(key)),
      title: "the request, the answer and why", onclick: () => toggleRequest(key),
      onkeydown: (event) => { if (event.key === "Enter") toggleRequest(key); } },
      el("td", {}, utcTime(r.timestamp)), el("td", {}, r.method),
      el("td", { class: "key" }, r.path + (r.query ? `?${r.query}` : "")),
      el("td", { class: `status-${String(r.status)[0]}` }, r.status || "dropped"), el("td", {}, r.account ?? "–"),
      el("td", { class: "reason" }, r.reason ?? "")));
    if (openRequests.has(key)) rows.push(el("tr", { class: "request-detail" }, el("td", { colspan: "6" }, requestDetail(r))));
  }
  requests.replaceChildren(...rowsOrNote(rows, 6, "No request yet: the vendor API's calls are listed here, newest first."));
  document.getElementById("requests-recorded").textContent = `(${state.requestsRecorded} recorded in all)`;
}

// --- one request opened: what was sent, what was answered, and why ---------------------------

const openRequests = new Set();

function requestKey(r) {
  return `${r.timestamp}|${r.method}|${r.path}|${r.query}`;
}

function toggleRequest(key) {
  if (openRequests.has(key)) openRequests.delete(key);
  else openRequests.add(key);
  renderTables();
}

function httpMessage(headers, body) {
  const lines = Object.entries(headers || {}).map(([name, value]) => `${name}: ${value}`);
  return lines.join("\n") + (body ? `\n\n${body}` : "");
}

function requestDetail(r) {
  const query = r.query ? `?${r.query}` : "";
  const answer = r.response
    ? [el("h4", {}, `answer: ${r.response.status}`), el("pre", { class: "answer" }, httpMessage(r.response.headers, r.response.body))]
    : [el("h4", {}, "answer"), el("p", {}, "none: the connection was closed without one")];
  return el("div", { class: "detail" },
    el("h4", {}, `request: ${r.method} ${r.path}${query}`), el("pre", { class: "sent" }, httpMessage(r.headers, r.body)),
    ...answer,
    el("h4", {}, "why"), el("p", { class: "why" }, r.reason ?? ""));
}

// --- messages: each one's walk through its flow, and its callbacks ---------------------------

const TONES = {
  DELIVERED: "ok", PENDING: "pending", UNDELIVERABLE: "bad", REJECTED: "bad", MISSING_TO: "bad", EXPIRED: "warn",
  delivered: "ok", pending: "pending", failed: "bad", dropped: "warn",
};

// Dates are the vendor's ("2015-02-23T16:41:11.833+0000", UTC, on the mock's clock): shown with their day,
// since a clock advanced by days would make a time of day ambiguous.
function clockTime(date) {
  return date ? `${date.slice(0, 10)} ${date.slice(11, 23)}` : "";
}

function vendorDate(date) {
  return `${clockTime(date)} UTC`;
}

// Real time (the journal's, the page's own), in the same zone as everything else: UTC.
function utcTime(seconds) {
  const iso = new Date(seconds * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}

function seconds(date) {
  return Date.parse(date.replace(/\+0000$/, "Z")) / 1000;
}

function duration(s) {
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${Number(s.toFixed(1))} s`;
  if (s < 7200) return `${Number((s / 60).toFixed(1))} min`;
  return `${Number((s / 3600).toFixed(1))} h`;
}

function address(to) {
  return to.phoneNumber || to.emailAddress || Object.values(to)[0] || "?";
}

function stepItem(step, nextAt) {
  const ended = step.endedAt === null ? (nextAt ? `in progress, next change at ${clockTime(nextAt)}` : "in progress") :
    (seconds(step.endedAt) > seconds(step.startedAt) ?
      `ended ${clockTime(step.endedAt)}, after ${duration(seconds(step.endedAt) - seconds(step.startedAt))}` :
      "ended at once");
  return el("li", { class: `step tone-${TONES[step.outcome] || "pending"}`, "data-channel": step.channel,
    "data-outcome": step.outcome },
  el("span", { class: "channel" }, step.channel),
  el("span", { class: "outcome" }, step.outcome.replaceAll("_", " ")),
  el("span", { class: "when" }, `${clockTime(step.startedAt)}, ${ended}`));
}

function attemptsText(callback) {
  if (!callback.attempts.length) return "none yet";
  const outcomes = callback.attempts.map((a) => (a.status ?? (a.error || "no answer").split(":")[0]));
  // Attempts are real time (the receiver is real), shown in UTC like the steps.
  const last = new Date(callback.attempts[callback.attempts.length - 1].at * 1000).toISOString().slice(11, 23);
  return `${outcomes.join(" → ")} (last at ${last})`;
}

function callbacksPart(message) {
  if (!message.notifyUrl) {
    return el("p", { class: "callbacks muted" }, "No notifyUrl: its report waits for GET /omni/1/reports.");
  }
  if (!message.callbacks.length) {
    return el("p", { class: "callbacks muted" }, `Reports go to ${message.notifyUrl}: none pushed yet.`);
  }
  return el("table", { class: "callbacks" },
    el("thead", {}, el("tr", {}, ...["callback", "report", "URL", "state", "attempts"].map((h) => el("th", {}, h)))),
    el("tbody", {}, ...message.callbacks.map((callback) => el("tr",
      { "data-callback-id": String(callback.id), "data-state": callback.state },
      el("td", {}, `#${callback.id}`),
      el("td", {}, `${callback.channel ?? "?"} ${callback.reportStatus ?? ""}`),
      el("td", { class: "key" }, callback.url),
      el("td", {}, el("span", { class: `badge tone-${TONES[callback.state]}`, title: callback.reason ?? "" },
        callback.state)),
      el("td", {}, attemptsText(callback))))));
}

function messageCard(message) {
  const status = message.status;
  const upcoming = message.flow.slice(message.steps.length).map((channel, index) => el("li",
    { class: "step upcoming", "data-channel": channel },
    el("span", { class: "channel" }, channel),
    el("span", { class: "outcome" }, message.doneAt ? "not needed" :
      (index === 0 && message.nextAt && !message.steps.length ? `scheduled for ${clockTime(message.nextAt)}` :
        "not tried yet"))));
  return el("article", { class: "message", "data-message-id": message.messageId, "data-account": message.account },
    el("header", {},
      el("code", { class: "id" }, message.messageId),
      el("span", {}, "to ", el("strong", {}, address(message.to))),
      el("span", { class: "muted" }, `account ${message.account}, sent ${clockTime(message.sentAt)}`),
      el("span", { class: `badge tone-${TONES[status.groupName] || "pending"} final-status`,
        title: status.description }, status.name)),
    el("ol", { class: "timeline" }, ...message.steps.map((step) => stepItem(step, message.nextAt)), ...upcoming),
    callbacksPart(message));
}

function renderMessages() {
  const container = document.getElementById("messages");
  document.getElementById("messages-count").textContent = state.messagesSent ?
    `(${state.messagesSent} sent in all; the newest ${state.messages.length} here, newest first)` : "";
  if (!state.messages.length) {
    container.replaceChildren(el("p", { class: "muted" }, "No message sent yet: ",
      el("code", {}, "POST /omni/1/advanced"), "."));
    return;
  }
  container.replaceChildren(...state.messages.map(messageCard));
}

async function refresh() {
  let response;
  try {
    response = await fetch("/", { headers: { Accept: "application/json", ...adminHeaders() }, cache: "no-store" });
  } catch (error) {
    document.getElementById("status").textContent = "server unreachable";
    return;
  }
  if (response.status === 401) {
    askForToken();
    document.getElementById("status").textContent = "admin token needed";
    return;
  }
  const text = await response.text();
  const latest = JSON.parse(text);
  document.getElementById("status").textContent = `revision ${latest.revision}, ` +
    `updated ${utcTime(Date.now() / 1000)} UTC`;
  renderClock(latest.clock);
  // The clock reads a new time at every poll: only the rest decides whether the page is built again.
  const stable = text.replace(/"now":"[^"]*"/, "");
  if (stable === lastText) return;
  lastText = stable;
  state = latest;
  // Rows are rebuilt only when the accounts changed, so buttons do not vanish under the pointer.
  const accountsText = JSON.stringify(state.accounts);
  if (accountsText !== lastAccounts) {
    lastAccounts = accountsText;
    renderAccounts();
    renderSelects();
  }
  renderTables();
  renderMessages();
  document.body.dataset.revision = String(state.revision);
}

function parseFlow(text) {
  if (!text.trim()) return undefined;
  try { return JSON.parse(text); } catch (error) { say(`flow is not JSON: ${error.message}`, true); return null; }
}

document.getElementById("create-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  const flow = parseFlow(form.elements.flow.value);
  if (flow === null) return;
  const body = { name: form.elements.name.value, flow };
  if (form.elements.default.checked) body.default = true;
  vendorCall(form.elements.account.value, "POST", "/omni/1/scenarios", body);
});

document.getElementById("edit-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  const flow = parseFlow(form.elements.flow.value);
  if (flow === null) return;
  const body = {};
  if (form.elements.name.value) body.name = form.elements.name.value;
  if (flow !== undefined) body.flow = flow;
  if (form.elements.default.checked) body.default = true;
  vendorCall(form.elements.account.value, "PUT", `/omni/1/scenarios/${form.elements.key.value}`, body);
});

document.getElementById("clock-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  const body = { seconds: Number(form.elements.seconds.value) };
  if (form.elements.account.value) body.account = form.elements.account.value;
  adminCall("POST", "/__admin/clock/advance", body);
});

document.getElementById("rule-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  const body = { destination: form.elements.destination.value, outcome: form.elements.outcome.value };
  if (form.elements.channel.value) body.channel = form.elements.channel.value;
  if (form.elements.delaySeconds.value !== "") body.delaySeconds = Number(form.elements.delaySeconds.value);
  if (form.elements.times.value !== "") body.times = Number(form.elements.times.value);
  adminCall("POST", "/__admin/delivery-rules", body);
});

document.querySelector("#edit-form select[name=account]").addEventListener("change", renderKeySelect);
document.getElementById("reset").addEventListener("click", () => adminCall("POST", "/__admin/reset"));
document.getElementById("clear-journal").addEventListener("click", () => adminCall("DELETE", "/__admin/requests"));
document.getElementById("admin-token").addEventListener("change", (event) => {
  sessionStorage.setItem(TOKEN_KEY, event.target.value);
  refresh();
});

refresh();
setInterval(refresh, POLL_MS);
