// p2pd dashboard. Plain JavaScript, embedded in the binary, no build step,
// nothing loaded from elsewhere. Polls the JSON views under /ui/api every
// two seconds; every view is one server-side page, never the whole fleet.
"use strict";

const REFRESH_MS = 2000;
const PER = 50;
const state = {
  content: null,          // selected content id
  offices: { query: "", page: 0 },  // the top-level page, or a search's
  expanded: new Map(),    // office id -> number of child pages shown
  devices: { query: "", page: 0 },
  autoExpanded: false,    // small trees open on first load
};
let shown = [];           // offices rendered by the last loadOffices

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    // CSSOM, not a style attribute: the page's CSP allows no inline styles.
    else if (k === "style") e.style.cssText = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

async function get(path) {
  const r = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  if (r.status === 401) { location.reload(); throw new Error("refused"); }
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

function bytes(n) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}

// The offices and devices cards share one shape: a search box, paging
// buttons and a table with `headings` ("#name": a number column). `load`
// redraws the card after the search or the page changed.
function pagedCard(name, searchId, placeholder, headings, load) {
  const p = state[name];
  const search = el("input", { type: "search", id: searchId, placeholder });
  search.addEventListener("input", debounce(() => { p.query = search.value.trim(); p.page = 0; load(); }, 250));
  const step = d => () => { p.page += d; load(); };
  const th = h => h.startsWith("#") ? el("th", { class: "num" }, h.slice(1)) : el("th", {}, h);
  document.getElementById(name + "-card").append(
    el("div", { class: "toolbar" }, search,
      el("button", { id: name + "-prev", onclick: step(-1) }, "‹ prev"),
      el("span", { id: name + "-pageinfo", class: "muted" }),
      el("button", { id: name + "-next", onclick: step(1) }, "next ›")),
    el("table", { id: name }, el("thead", {}, el("tr", {}, ...headings.map(th))), el("tbody")));
}

// A card's "page 2 of 7 · 340 devices" and its paging buttons; `what` is
// the singular ("device"), made plural by an s.
function showPage(name, total, what) {
  const p = state[name], pages = Math.max(1, Math.ceil(total / PER));
  document.getElementById(name + "-pageinfo").textContent =
    "page " + (p.page + 1) + " of " + pages + " · " + total + " " + what + (total === 1 ? "" : "s");
  document.getElementById(name + "-prev").disabled = p.page === 0;
  document.getElementById(name + "-next").disabled = p.page + 1 >= pages;
}

function q(params) {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") s.set(k, v);
  return s.toString();
}

// ------------------------------------------------------------- overview --
async function loadOverview() {
  const o = await get("/ui/api/overview");
  const rows = [
    ["server ID", o.server_id],
    ["version", o.version],
    ["key fingerprint", o.key_fingerprint + " (version " + o.key_version + ")"],
    ["distribution optimization", o.distribution_optimization ? "on" : "off"],
    ["assigned groups", o.assigned_groups.length ? o.assigned_groups.join(", ") : "(none)"],
    ["supported client versions", o.min_client_version + " to " + o.max_client_version],
    ["file storage", o.file_storage || "(not set)"],
    ["CDN", o.cdn_url || "(not set)"],
    ["heartbeat", o.heartbeat_secs + " s"],
    ["offices / devices", o.offices + " / " + o.devices + (o.no_office_devices ? " (" + o.no_office_devices + " no-office)" : "")],
    ["key mismatch refusals", String(o.key_mismatch_refusals)],
  ];
  const dl = document.getElementById("settings");
  dl.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));

  const sel = document.getElementById("content");
  if (!state.content && o.contents.length) state.content = o.contents[0].id;
  sel.replaceChildren(...o.contents.map(c =>
    el("option", c.id === state.content ? { value: c.id, selected: "" } : { value: c.id },
      c.name + (c.active ? " · active" : "") + " · " + bytes(c.size))));
  const c = o.contents.find(c => c.id === state.content);
  document.getElementById("progress-figure").textContent = c ? c.progress_percent.toFixed(1) + "%" : "–";
  document.getElementById("done-figure").textContent = c
    ? c.devices_done + " of " + c.devices_targeted + " targeted devices done · " + c.pieces + " pieces"
    : "no content published yet";
}

