// SPDX-License-Identifier: BSD-2-Clause
// arbor's console: the tree from /api/status, kept live by /api/events
// (Server-Sent Events), histograms from /metrics, a worker's log from
// /api/logs. Read-only. Every text arbord or a worker wrote is put in the
// page as text (textContent), never as markup. The session cookie that
// /login set goes with every request (same origin); once arbord answers
// 401 (the session expired, or arbord's observability side restarted),
// the page says so instead of going stale.
"use strict";

const HOUR_MS = 3600 * 1000;
const MAX_EVENTS = 5000;		// kept for the timeline
const SVG = "http://www.w3.org/2000/svg";

const st = {
  tree: null,			// the status document
  nodes: new Map(),		// path -> node of the tree
  exits: new Map(),		// path -> the last exit event (killer, OOM)
  events: [],			// recent lifecycle events, oldest first
  cascades: [],			// cascade events
  selected: null,
  offset: null,			// Date.now() - mono_ns / 1e6
  dirty: false,
  signedOut: false,		// a 401 came: the session is gone
};

// Same-origin requests carry the session cookie (said, not assumed).
function get(url) {
  return fetch(url, { cache: "no-store", credentials: "same-origin" });
}

// The session is gone: say how to get a new one, and stop asking.
function signedOut() {
  if (st.signedOut) return;
  st.signedOut = true;
  document.getElementById("signed-out").hidden = false;
  const live = document.getElementById("live");
  live.textContent = "signed out"; live.className = "off";
}

// A reply of /api/*: false (after signedOut) when it is a 401.
function stillSignedIn(r) {
  if (r.status !== 401) return true;
  signedOut();
  return false;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = String(text);
  return e;
}

function fmtBytes(b) {
  if (b === undefined || b === null) return "";
  const u = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
  return b.toFixed(i ? 1 : 0) + " " + u[i];
}

function fmtDur(s) {
  if (s === undefined || s === null) return "";
  if (s < 60) return s.toFixed(1) + " s";
  if (s < 3600) return (s / 60).toFixed(1) + " min";
  return (s / 3600).toFixed(1) + " h";
}

function fmtSec(s) {
  if (s < 1e-6) return (s * 1e9).toFixed(0) + "ns";
  if (s < 1e-3) return (s * 1e6).toFixed(0) + "µs";
  if (s < 1) return (s * 1e3).toFixed(s < 0.01 ? 1 : 0) + "ms";
  return s.toFixed(1) + "s";
}

// Epoch ms of an event, from its wall-clock ts (mono_ns is kept for
// ordering and for durations).
function evMs(ev) {
  const t = Date.parse(ev.ts);
  return Number.isNaN(t) ? Date.now() : t;
}

function indexTree(n, depth) {
  n.depth = depth;
  st.nodes.set(n.path, n);
  for (const c of n.children || []) indexTree(c, depth + 1);
}

async function loadStatus() {
  try {
    if (st.signedOut) return;
    const r = await get("/api/status");
    if (!stillSignedIn(r) || !r.ok) return;
    const tree = await r.json();
    const seen = new Map(st.nodes);
    st.nodes.clear();
    indexTree(tree, 0);
    // Live fields the events brought since the request went out stay.
    for (const [p, n] of st.nodes) {
      const old = seen.get(p);
      if (old && old.liveAt && old.liveAt > (n.liveAt || 0)) {
        Object.assign(n, { state: old.state, pid: old.pid,
          restarts: Math.max(old.restarts, n.restarts), liveAt: old.liveAt,
          readyAt: old.readyAt });
      } else if (n.uptime_s !== undefined) {
        n.readyAt = Date.now() - n.uptime_s * 1000;
      }
    }
    st.tree = tree;
    st.dirty = true;
  } catch (e) {
    // arbord restarting its observability thread: the next poll retries
  }
}

