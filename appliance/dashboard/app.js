/* global document, location, history, sessionStorage, fetch, setTimeout */
// pirack dashboard: polls GET /api/v1/overview once a second and draws the shelf. Plain browser JavaScript,
// served by pirack itself (no build step, nothing fetched from elsewhere).
// Token: off loopback the API wants "Authorization: Bearer <token>". The page takes it from the URL fragment
// (#token=...; a fragment never reaches the server or its logs) or from the login dialog, keeps it in
// sessionStorage (this tab only) and removes it from the address bar.
"use strict";

const STAGES = ["power", "dhcp", "firmware", "kernel", "nfs", "up"];
const TOKEN_KEY = "pirack.token";
const POLL_MS = 1000;
const HISTORY = 60;

const state = { selected: null, overview: null, samples: [], timelineKey: "", pending: null };
const $ = (id) => document.getElementById(id);

function takeTokenFromFragment() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!m) return;
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
  history.replaceState(null, "", location.pathname + location.search);
}

function headers(extra) {
  const h = Object.assign({}, extra);
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) h.Authorization = "Bearer " + token;
  return h;
}

async function api(path, init) {
  const res = await fetch(path, Object.assign({}, init, { headers: headers(init && init.headers) }));
  if (res.status === 401) {
    askToken();
    throw new Error("the API wants a token");
  }
  return res;
}

function askToken() {
  const dialog = $("login");
  if (dialog.open) return;
  dialog.showModal();
}

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function stageText(pi) {
  if (pi.power === "off") return "off";
  if (pi.stuck) return "stuck: " + pi.stuck.stage;
  return pi.bootStage;
}

function slotTitle(slot) {
  if (slot.kind === "fileserver") return "port " + slot.port + ": fileserver trunk (" + slot.interface + ")";
  if (slot.kind === "empty") return "port " + slot.port + ": not a Pi port";
  const p = slot.pi;
  return [
    "port " + p.port + ": " + p.name,
    "stage " + stageText(p),
    "storage " + p.piAddress + " (" + p.interface + ")",
    "public " + p.publicAddress,
    "model " + (p.model || "-") + ", serial " + (p.serial || "-"),
    "PoE " + p.power + (slot.poe && slot.poe.watts !== null ? ", " + slot.poe.watts.toFixed(1) + " W" : ""),
    "last boot " + (p.lastBoot || "-"),
    ...(slot.workload ? [slot.workload.role + ": " + slot.workload.state + " (" + slot.workload.detail + ")"] : []),
  ].join("\n");
}

function drawSlots(ov) {
  const box = $("slots");
  const keep = new Map([...box.children].map((c) => [c.dataset.port, c]));
  box.replaceChildren(
    ...ov.slots.map((slot) => {
      const b = keep.get(String(slot.port)) || el("button", { type: "button" });
      b.dataset.port = String(slot.port);
      const cls = ["slot", slot.kind];
      if (slot.kind === "pi") {
        cls.push("stage-" + slot.pi.bootStage, "power-" + slot.pi.power);
        if (slot.pi.stuck) cls.push("stuck");
      }
      if (String(slot.port) === state.selected) cls.push("selected");
      b.className = cls.join(" ");
      b.dataset.stage = slot.kind === "pi" ? stageText(slot.pi) : slot.kind;
      b.title = slotTitle(slot);
      b.setAttribute("aria-label", slotTitle(slot).replace(/\n/g, ", "));
      const label = slot.kind === "pi" ? slot.pi.name : slot.kind === "fileserver" ? "fileserver" : "";
      const sub = slot.kind === "pi" ? stageText(slot.pi) : slot.kind === "fileserver" ? slot.interface : "";
      const poe = el("span", { class: "poe" + (slot.kind === "pi" && slot.pi.power === "on" ? " on" : "") });
      b.replaceChildren(el("span", { class: "num" }, String(slot.port)), el("span", { class: "name" }, label), el("span", { class: "stage" }, sub));
      if (slot.kind === "pi") b.append(poe);
      if (slot.kind === "pi" && slot.workload) {
        const w = slot.workload;
        const ok = w.healthy === null ? "unknown" : w.healthy && w.state !== "drained" ? "ok" : "bad";
        b.append(el("span", { class: "wl wl-" + ok }, w.role + " " + w.state));
      }
      b.disabled = slot.kind === "empty";
      return b;
    }),
  );
}

