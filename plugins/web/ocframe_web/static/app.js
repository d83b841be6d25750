// The status page: polls /api/v1/status and renders it. Untrusted text
// (titles, errors, log lines) only ever goes in through textContent.
"use strict";

const API = "/api/v1";
let session = null;
let refreshMs = 2000;
const previews = {};  // "agent/input" -> last image_time shown

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}

function ago(epoch) {
  if (epoch == null) return "never";
  const s = Math.max(0, Date.now() / 1000 - epoch);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return `${(s / 3600).toFixed(1)} h ago`;
}

function span(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  const h = Math.floor(seconds / 3600), m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
  return (h ? `${h}:${String(m).padStart(2, "0")}` : `${m}`) + `:${String(s).padStart(2, "0")}`;
}

function bytes(n) {
  if (n == null) return "?";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function clock(iso) {
  return new Date(iso).toLocaleString([], {weekday: "short", hour: "2-digit", minute: "2-digit"});
}

async function call(method, path, body) {
  const opts = {method, credentials: "same-origin", headers: {}};
  if (method !== "GET") {
    opts.headers["X-CSRF-Token"] = session.csrf_token;
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body || {});
  }
  const response = await fetch(API + path, opts);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `${response.status} ${response.statusText}`);
  return data;
}

function problem(text) {
  const p = document.getElementById("problem");
  p.hidden = !text;
  p.textContent = text || "";
}

async function act(what, method, path, body, confirmText) {
  if (confirmText && !window.confirm(confirmText)) return;
  try {
    await call(method, path, body);
    problem(null);
  } catch (err) {
    problem(`${what}: ${err.message}`);
  }
  poll();
}

function agentCard(name) {
  let card = document.querySelector(`.agent[data-agent="${CSS.escape(name)}"]`);
  if (card) return card;
  card = document.getElementById("agent-template").content.firstElementChild.cloneNode(true);
  card.dataset.agent = name;
  card.querySelector(".name").textContent = name;
  card.querySelector("form.adhoc").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const form = ev.target;
    act("Start", "POST", `/agents/${encodeURIComponent(name)}/record`,
        {title: form.title.value, duration: form.duration.value});
  });
  document.getElementById("agents").append(card);
  return card;
}

function renderInput(agent, run, input) {
  const key = `${agent}/${input.name}`;
  const box = el("div", {class: "input", "data-input": input.name});
  const fig = el("figure");
  if (input.has_preview) {
    const img = el("img", {class: "preview", alt: `preview of ${input.name}`});
    const meter = el("div", {class: "meter", title: "audio level"}, el("div"));
    const level = el("span", {class: "level muted", text: "…"});
    fig.append(img, meter, level);
    refreshPreview(agent, input.name, img, meter.firstChild, level);
  }
  fig.append(el("figcaption", {text: `${input.name}` + (input.segment ? ` (segment ${input.segment})` : "")
                               + (input.capturing_since ? "" : " – waiting")}));
  for (const e of input.errors) fig.append(el("div", {class: "error", text: e}));
  box.append(fig);
  return box;
}

async function refreshPreview(agent, input, img, bar, label) {
  const path = `/agents/${encodeURIComponent(agent)}/inputs/${encodeURIComponent(input)}/preview`;
  try {
    const p = await call("GET", path);
    const key = `${agent}/${input}`;
    if (p.image) img.src = `${p.image}?t=${p.image_time}`;
    img.dataset.imageTime = p.image_time ?? "";
    previews[key] = p.image_time;
    if (p.audio_level_db != null) {
      const pct = Math.max(0, Math.min(100, (p.audio_level_db + 60) / 60 * 100));
      bar.style.width = `${pct}%`;
      label.textContent = `${p.audio_level_db.toFixed(1)} dBFS`;
      label.dataset.level = p.audio_level_db;
    } else {
      label.textContent = "no audio level";
    }
  } catch (err) {
    label.textContent = "no preview";
  }
}

function renderAgent(a) {
  const card = agentCard(a.name);
  const badge = card.querySelector(".state");
  badge.textContent = a.state;
  badge.className = `state badge ${a.state}`;
  card.querySelector(".contact").textContent =
    `core: ${a.contact_error ? "unreachable (" + a.contact_error + ")" : "last contact " + ago(a.last_contact)}`
    + ` · calendar ${ago(a.last_calendar_sync)}`;
  const err = card.querySelector(".agent-error");
  err.hidden = !a.error;
  err.textContent = a.error || "";
  const running = card.querySelector(".running");
  running.replaceChildren();
  for (const r of a.running) {
    const started = Date.parse(r.start) / 1000;
    const end = Date.parse(r.end) / 1000;
    const now = Date.now() / 1000;
    const box = el("div", {class: "run", "data-recording": r.recording_id},
      el("div", {class: "title", text: r.title || r.recording_id}),
      el("div", {class: "muted", text:
        `${r.unscheduled ? "ad-hoc · " : ""}recording ${span(now - started)}, ${span(end - now)} left`
        + (r.stopping ? " · stopping" : "")}));
    const inputs = el("div", {class: "inputs"});
    for (const i of r.inputs) inputs.append(renderInput(a.name, r, i));
    box.append(inputs);
    if (!r.stopping) {
      const stop = el("button", {class: "stop", type: "button", text: "Stop now"});
      stop.addEventListener("click", () => act("Stop", "POST",
        `/agents/${encodeURIComponent(a.name)}/stop`, {recording_id: r.recording_id},
        `Stop recording "${r.title}" now?`));
      box.append(stop);
    }
    running.append(box);
  }
  card.querySelector("form.adhoc").hidden = a.running.some((r) => !r.stopping);
  const next = card.querySelector(".next");
  next.replaceChildren();
  for (const e of a.next_events) {
    const inS = Date.parse(e.start) / 1000 - Date.now() / 1000;
    next.append(el("li", {text: `${clock(e.start)} ${e.title || e.uid} – ${inS > 0 ? "in " + span(inS) : "now"}`}));
  }
  if (!a.next_events.length) next.append(el("li", {class: "muted", text: "nothing scheduled"}));
}