function onEvent(ev, history) {
  const n = history ? null : st.nodes.get(ev.path);
  const now = Date.now();
  switch (ev.event) {
    case "spawn": case "exec":
      if (n) { n.pid = ev.pid; n.state = "starting"; n.liveAt = now; }
      break;
    case "ready":
      if (n) { n.pid = ev.pid; n.state = "running"; n.readyAt = evMs(ev); n.liveAt = now; }
      break;
    case "exit":
      st.exits.set(ev.path, ev);
      if (n) {
        n.state = "stopped"; delete n.pid; n.liveAt = now;
        n.last_exit = { reason: ev.reason, status: ev.status, signal: ev.signal };
        n.flash = true;
      }
      break;
    case "stop":
      if (n) { n.state = "stopping"; n.liveAt = now; }
      break;
    case "restart":
      if (n) { n.restarts = (n.restarts || 0) + 1; n.liveAt = now; }
      break;
    case "cascade":
      if (st.cascades.some((c) => c.cascade === ev.cascade && c.mono_ns === ev.mono_ns)) break;
      st.cascades.push(ev);
      if (st.cascades.length > 50) st.cascades.shift();
      break;
    case "child_added": case "child_removed": case "reload":
      if (!history) loadStatus();
      break;
    default:
      break;
  }
  if (["exit", "restart", "ready", "spawn", "stop"].includes(ev.event)) {
    st.events.push(ev);
    if (st.events.length > MAX_EVENTS) st.events.shift();
  }
  if (ev.path === st.selected && (ev.event === "exit" || ev.event === "ready"))
    loadLogs();
  st.dirty = true;
}

function connect() {
  const live = document.getElementById("live");
  if (st.signedOut) return;
  const es = new EventSource("/api/events");	// same origin: with the cookie
  let history = true;	// the recent events come first, then "live"
  es.onopen = () => {
    history = true;
    st.events = [];
    live.textContent = "live"; live.className = "on";
  };
  es.onerror = () => {
    live.textContent = "reconnecting"; live.className = "off";
    // A network error is retried by the browser itself; an HTTP error
    // (401 once the session is gone, 503 when streams are full) closes
    // the stream for good: find out which, then sign out or retry.
    if (es.readyState !== EventSource.CLOSED) return;
    get("/api/status").then((r) => {
      if (stillSignedIn(r)) setTimeout(connect, 2000);
    }, () => setTimeout(connect, 2000));
  };
  es.addEventListener("live", () => { history = false; loadStatus(); });
  es.onmessage = (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch (e) { return; }
    onEvent(ev, history);
  };
}

function killerText(path) {
  const ev = st.exits.get(path);
  if (!ev) return "";
  let t = "";
  if (ev.killer_comm) t = ev.killer_comm + (ev.killer_pid ? " (" + ev.killer_pid + ")" : "");
  if (ev.oom) t = (t ? t + ", " : "") + "OOM";
  return t;
}

function exitText(le) {
  if (!le) return "";
  let t = le.reason || "";
  if (le.signal) t += " " + le.signal;
  else if (le.status !== undefined && le.status !== null && le.status >= 0) t += " status " + le.status;
  return t;
}

function renderTree() {
  const tb = document.querySelector("#tree tbody");
  const rows = [];
  let workers = 0, running = 0, restarts = 0;
  for (const [p, n] of st.nodes) {
    const tr = el("tr", n.kind === "supervisor" ? "supervisor" : "worker");
    tr.dataset.path = p;
    if (p === st.selected) tr.classList.add("selected");
    if (n.flash) { tr.classList.add("flash"); n.flash = false; }
    const name = el("td", "path", "\u00a0\u00a0".repeat(n.depth) + p.split("/").pop());
    name.title = p;
    tr.append(name, el("td", "state state-" + n.state, n.state + (n.kind === "supervisor" && n.strategy ? " · " + n.strategy : "")));
    tr.append(el("td", "pid", n.pid || ""));
    const up = n.state === "running" && n.readyAt ? (Date.now() - n.readyAt) / 1000 : null;
    tr.append(el("td", "uptime", fmtDur(up)));
    tr.append(el("td", "restarts", n.restarts));
    const lx = el("td", "last-exit", exitText(n.last_exit));
    if (n.status_text) lx.title = n.status_text;
    tr.append(lx, el("td", "killer", killerText(p)));
    tr.append(el("td", "memory", fmtBytes(n.memory_bytes)));
    tr.append(el("td", "cpu", n.cpu_seconds !== undefined && n.cpu_seconds !== null ? n.cpu_seconds.toFixed(2) + " s" : ""));
    if (n.status_text) {
      const s = el("div", "status-text", n.status_text);
      name.append(s);
    }
    tr.addEventListener("click", () => select(n.kind === "worker" ? p : null));
    rows.push(tr);
    if (n.kind === "worker") { workers++; if (n.state === "running") running++; }
    restarts += n.restarts || 0;
  }
  tb.replaceChildren(...rows);
  document.getElementById("summary").textContent =
    running + "/" + workers + " workers running, " + restarts + " restarts";
}