function drawDetails(ov) {
  const slot = ov.slots.find((s) => String(s.port) === state.selected && s.kind === "pi");
  $("details").hidden = !slot;
  if (!slot) return;
  const p = slot.pi;
  $("details-title").textContent = p.name + " (port " + p.port + ")";
  const rows = [
    ["stage", stageText(p) + (p.stuck ? " for " + p.stuck.forSeconds + " s" : "")],
    ["storage address", p.piAddress + " on " + p.interface + " (VLAN " + p.vlan + ")"],
    ["public address", p.publicAddress],
    ["MAC", p.mac || "-"],
    ["model", p.model || "-"],
    ["serial", p.serial || "-"],
    ["power", p.power + (slot.poe ? " (" + slot.poe.detection + ")" : "")],
    ["PoE watts", slot.poe && slot.poe.watts !== null ? slot.poe.watts.toFixed(1) + " W" : "-"],
    ["last boot", p.lastBoot ? new Date(p.lastBoot).toLocaleString() : "-"],
    ["last seen", p.lastSeen ? new Date(p.lastSeen).toLocaleString() : "-"],
    ["role", p.role],
    ...(slot.workload ? [["workload", slot.workload.state + ": " + slot.workload.detail]] : []),
  ];
  $("details-fields").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  const key = p.port + ":" + JSON.stringify(slot.boots);
  if (key !== state.timelineKey) {
    state.timelineKey = key;
    api("/api/v1/pis/" + p.port + "/timeline.svg")
      .then((r) => (r.ok ? r.text() : ""))
      .then((svg) => {
        // The SVG comes from pirack's own renderer, which escapes every name it draws.
        $("timeline").innerHTML = svg || "<p>no boots recorded yet</p>";
      })
      .catch(() => undefined);
  }
}

function drawProblems(ov) {
  const list = $("problems");
  if (ov.problems.length === 0) list.replaceChildren(el("li", { class: "none" }, "No problems: the last pass and every subsystem are fine."));
  else {
    list.replaceChildren(
      ...ov.problems.map((pr) => {
        const li = el("li", {});
        li.append(el("span", { class: "where" }, (pr.port !== null ? "port " + pr.port : pr.subsystem) + ":"), document.createTextNode(pr.text));
        return li;
      }),
    );
  }
  $("last-pass").textContent = ov.lastPass
    ? "last reconcile pass " + new Date(ov.lastPass.at).toLocaleTimeString() + " (" + ov.lastPass.reason + "): " + ov.lastPass.applied + " applied, " + ov.lastPass.failed + " failed"
    : "no reconcile pass yet";
}

function spark(id, values, unit) {
  const max = Math.max(1, ...values);
  const pts = values.map((v, i) => (i * 60) / Math.max(HISTORY - 1, 1) + "," + (20 - (v / max) * 18).toFixed(1)).join(" ");
  document.querySelector("#" + id + " polyline").setAttribute("points", pts);
  document.querySelector("#" + id + " .value").textContent = (values.at(-1) || 0).toFixed(1) + unit;
}

