// shardkv dashboard page: renders the snapshots the dashboard process streams on /api/events
// (server-sent events; deploy/dashboard/cluster-view.ts has their shape). Plain DOM, no
// framework, no outside assets; every text is set with textContent (no HTML from data).
"use strict";

/** Group colours (Okabe-Ito and friends: told apart with most colour-vision deficiencies). */
const palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#6A3D9A", "#8C564B", "#999999"];
const stateNames = { serving: "Serving", pulling: "Pulling", handoff: "Handoff", gc: "Gc", unassigned: "unassigned", unknown: "unknown" };
const stateBadges = { pulling: "P", handoff: "H", gc: "G", unknown: "?" };

const colourOf = (gid) => (gid > 0 ? palette[(gid - 1) % palette.length] : gid === 0 ? "#eaeef2" : "#8c959f");

/** Black or white text on `hex`, whichever contrasts more (WCAG relative luminance). */
function textOn(hex) {
  const ch = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  const lum = 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2];
  return (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) ? "#1b1f24" : "#ffffff";
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("--")) e.style.setProperty(k, v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c !== undefined && c !== null) e.append(c);
  return e;
}

const svgNs = "http://www.w3.org/2000/svg";
function svg(tag, attrs) {
  const e = document.createElementNS(svgNs, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

function bytes(n) {
  if (n === undefined || n === null) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}
const num = (n) => (n === undefined || n === null ? "–" : Number(n).toLocaleString("en-US"));
const fixed = (n) => (n === null || n === undefined ? "–" : n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

function swatch(gid, state, from) {
  const c = colourOf(gid);
  return el("span", { class: `swatch${state ? ` s-${state}` : ""}`, "--c": c, "--t": textOn(c), "--f": from ? colourOf(from) : undefined, "aria-hidden": "true" });
}

// ------------------------------------------------------------------ header and legend

function renderHeader(s) {
  document.getElementById("cluster").textContent = s.clusterId ? `cluster ${s.clusterId.slice(0, 12)}` : "";
  document.getElementById("config").textContent = s.configNum !== undefined ? `config ${s.configNum} · ${s.shardCount} shards · ${s.groups.filter((g) => g.inConfig).length} groups` : "no config yet";
  document.getElementById("updated").textContent = `updated ${new Date(s.at).toLocaleTimeString()}`;
  const err = document.getElementById("error");
  err.hidden = !s.configError;
  err.textContent = s.configError ? `controllers: ${s.configError}` : "";
}

function renderLegend(s) {
  const legend = document.getElementById("legend");
  const owned = new Map();
  for (const c of s.shards) owned.set(c.gid, (owned.get(c.gid) || 0) + 1);
  const items = s.groups.map((g) => el("span", { class: "item", "data-gid": g.gid }, swatch(g.gid), el("span", { text: `group ${g.gid} · ${owned.get(g.gid) || 0} shards${g.inConfig ? "" : " (leaving)"}` })));
  items.push(el("span", { class: "sep", "aria-hidden": "true" }));
  for (const st of ["serving", "pulling", "handoff", "gc", "unassigned"]) {
    items.push(el("span", { class: "item", "data-state": st }, swatch(st === "unassigned" ? 0 : -1, st === "serving" ? undefined : st), el("span", { text: `${stateNames[st]}${stateBadges[st] ? ` (${stateBadges[st]})` : ""}` })));
  }
  legend.replaceChildren(...items);
}

// ------------------------------------------------------------------ shard grid

let cells = [];
function renderGrid(s) {
  const grid = document.getElementById("grid");
  if (cells.length !== s.shards.length) {
    cells = s.shards.map(() => el("div", { class: "cell", role: "listitem" }));
    grid.replaceChildren(...cells);
  }
  grid.classList.toggle("dense", s.shards.length > 256);
  s.shards.forEach((c, i) => {
    const e = cells[i];
    const colour = colourOf(c.gid);
    e.className = `cell s-${c.state}`;
    e.style.setProperty("--c", colour);
    e.style.setProperty("--t", textOn(colour));
    if (c.from !== undefined) e.style.setProperty("--f", colourOf(c.from));
    else e.style.removeProperty("--f");
    e.dataset.shard = String(c.shard);
    e.dataset.gid = String(c.gid);
    e.dataset.state = c.state;
    const what = c.gid === 0 ? "unassigned" : `group ${c.gid}, ${stateNames[c.state]}${c.from !== undefined ? ` (from group ${c.from})` : ""}`;
    const size = c.keys !== undefined ? `, ${num(c.keys)} keys, ${bytes(c.bytes)}` : "";
    e.title = `shard ${c.shard}: ${what}${size}`;
    e.setAttribute("aria-label", e.title);
    const badge = stateBadges[c.state];
    e.replaceChildren(String(c.shard), ...(badge ? [el("span", { class: "badge", text: badge, "aria-hidden": "true" })] : []));
  });
}

// ------------------------------------------------------------------ groups

function chart(title, unit, points, pick, s, hasMetrics) {
  const values = points.map(pick).filter((v) => v !== null && v !== undefined);
  const latest = points.length > 0 ? pick(points[points.length - 1]) : null;
  const head = el("div", { class: "title" }, el("span", { text: title }), el("span", { class: "now", text: latest === null || latest === undefined ? "" : `${fixed(latest)} ${unit}` }));
  if (!hasMetrics || points.length === 0) {
    return el("div", { class: "chart" }, head, el("div", { class: "none", text: hasMetrics ? "waiting for a second scrape" : "no metrics" }));
  }
  // The x axis: from the first point (at most the history kept) to now.
  const w = 300, h = 56, now = s.at, t0 = Math.min(now - 10 * s.intervalMs, Math.max(now - s.historyMs, points[0].t));
  const max = Math.max(1e-9, ...values) * 1.15;
  const x = (t) => ((t - t0) / (now - t0)) * w;
  const y = (v) => h - 2 - (v / max) * (h - 6);
  const area = svg("svg", { viewBox: `0 0 ${w} ${h}`, preserveAspectRatio: "none", role: "img", "aria-label": `${title}, peak ${fixed(Math.max(0, ...values))} ${unit}` });
  area.append(svg("line", { x1: 0, y1: h - 2, x2: w, y2: h - 2, stroke: "#d5dae1", "stroke-width": 1 }));
  const pts = points.filter((p) => pick(p) !== null && pick(p) !== undefined).map((p) => `${x(p.t).toFixed(1)},${y(pick(p)).toFixed(1)}`);
  if (pts.length > 0) {
    area.append(svg("polyline", { points: pts.join(" "), fill: "none", stroke: "#0969da", "stroke-width": 1.6, "vector-effect": "non-scaling-stroke" }));
  } else {
    // p99 of a group that served nothing in the window: there is no latency to draw.
    const note = svg("text", { x: w / 2, y: h / 2 + 4, "text-anchor": "middle", fill: "#4a5360", "font-size": 12 });
    note.textContent = "no operations";
    area.append(note);
  }
  const span = Math.round((now - t0) / 1000);
  const peak = el("div", { class: "title" }, el("span", { text: `last ${span >= 120 ? `${Math.round(span / 60)} min` : `${span} s`}` }), el("span", { text: `peak ${fixed(Math.max(0, ...values))}` }));
  return el("div", { class: "chart" }, head, area, peak);
}

function replicaRow(r) {
  if (r.error) {
    return el("tr", {}, el("td", { text: "" }), el("td", { class: "addr", text: r.addr }), el("td", { class: "down", colspan: 6, text: r.error }));
  }
  const lagging = r.lag !== undefined && r.lag > 100;
  return el("tr", {},
    el("td", { text: String(r.id) }),
    el("td", { class: "addr", text: r.addr }),
    el("td", { class: r.role === "leader" ? "role-leader" : undefined, text: r.role }),
    el("td", { class: "num", text: num(r.term) }),
    el("td", { class: "num", text: num(r.appliedIndex) }),
    el("td", { class: "num", text: num(r.commitIndex) }),
    el("td", { class: `num${lagging ? " lagging" : ""}`, text: r.lag === undefined ? "–" : num(r.lag) }),
    el("td", { class: "num", text: num(r.configNum) }));
}

function renderGroups(s) {
  const cards = s.groups.map((g) => {
    const c = colourOf(g.gid);
    const facts = [`${g.owned} shards`, `${num(g.keys)} keys`, bytes(g.bytes), g.leader !== undefined ? `leader ${g.leader}` : "no leader"];
    if (g.migratedInBytes !== undefined) facts.push(`migrated in ${bytes(g.migratedInBytes)}`);
    const table = el("table", {},
      el("thead", {}, el("tr", {}, ...["id", "address", "role", "term", "applied", "commit", "lag", "config"].map((t, i) => el("th", { class: i >= 3 ? "num" : undefined, text: t })))),
      el("tbody", {}, ...g.replicas.map(replicaRow)));
    return el("div", { class: `group${g.inConfig ? "" : " leaving"}`, "data-gid": g.gid, "--c": c },
      el("h3", {}, swatch(g.gid), el("span", { text: `Group ${g.gid}${g.inConfig ? "" : " (leaving)"}` })),
      el("div", { class: "facts", text: facts.join(" · ") }),
      table,
      el("div", { class: "charts" },
        chart("ops/s", "ops/s", g.history, (p) => p.opsPerSec, s, g.hasMetrics),
        chart("p99 latency", "ms", g.history, (p) => p.p99Ms, s, g.hasMetrics)));
  });
  const box = document.getElementById("group-cards");
  box.replaceChildren(...(cards.length > 0 ? cards : [el("p", { class: "empty", text: "no groups" })]));
}

// ------------------------------------------------------------------ migrations and controllers

function renderMigrations(s) {
  const box = document.getElementById("migrations");
  if (s.migrations.length === 0) {
    box.replaceChildren(el("p", { class: "empty", text: "none: every shard is Serving at its owner" }));
    return;
  }
  const rows = s.migrations.map((m) => {
    const pct = m.sourceBytes ? Math.min(100, Math.round((m.bytes / m.sourceBytes) * 100)) : undefined;
    return el("tr", { "data-shard": m.shard },
      el("td", { class: "num", text: m.shard }),
      el("td", {}, ...(m.from !== undefined ? [swatch(m.from), ` group ${m.from}`] : ["–"])),
      el("td", {}, swatch(m.to), ` group ${m.to}`),
      el("td", { text: stateNames[m.state] }),
      el("td", { class: "num", text: num(m.keys) }),
      el("td", { class: "num", text: `${bytes(m.bytes)}${m.sourceBytes !== undefined ? ` of ${bytes(m.sourceBytes)}` : ""}` }),
      el("td", {}, pct === undefined ? "" : el("span", { class: "bar", title: `${pct}%` }, el("span", { "--w": `${pct}%`, class: "fill" }))));
  });
  box.replaceChildren(el("table", {},
    el("thead", {}, el("tr", {}, ...["shard", "from", "to", "state", "keys moved", "bytes moved", "progress"].map((t) => el("th", { text: t })))),
    el("tbody", {}, ...rows)));
  // The progress bars' widths (CSSOM: the page's style policy allows no inline style attributes).
  for (const f of box.querySelectorAll(".bar > .fill")) f.style.width = f.style.getPropertyValue("--w");
}

function renderControllers(s) {
  const rows = s.controllers.map((c) => (c.error
    ? el("tr", {}, el("td", { text: c.addr }), el("td", { class: "down", colspan: 5, text: c.error }))
    : el("tr", {},
      el("td", { text: `${c.id} · ${c.addr}` }),
      el("td", { class: c.role === "leader" ? "role-leader" : undefined, text: c.role }),
      el("td", { class: "num", text: num(c.term) }),
      el("td", { class: "num", text: num(c.appliedIndex) }),
      el("td", { class: "num", text: num(c.commitIndex) }),
      el("td", { class: "num", text: num(c.configNum) }))));
  document.getElementById("controllers").replaceChildren(el("table", {},
    el("thead", {}, el("tr", {}, ...["replica", "role", "term", "applied", "commit", "latest config"].map((t, i) => el("th", { class: i >= 2 ? "num" : undefined, text: t })))),
    el("tbody", {}, ...rows)));
}

function render(s) {
  renderHeader(s);
  renderLegend(s);
  renderGrid(s);
  renderGroups(s);
  renderMigrations(s);
  renderControllers(s);
  document.body.dataset.configNum = s.configNum === undefined ? "" : String(s.configNum);
}

// ------------------------------------------------------------------ live updates

function setConn(live, text) {
  const c = document.getElementById("conn");
  c.className = `conn ${live ? "conn-live" : "conn-wait"}`;
  c.textContent = text;
}

const events = new EventSource("/api/events");
events.onopen = () => setConn(true, "live");
events.onerror = () => setConn(false, "reconnecting…");
events.onmessage = (e) => {
  setConn(true, "live");
  render(JSON.parse(e.data));
};