function renderTimeline() {
  const s = document.getElementById("timeline");
  // The last hour, or less when less has happened: at least 2 minutes.
  const now = Date.now();
  const first = st.events.length ? Math.max(evMs(st.events[0]), now - HOUR_MS) : now;
  const span = Math.min(HOUR_MS, Math.max(2 * 60 * 1000, (now - first) * 1.1));
  const from = now - span;
  const lanes = [...new Set(st.events.filter((e) => evMs(e) >= from).map((e) => e.path))].sort();
  const W = Math.max(s.clientWidth || 900, 400), L = 170, R = 10, H = 18;
  const x = (t) => L + (W - L - R) * (t - from) / span;
  const y = new Map(lanes.map((p, i) => [p, 10 + i * H]));
  s.setAttribute("viewBox", "0 0 " + W + " " + (lanes.length * H + 30));
  s.setAttribute("height", lanes.length * H + 30);
  const out = [];
  for (const p of lanes) {
    out.push(svg("rect", { class: "lane", x: L, y: y.get(p) - 7, width: W - L - R, height: 14 }));
    out.push(svg("text", { class: "lane-label", x: 4, y: y.get(p) + 4 }, p));
  }
  const lastExit = new Map();
  for (const e of st.events) {
    const t = evMs(e);
    if (t < from || !y.has(e.path)) continue;
    const cx = x(t), cy = y.get(e.path);
    if (e.event === "exit") {
      lastExit.set(e.path, [cx, cy]);
      const m = svg("circle", { class: "mark-exit", cx, cy, r: 4 });
      m.append(svg("title", {}, e.path + ": " + e.reason + (e.signal ? " " + e.signal : "") + (e.killer_comm ? " by " + e.killer_comm : "")));
      out.push(m);
    } else if (e.event === "ready") {
      out.push(svg("rect", { class: "mark-ready", x: cx - 1, y: cy - 6, width: 2, height: 12 }));
    } else if (e.event === "restart") {
      // A held socket's peak: connections that waited, none refused.
      const waited = typeof e.backlog_peak === "number" && e.backlog_peak > 0;
      const m = svg("rect", { class: waited ? "mark-restart mark-waited" : "mark-restart",
        x: cx - 2, y: cy - 2, width: 4, height: 4 });
      m.append(svg("title", {}, e.path + ": restart" + (typeof e.backlog_peak === "number"
        ? ", " + e.backlog_peak + " connection" + (e.backlog_peak === 1 ? "" : "s") + " waited in its socket's backlog" : "")));
      out.push(m);
      if (e.cascade && e.cause && e.cause !== e.path && lastExit.has(e.cause)) {
        const [fx, fy] = lastExit.get(e.cause);
        const line = svg("path", { class: "cascade-link", d: "M" + fx + "," + fy + " C" + (fx + 30) + "," + fy + " " + (cx - 30) + "," + cy + " " + cx + "," + cy });
        line.dataset.cascade = e.cascade;
        line.append(svg("title", {}, "cascade " + e.cascade + ": " + e.cause + " → " + e.path));
        out.push(line);
      }
    }
  }
  out.push(svg("text", { class: "axis", x: L, y: lanes.length * H + 25 },
    span >= HOUR_MS ? "1 h ago" : Math.round(span / 60000) + " min ago"));
  out.push(svg("text", { class: "axis", x: W - R - 20, y: lanes.length * H + 25 }, "now"));
  s.replaceChildren(...out);
  const ul = document.getElementById("cascades");
  ul.replaceChildren(...st.cascades.slice(-5).reverse().map((c) =>
    el("li", "cascade", "cascade " + c.cascade + " from " + c.path + ": " + c.ready + " of " + c.workers +
      " workers back in " + fmtSec(c.duration_ns / 1e9) + " (the last " + c.last + ")")));
}