function drawFigures(ov) {
  const pse = ov.pse;
  const fill = document.querySelector("#pse .fill");
  if (pse && pse.budgetWatts) {
    const used = pse.consumptionWatts || 0;
    fill.style.width = Math.min(100, (used / pse.budgetWatts) * 100).toFixed(1) + "%";
    document.querySelector("#pse .value").textContent = used.toFixed(0) + " / " + pse.budgetWatts.toFixed(0) + " W";
  } else document.querySelector("#pse .value").textContent = "no PSE";
  const now = Date.now();
  state.samples.push({ at: now, a: ov.activity });
  while (state.samples.length > HISTORY + 1) state.samples.shift();
  const rates = (pick, scale) =>
    state.samples.slice(1).map((s, i) => {
      const prev = state.samples[i];
      return Math.max(0, (pick(s.a) - pick(prev.a)) / scale / Math.max((s.at - prev.at) / 1000, 0.001));
    });
  spark("dhcp", rates((a) => a.dhcpRequests, 1), "");
  spark("tftp", rates((a) => a.tftpBytes, 1024), "");
}

function drawLegend() {
  const items = STAGES.map((s) => [s, "var(--" + s + ")"]).concat([["off", "var(--off)"], ["unseen", "var(--unseen)"], ["stuck", "var(--stuck)"]]);
  $("legend").replaceChildren(...items.map(([name, c]) => { const s = el("span", {}, name); s.style.setProperty("--c", c); return s; }));
}

async function refresh() {
  try {
    const res = await api("/api/v1/overview");
    if (!res.ok) throw new Error("overview " + res.status);
    const ov = await res.json();
    state.overview = ov;
    $("shelf").textContent = ov.shelf;
    document.title = "pirack " + ov.shelf;
    drawSlots(ov);
    drawDetails(ov);
    drawProblems(ov);
    drawFigures(ov);
    $("connection").textContent = "live, " + new Date(ov.generatedAt).toLocaleTimeString();
    $("connection").className = "";
  } catch (err) {
    $("connection").textContent = "not connected: " + err.message;
    $("connection").className = "lost";
  } finally {
    setTimeout(refresh, POLL_MS);
  }
}

const ACTION_WORDS = { on: "Power on", off: "Power off", cycle: "Power-cycle", rebuild: "Rebuild the root of" };

function confirmAction(action) {
  const slot = state.overview && state.overview.slots.find((s) => String(s.port) === state.selected);
  if (!slot || slot.kind !== "pi") return;
  state.pending = { action, port: slot.port };
  const extra = action === "rebuild" ? " Its root is reset to the golden image; the old root is kept aside." : "";
  $("confirm-text").textContent = ACTION_WORDS[action] + " " + slot.pi.name + " (port " + slot.port + ")?" + extra;
  $("confirm").showModal();
}

async function runAction({ action, port }) {
  $("action-result").textContent = ACTION_WORDS[action] + " port " + port + "…";
  const init = action === "rebuild"
    ? { method: "POST" }
    : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ action }) };
  try {
    const res = await api("/api/v1/pis/" + port + "/" + (action === "rebuild" ? "rebuild" : "power"), init);
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || res.statusText);
    const steps = Array.isArray(body.result) ? ": " + body.result.map((s) => s.step + " " + s.atMs + " ms").join(", ") : "";
    $("action-result").textContent = ACTION_WORDS[action] + " port " + port + " done" + steps;
  } catch (err) {
    $("action-result").textContent = ACTION_WORDS[action] + " port " + port + " failed: " + err.message;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  takeTokenFromFragment();
  drawLegend();
  $("slots").addEventListener("click", (e) => {
    const b = e.target.closest(".slot.pi");
    if (!b) return;
    state.selected = b.dataset.port;
    state.timelineKey = "";
    if (state.overview) { drawSlots(state.overview); drawDetails(state.overview); }
  });
  $("actions").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-action]");
    if (b) confirmAction(b.dataset.action);
  });
  $("confirm").addEventListener("close", () => {
    const pending = state.pending;
    state.pending = null;
    if ($("confirm").returnValue === "ok" && pending) void runAction(pending);
  });
  $("login").addEventListener("close", () => {
    const t = $("login-token").value.trim();
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
  });
  void refresh();
});
