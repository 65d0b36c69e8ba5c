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

async function adminCall(method, path) {
  const response = await fetch(path, { method, headers: adminHeaders() });
  say(`${method} ${path} → ${response.status}`, !response.ok);
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
    select.replaceChildren(...state.accounts.map((a) => el("option", { value: a.username }, a.username)));
    if (account(chosen)) select.value = chosen;
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

function renderTables() {
  const buckets = document.querySelector("#rate-limits tbody");
  buckets.replaceChildren(...state.rateLimits.map((b) => el("tr", {},
    el("td", {}, b.account), el("td", {}, b.operation), el("td", {}, `${Number(b.tokens).toFixed(1)} / ${b.capacity}`),
    el("td", {}, b.per))));
  const requests = document.querySelector("#requests tbody");
  requests.replaceChildren(...state.requests.slice().reverse().map((r) => el("tr", {},
    el("td", {}, new Date(r.timestamp * 1000).toLocaleTimeString()), el("td", {}, r.method),
    el("td", { class: "key" }, r.path + (r.query ? `?${r.query}` : "")),
    el("td", { class: `status-${String(r.status)[0]}` }, r.status), el("td", {}, r.account ?? "–"))));
  document.getElementById("requests-recorded").textContent = `(${state.requestsRecorded} recorded in all)`;
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
  document.getElementById("status").textContent = `revision ${JSON.parse(text).revision}, ` +
    `updated ${new Date().toLocaleTimeString()}`;
  if (text === lastText) return;
  lastText = text;
  state = JSON.parse(text);
  // Rows are rebuilt only when the accounts changed, so buttons do not vanish under the pointer.
  const accountsText = JSON.stringify(state.accounts);
  if (accountsText !== lastAccounts) {
    lastAccounts = accountsText;
    renderAccounts();
    renderSelects();
  }
  renderTables();
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

document.querySelector("#edit-form select[name=account]").addEventListener("change", renderKeySelect);
document.getElementById("reset").addEventListener("click", () => adminCall("POST", "/__admin/reset"));
document.getElementById("clear-journal").addEventListener("click", () => adminCall("DELETE", "/__admin/requests"));
document.getElementById("admin-token").addEventListener("change", (event) => {
  sessionStorage.setItem(TOKEN_KEY, event.target.value);
  refresh();
});

refresh();
setInterval(refresh, POLL_MS);