// Sums a histogram's buckets over its label sets: [[le, count], ...].
function parseHist(text, name) {
  const sums = new Map();
  const re = new RegExp("^" + name + "_bucket\\{(.*)\\} (\\S+)$");
  for (const line of text.split("\n")) {
    const m = re.exec(line);
    if (!m) continue;
    const le = /le="([^"]*)"/.exec(m[1]);
    if (!le) continue;
    sums.set(le[1], (sums.get(le[1]) || 0) + Number(m[2]));
  }
  return [...sums].map(([le, c]) => [le === "+Inf" ? Infinity : Number(le), c]).sort((a, b) => a[0] - b[0]);
}

function renderHist(id, buckets) {
  const s = document.getElementById(id);
  const W = Math.max(s.clientWidth || 400, 200), H = 160, B = 20;
  s.setAttribute("viewBox", "0 0 " + W + " " + H);
  const counts = buckets.map(([le, c], i) => [le, c - (i ? buckets[i - 1][1] : 0)]);
  const max = Math.max(1, ...counts.map((c) => c[1]));
  const bw = counts.length ? (W - 10) / counts.length : W;
  const out = [];
  counts.forEach(([le, c], i) => {
    const h = (H - B - 10) * c / max;
    const r = svg("rect", { class: "bar", x: 5 + i * bw, y: H - B - h, width: Math.max(bw - 2, 1), height: h });
    r.append(svg("title", {}, "≤ " + (le === Infinity ? "+Inf" : fmtSec(le)) + ": " + c));
    out.push(r);
    if (i % Math.ceil(counts.length / 6) === 0)
      out.push(svg("text", { class: "axis", x: 5 + i * bw, y: H - 5 }, le === Infinity ? "+Inf" : fmtSec(le)));
  });
  if (!counts.length) out.push(svg("text", { class: "axis", x: 10, y: 20 }, "no samples yet"));
  s.replaceChildren(...out);
}

async function loadMetrics() {
  try {
    const r = await get("/metrics");
    if (!r.ok) return;
    const text = await r.text();
    renderHist("hist-restart", parseHist(text, "arbor_restart_latency_seconds"));
    renderHist("hist-runq", parseHist(text, "arbor_runqueue_latency_seconds"));
  } catch (e) {
    // retried on the next poll
  }
}

async function loadLogs() {
  const pre = document.getElementById("logs");
  if (!st.selected || st.signedOut) return;
  const path = st.selected;
  try {
    const r = await get("/api/logs?lines=200&path=" + encodeURIComponent(path));
    if (!stillSignedIn(r)) return;
    const text = await r.text();
    if (path !== st.selected) return;
    pre.textContent = r.ok ? text : "(" + text.trim() + ")";
    pre.scrollTop = pre.scrollHeight;
  } catch (e) {
    pre.textContent = "(the log could not be read)";
  }
}

function select(path) {
  st.selected = path;
  document.getElementById("logs-path").textContent = path || "(click a worker)";
  document.getElementById("logs").textContent = "";
  st.dirty = true;
  loadLogs();
}

function frame() {
  if (st.dirty) {
    st.dirty = false;
    renderTree();
    renderTimeline();
  }
}

function start() {
  loadStatus().then(connect);
  loadMetrics();
  setInterval(frame, 250);
  setInterval(() => { st.dirty = true; }, 1000);	// uptimes move
  setInterval(loadStatus, 10000);			// memory and CPU
  setInterval(loadMetrics, 5000);
  setInterval(loadLogs, 3000);
}

document.addEventListener("DOMContentLoaded", start);