function renderRecording(r) {
  const box = el("div", {class: "rec", "data-id": r.id},
    el("span", {class: `state badge ${r.state}`, text: r.state}), " ",
    el("span", {class: "title", text: r.title || r.id}),
    el("div", {class: "muted", text: `${r.agent} · ${clock(r.start)}${r.unscheduled ? " · ad-hoc" : ""}`
                                     + (r.attempts ? ` · ${r.attempts} upload attempt(s)` : "")}));
  if (r.upload) {
    const u = r.upload;
    box.append(el("progress", {max: u.total || 1, value: u.sent}),
      el("div", {class: "muted", text: `${bytes(u.sent)} of ${bytes(u.total)}`
        + (u.rate ? ` · ${bytes(u.rate)}/s` : "") + (u.eta != null ? ` · ${span(u.eta)} left` : "")}));
  }
  if (r.error) box.append(el("div", {class: "error", text: r.error}));
  const history = el("details", {}, el("summary", {text: "history"}));
  const list = el("ul");
  for (const h of r.history) {
    list.append(el("li", {text: `${new Date(h.at * 1000).toLocaleTimeString()} ${h.state}${h.detail ? " – " + h.detail : ""}`}));
  }
  history.append(list);
  box.append(history);
  // Not after upload_finished: a second ingest would make a second event.
  if (["upload_error", "capture_finished"].includes(r.state)) {
    const retry = el("button", {class: "retry", type: "button", text: "Retry upload"});
    retry.addEventListener("click", () => act("Retry", "POST", `/recordings/${encodeURIComponent(r.id)}/retry`));
    box.append(retry, " ");
  }
  if (r.state !== "capturing" && r.state !== "uploading") {
    const del = el("button", {class: "delete", type: "button", text: "Delete"});
    const done = ["upload_finished", "upload_error", "capture_error"].includes(r.state);
    del.addEventListener("click", () => act("Delete", "POST", `/recordings/${encodeURIComponent(r.id)}/delete`,
      {force: !done}, done ? `Delete "${r.title}" and its files?`
                           : `"${r.title}" is not ingested yet. Delete it and its files anyway?`));
    box.append(del);
  }
  return box;
}

function render(s) {
  for (const a of s.agents) renderAgent(a);
  const recs = document.getElementById("recordings");
  const open = new Set([...recs.querySelectorAll("details[open]")].map((d) => d.parentElement.dataset.id));
  recs.replaceChildren(...s.recordings.map(renderRecording));
  for (const d of recs.querySelectorAll(".rec")) if (open.has(d.dataset.id)) d.querySelector("details").open = true;
  if (!s.recordings.length) recs.append(el("p", {class: "muted", text: "no recordings"}));
  const d = s.disk;
  document.getElementById("disk").textContent =
    `disk: ${bytes(d.free_bytes)} free of ${bytes(d.total_bytes)}${d.low ? " – LOW" : ""}`
    + ` · uploaded ${bytes(s.bytes_uploaded)} since start · last ingest ${ago(s.last_ingest)}`;
  const loops = document.getElementById("loops");
  loops.replaceChildren(...s.loops.map((l) => el("li", {title: l.last_error || ""},
    el("span", {class: `badge ${l.state}`, text: l.state}), ` ${l.name}`)));
  document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
}

async function poll() {
  try {
    const [status, logs] = await Promise.all([call("GET", "/status"), call("GET", "/logs?limit=40")]);
    render(status);
    const pre = document.getElementById("logs");
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.textContent = logs.lines.map((l) =>
      `${new Date(l.at * 1000).toLocaleTimeString()} ${l.level.padEnd(7)} ${l.logger}: ${l.message}`).join("\n");
    if (atEnd) pre.scrollTop = pre.scrollHeight;  // follow the newest, unless scrolled back
    if (document.getElementById("problem").textContent.startsWith("agent unreachable")) problem(null);
  } catch (err) {
    problem(`agent unreachable: ${err.message}`);
  }
}

async function main() {
  session = await call("GET", "/session");
  refreshMs = session.refresh * 1000;
  await poll();
  setInterval(poll, refreshMs);
}

main().catch((err) => problem(`cannot load: ${err.message}`));