// -------------------------------------------------------------- offices --
function officeRow(o, depth, withPath) {
  shown.push(o);
  const open = state.expanded.has(o.id);
  const toggle = o.children > 0
    ? el("button", { class: "toggle", title: open ? "collapse" : "expand", onclick: () => {
        if (open) state.expanded.delete(o.id); else state.expanded.set(o.id, 1);
        refreshOffices();
      } }, open ? "▾" : "▸")
    : el("span", { class: "toggle" }, "");
  const name = el("td", { style: "padding-left:" + (0.5 + depth * 1.3) + "em" }, toggle, " ",
    withPath && o.path && o.path.length ? el("span", { class: "muted" }, o.path.join(" › ") + " › ") : null,
    o.name, o.children ? el("span", { class: "muted" }, " (" + o.children + ")") : null);
  const pct = o.progress_percent;
  return el("tr", { class: "office", "data-office": o.name },
    name,
    el("td", {}, o.kind),
    el("td", { class: "num" }, o.devices),
    el("td", { class: "done" }, o.devices_done + " / " + o.devices_targeted),
    el("td", { class: "num" }, el("span", { class: "bar" }, el("span", { style: "width:" + pct + "%" })), pct.toFixed(1) + "%"),
    el("td", { class: "num" }, o.wan_copies.toFixed(2)),
    el("td", {}, o.leader || ""));
}

async function officeRows(parent, depth, pages) {
  const out = [];
  let total = 0;
  for (let p = 0; p < pages; p++) {
    const r = await get("/ui/api/offices?" + q({ content: state.content, parent, page: p, per: PER }));
    total = r.total;
    for (const o of r.offices) {
      out.push(officeRow(o, depth));
      if (state.expanded.has(o.id)) out.push(...(await officeRows(o.id, depth + 1, state.expanded.get(o.id))).rows);
    }
    if (depth === 0 && p === 0 && r.no_office) out.push(officeRow(r.no_office, 0));
  }
  if (depth > 0 && pages * PER < total) {
    out.push(el("tr", {}, el("td", { colspan: 7, style: "padding-left:" + (0.5 + depth * 1.3) + "em" },
      el("button", { onclick: () => { state.expanded.set(parent, pages + 1); refreshOffices(); } },
        "more… (" + (total - pages * PER) + " not shown)"))));
  }
  return { rows: out, total };
}

async function loadOffices() {
  shown = [];
  const body = document.querySelector("#offices tbody");
  let rows, total;
  if (state.offices.query) {
    const r = await get("/ui/api/offices?" + q({ content: state.content, q: state.offices.query, page: state.offices.page, per: PER }));
    rows = r.offices.map(o => officeRow(o, 0, true));
    total = r.total;
  } else {
    // The top of the tree is paged here; expanded offices page their children inline.
    const r = await get("/ui/api/offices?" + q({ content: state.content, page: state.offices.page, per: PER }));
    rows = [];
    for (const o of r.offices) {
      rows.push(officeRow(o, 0));
      if (state.expanded.has(o.id)) rows.push(...(await officeRows(o.id, 1, state.expanded.get(o.id))).rows);
    }
    if (state.offices.page === 0 && r.no_office) rows.push(officeRow(r.no_office, 0));
    total = r.total;
  }
  showPage("offices", total, (state.offices.query ? "matching" : "top-level") + " office");
  body.replaceChildren(...rows);
  // First load of a small tree: open it (up to 30 rows, three levels), so
  // a site with a handful of offices sees them all; big trees stay collapsed.
  if (!state.autoExpanded && !state.offices.query) {
    let budget = 30 - shown.length, more = false;
    for (const o of shown) {
      if (o.children > 0 && !state.expanded.has(o.id) && o.children <= budget) {
        state.expanded.set(o.id, 1); budget -= o.children; more = true;
      }
    }
    if (!more || state.expanded.size >= 3) state.autoExpanded = true;
    if (more) return loadOffices();
  }
}

// ---------------------------------------------------------------- chart --
const TIERS = ["lan", "parent", "server", "cdn"];
async function loadChart() {
  const svg = document.getElementById("chart");
  if (!state.content) { svg.replaceChildren(); return; }
  const s = await get("/ui/api/series?" + q({ content: state.content }));
  const NS = "http://www.w3.org/2000/svg";
  const W = 900, H = 220, L = 60, B = 20, T = 14;
  const mk = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const pts = s.points;
  const nodes = [];
  if (!pts.length) {
    nodes.push(mk("text", { x: L, y: H / 2 }, "no bytes transferred yet"));
    svg.replaceChildren(...nodes);
    return;
  }
  const t0 = pts[0].t, t1 = pts[pts.length - 1].t + s.bucket_secs;
  const max = Math.max(1, ...pts.map(p => TIERS.reduce((a, k) => a + p[k], 0)));
  const x = t => L + (W - L - 10) * (t - t0) / Math.max(1, t1 - t0);
  const y = v => H - B - (H - B - T) * v / max;
  nodes.push(mk("line", { x1: L, y1: H - B, x2: W - 10, y2: H - B, stroke: "#999" }));
  nodes.push(mk("text", { x: 2, y: H - B }, "0"));
  nodes.push(mk("text", { x: L, y: H - 4 }, new Date(t0 * 1000).toLocaleTimeString()));
  nodes.push(mk("text", { x: W - 90, y: H - 4 }, new Date(t1 * 1000).toLocaleTimeString()));
  // Stacked bars, one per bucket, tiers bottom-up: LAN, parent, server, CDN.
  const bw = Math.max(2, (W - L - 10) * s.bucket_secs / Math.max(1, t1 - t0) - 1);
  for (const p of pts) {
    let acc = 0;
    for (const k of TIERS) {
      if (!p[k]) continue;
      const y0 = y(acc), y1 = y(acc + p[k]);
      nodes.push(mk("rect", { x: x(p.t), y: y1, width: bw, height: Math.max(0.5, y0 - y1),
        fill: "var(--" + k + ")", "data-tier": k }, undefined));
      acc += p[k];
    }
  }
  // The scale last, so no bar covers it.
  nodes.push(mk("text", { x: 2, y: T }, "max " + bytes(max) + " per " + s.bucket_secs + " s"));
  svg.replaceChildren(...nodes);
}

// -------------------------------------------------------------- devices --
async function loadDevices() {
  const r = await get("/ui/api/devices?" + q({ q: state.devices.query, page: state.devices.page, per: PER }));
  const body = document.querySelector("#devices tbody");
  body.replaceChildren(...r.devices.map(d => el("tr", { class: "device" },
    el("td", { title: d.id }, d.hostname),
    el("td", {}, d.addr),
    el("td", {}, d.office),
    el("td", {}, d.version),
    el("td", {}, el("span", { class: "state state-" + d.state.replace(" ", "-") }, d.state)),
    el("td", { class: "num" }, d.last_seen_secs_ago + " s ago"),
    el("td", { class: "num" }, d.score.toFixed(1)),
    el("td", { class: "num" }, d.failures),
    el("td", { class: "num" }, d.uploads_ok))));
  showPage("devices", r.total, "device");
}

// ----------------------------------------------------------------- loop --
let busy = false;
async function refresh() {
  if (busy) return;
  busy = true;
  try {
    await loadOverview();
    await Promise.all([loadOffices(), loadChart(), loadDevices()]);
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    document.getElementById("updated").textContent = "update failed: " + e.message;
  } finally {
    busy = false;
  }
}
function refreshOffices() { loadOffices().catch(e => console.error(e)); }

function debounce(f, ms) { let t; return () => { clearTimeout(t); t = setTimeout(f, ms); }; }
document.getElementById("content").addEventListener("change", e => { state.content = e.target.value; refresh(); });
pagedCard("offices", "office-search", "search offices",
  ["office", "type", "#devices", "done / targeted", "#pieces held", "#WAN copies", "leader"], refreshOffices);
pagedCard("devices", "device-search", "search host, address, office",
  ["host", "address", "office", "version", "state", "#last seen", "#score", "#failures", "#uploads"], loadDevices);
document.getElementById("refresh").textContent = REFRESH_MS / 1000;
refresh();
setInterval(refresh, REFRESH_MS);
