// streams live view. Plain JavaScript on purpose: no build step, no library, nothing from a CDN.
//
// The server pushes server-sent events: one `snapshot` when the page connects, then at most one
// `update` per push interval with only the instruments that changed and only their new points.
// This page keeps the same bounds as the server (points per instrument, log length) and draws at
// most once per animation frame, so it keeps up however fast the topics move.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const BREAKER_STATES = ["NORMAL", "WATCH", "THROTTLE", "HALT", "COOLDOWN"];
  const DEPTH_BANDS = [10, 25, 50, 100];
  const COLOURS = {
    mid: "#dde3ea", micro: "#8a96a3", spread: "#f5d90a", queue: "#3e9bf5", depth5: "#2fbf71",
    depth10: "#e093f5", ofi1: "#f76b15", ofi10: "#3e9bf5", bid: "#2fbf71", ask: "#e5484d",
    grid: "#2a3541", text: "#8a96a3",
  };

  const model = {
    config: { window_points: 3000, suggestion_log: 500, push_interval_s: 0.25 },
    field: {},                 // point field name -> index in a point array
    instruments: new Map(),    // instrument -> {points, latest, state, records, suggestions}
    status: {},
    selected: null,
    paused: false,
    heldSuggestions: [],       // arrived while paused; shown on resume
    events: 0,
    bytes: 0,                  // event data received (the benchmark reads it)
    lastEventAt: null,
  };
  window.streamsDashboard = model; // for debugging and the browser test

  // ---------------------------------------------------------------- model
  function applyInstrument(id, frame) {
    let entry = model.instruments.get(id);
    if (!entry) {
      entry = { points: [] };
      model.instruments.set(id, entry);
    }
    if (frame.reset) entry.points = [];
    const points = entry.points;
    const incoming = frame.points;
    if (incoming.length) {
      // the first incoming point may replace the last one we hold (same time bucket)
      const first = incoming[0][0];
      while (points.length && points[points.length - 1][0] >= first) points.pop();
      for (const point of incoming) points.push(point);
      const excess = points.length - model.config.window_points;
      if (excess > 0) points.splice(0, excess);
    }
    entry.latest = frame.latest;
    entry.state = frame.state;
    entry.records = frame.records;
    entry.suggestions = frame.suggestions;
  }

  function onSnapshot(data) {
    model.config = data.config;
    model.field = {};
    data.point_fields.forEach((name, index) => { model.field[name] = index; });
    model.instruments = new Map();
    for (const [id, frame] of Object.entries(data.instruments)) applyInstrument(id, frame);
    model.status = data.status;
    $("log").replaceChildren();
    model.heldSuggestions = [];
    for (const suggestion of data.suggestions) addSuggestion(suggestion);
    afterEvent();
  }

  function onUpdate(data) {
    for (const id of data.removed) model.instruments.delete(id);
    for (const [id, frame] of Object.entries(data.instruments)) applyInstrument(id, frame);
    for (const suggestion of data.suggestions) addSuggestion(suggestion);
    model.status = data.status;
    afterEvent();
  }

  function afterEvent() {
    model.events += 1;
    model.lastEventAt = new Date();
    syncPicker();
    scheduleRender();
  }

  // ---------------------------------------------------------------- picker and pause
  function syncPicker() {
    const select = $("instrument");
    const ids = [...model.instruments.keys()].sort();
    if (!model.selected || !model.instruments.has(model.selected)) {
      model.selected = ids.length ? ids[0] : null;
    }
    const current = [...select.options].map((option) => option.value);
    if (current.length !== ids.length || current.some((id, i) => id !== ids[i])) {
      select.replaceChildren(...ids.map((id) => new Option(id, id)));
    }
    if (model.selected) select.value = model.selected;
  }

  function select(id) {
    if (!model.instruments.has(id)) return;
    model.selected = id;
    $("instrument").value = id;
    filterLog();
    scheduleRender(true);
  }

  $("instrument").addEventListener("change", (event) => select(event.target.value));
  $("log-selected-only").addEventListener("change", filterLog);
  $("pause").addEventListener("click", () => {
    model.paused = !model.paused;
    const button = $("pause");
    button.textContent = model.paused ? "Resume" : "Pause";
    button.setAttribute("aria-pressed", String(model.paused));
    document.body.dataset.paused = String(model.paused);
    if (!model.paused) {
      const held = model.heldSuggestions;
      model.heldSuggestions = [];
      for (const suggestion of held) addSuggestion(suggestion);
      scheduleRender(true);
    }
  });

  // ---------------------------------------------------------------- suggestion log
  function addSuggestion(s) {
    if (model.paused) {
      model.heldSuggestions.push(s);
      if (model.heldSuggestions.length > model.config.suggestion_log) model.heldSuggestions.shift();
      return;
    }
    const log = $("log");
    const existing = log.querySelector(`li[data-suggestion-id="${CSS.escape(s.suggestion_id)}"]`);
    if (existing) existing.remove(); // a re-read record (reconnect, backfill) is shown once
    log.prepend(suggestionItem(s));
    while (log.children.length > model.config.suggestion_log) log.lastElementChild.remove();
    log.dataset.count = String(log.children.length);
    filterLog();
  }

  function element(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    for (const child of children) node.append(child);
    return node;
  }

  function suggestionItem(s) {
    const rules = s.reasons.map((reason) => reason.rule).join(", ");
    const instrument = element("span", { class: "instrument", title: "show this instrument" },
      s.instrument);
    instrument.addEventListener("click", (event) => { event.preventDefault(); select(s.instrument); });
    const summary = element("summary", {},
      element("time", { datetime: isoTime(s.event_time) }, formatTime(s.event_time)), " ",
      instrument, " ", element("span", { class: "action" }, s.action), " ",
      element("span", { class: "transition" }, `${s.previous_state} → ${s.state}`), " ",
      element("span", { class: "rules" }, rules));
    const reasons = element("table", { class: "reasons" },
      element("tr", {}, element("th", {}, "rule"), element("th", {}, "value"),
        element("th", {}, "threshold")));
    for (const reason of s.reasons) {
      reasons.append(element("tr", { "data-rule": reason.rule },
        element("td", { class: "rule" }, reason.rule),
        element("td", { class: "number" }, formatNumber(reason.value)),
        element("td", { class: "number" }, formatNumber(reason.threshold))));
      if (reason.detail) {
        reasons.append(element("tr", { class: "detail" },
          element("td", { colspan: "3" }, reason.detail)));
      }
    }
    const metrics = element("table", { class: "metrics" });
    for (const [name, value] of Object.entries(s.metrics)) {
      metrics.append(element("tr", {}, element("td", {}, name),
        element("td", { class: "number" }, formatNumber(value))));
    }
    const source = `${s.source.topic}[${s.source.partition}]@${s.source.offset}`;
    const copy = element("button", { type: "button", class: "copy" }, "copy");
    copy.addEventListener("click", () => {
      if (navigator.clipboard) navigator.clipboard.writeText(s.audit).catch(() => {});
    });
    const evidence = element("div", { class: "evidence" },
      s.reasons.length ? reasons : element("p", {}, "no rule fired (resume)"),
      element("dl", {},
        element("dt", {}, "severity"), element("dd", {}, String(s.severity)),
        element("dt", {}, "duration"), element("dd", {},
          s.suggested_duration_s === null ? "open-ended" : `${s.suggested_duration_s} s`),
        element("dt", {}, "input"), element("dd", { class: "source" }, source),
        element("dt", {}, "config"), element("dd", {}, s.config_hash),
        element("dt", {}, "id"), element("dd", {}, s.suggestion_id)),
      element("details", {}, element("summary", {}, "metrics at the trigger"), metrics),
      element("p", {}, "Reproduce from book-deltas: ", copy),
      element("code", { class: "audit" }, s.audit));
    return element("li", {
      class: "suggestion", "data-suggestion-id": s.suggestion_id, "data-instrument": s.instrument,
      "data-state": s.state, "data-action": s.action, "data-severity": String(s.severity),
    }, element("details", {}, summary, evidence));
  }

  function filterLog() {
    const only = $("log-selected-only").checked;
    for (const item of $("log").children) {
      item.classList.toggle("hidden", only && item.dataset.instrument !== model.selected);
    }
  }

  // ---------------------------------------------------------------- rendering
  let renderPending = false;
  function scheduleRender(force) {
    if ((model.paused && !force) || renderPending) return;
    renderPending = true;
    requestAnimationFrame(() => {
      renderPending = false;
      render();
    });
  }

  function render() {
    const entry = model.selected ? model.instruments.get(model.selected) : null;
    const points = entry ? entry.points : [];
    const latest = entry ? entry.latest : null;
    const f = model.field;
    const state = entry && BREAKER_STATES.includes(entry.state) ? entry.state : "NORMAL";
    const badge = $("breaker");
    badge.dataset.state = state;
    badge.textContent = state;
    renderBook(entry, latest);
    lineChart($("chart-mid"), points, [
      { index: f.mid, colour: COLOURS.mid, label: "mid" },
    ]);
    lineChart($("chart-spread"), points, [
      { index: f.spread_bps, colour: COLOURS.spread, label: "spread bps" },
    ], { min: 0 });
    lineChart($("chart-imbalance"), points, [
      { index: f.queue_imbalance, colour: COLOURS.queue, label: "queue" },
      { index: f.depth_imbalance_5, colour: COLOURS.depth5, label: "depth 5" },
      { index: f.depth_imbalance_10, colour: COLOURS.depth10, label: "depth 10" },
    ], { min: -1, max: 1 });
    lineChart($("chart-ofi"), points, [
      { index: f.ofi_1s, colour: COLOURS.ofi1, label: "OFI 1 s" },
      { index: f.ofi_10s, colour: COLOURS.ofi10, label: "OFI 10 s" },
    ], { zero: true });
    depthChart($("chart-depth"), latest);
    renderStatus();
  }

  function renderBook(entry, latest) {
    const text = (id, value) => { $(id).textContent = value; };
    const l = latest || {};
    text("best-bid", formatNumber(l.best_bid));
    text("best-bid-size", formatNumber(l.best_bid_size));
    text("best-ask", formatNumber(l.best_ask));
    text("best-ask-size", formatNumber(l.best_ask_size));
    text("mid", formatNumber(l.mid));
    text("weighted-mid", formatNumber(l.weighted_mid));
    text("spread", latest ? `${formatNumber(l.spread_bps)} bps` : "–");
    text("levels", latest ? `${l.bid_levels} / ${l.ask_levels}` : "–");
    text("z-scores", latest ? `${formatNumber(l.spread_z)} / ${formatNumber(l.depth_z)}` : "–");
    text("event-time", latest ? formatTime(l.event_time) : "–");
    text("records", entry ? `${entry.records} imbalance, ${entry.suggestions} suggestions` : "–");
  }

  function renderStatus() {
    const s = model.status;
    const footer = $("status");
    const parts = [
      `${s.imbalance} imbalance records`, `${s.suggestions} suggestions`,
      `${s.instruments} instruments`, `feed: ${s.feed}`, `${model.events} pushes received`,
    ];
    footer.replaceChildren(parts.join(" · "));
    if (s.errors) {
      footer.append(" · ", element("span", { class: "error" },
        `${s.errors} unreadable record(s), latest: ${s.last_error}`));
    }
  }

  function canvasContext(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 300;
    const height = canvas.clientHeight || 150;
    if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
    if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = "11px system-ui, sans-serif";
    return { ctx, width, height };
  }

  function lineChart(canvas, points, series, options = {}) {
    const { ctx, width, height } = canvasContext(canvas);
    const pad = { left: 70, right: 8, top: 16, bottom: 16 };
    canvas.dataset.points = String(points.length);
    if (!points.length) {
      ctx.fillStyle = COLOURS.text;
      ctx.fillText("waiting for data…", pad.left, height / 2);
      return;
    }
    let lo = Infinity;
    let hi = -Infinity;
    for (const point of points) {
      for (const s of series) {
        const v = point[s.index];
        if (v !== null && v < lo) lo = v;
        if (v !== null && v > hi) hi = v;
      }
    }
    if (options.min !== undefined) lo = Math.min(lo, options.min);
    if (options.max !== undefined) hi = Math.max(hi, options.max);
    if (options.zero) { lo = Math.min(lo, 0); hi = Math.max(hi, 0); }
    if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
    if (hi - lo < 1e-12 * Math.max(1, Math.abs(hi))) { lo -= 1e-6 * Math.max(1, Math.abs(lo)); hi += 1e-6 * Math.max(1, Math.abs(hi)); }
    const t0 = points[0][0];
    const t1 = Math.max(points[points.length - 1][0], t0 + 1);
    const x = (t) => pad.left + ((t - t0) / (t1 - t0)) * (width - pad.left - pad.right);
    const y = (v) => pad.top + ((hi - v) / (hi - lo)) * (height - pad.top - pad.bottom);
    ctx.strokeStyle = COLOURS.grid;
    ctx.fillStyle = COLOURS.text;
    ctx.lineWidth = 1;
    for (const v of [lo, (lo + hi) / 2, hi]) {
      ctx.beginPath(); ctx.moveTo(pad.left, y(v)); ctx.lineTo(width - pad.right, y(v)); ctx.stroke();
      ctx.fillText(formatNumber(v), 2, y(v) + 4);
    }
    if (lo < 0 && hi > 0) {
      ctx.strokeStyle = COLOURS.text;
      ctx.beginPath(); ctx.moveTo(pad.left, y(0)); ctx.lineTo(width - pad.right, y(0)); ctx.stroke();
    }
    ctx.fillText(clock(t0), pad.left, height - 3);
    const end = clock(t1);
    ctx.fillText(end, width - pad.right - ctx.measureText(end).width, height - 3);
    let legendX = pad.left;
    for (const s of series) {
      ctx.strokeStyle = s.colour;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      let drawing = false;
      for (const point of points) {
        const v = point[s.index];
        if (v === null) { drawing = false; continue; }
        if (drawing) ctx.lineTo(x(point[0]), y(v)); else ctx.moveTo(x(point[0]), y(v));
        drawing = true;
      }
      ctx.stroke();
      ctx.fillStyle = s.colour;
      ctx.fillText(s.label, legendX, 11);
      legendX += ctx.measureText(s.label).width + 14;
    }
  }

  function depthChart(canvas, latest) {
    const { ctx, width, height } = canvasContext(canvas);
    if (!latest) {
      canvas.dataset.points = "0";
      ctx.fillStyle = COLOURS.text;
      ctx.fillText("waiting for data…", 70, height / 2);
      return;
    }
    // cumulative quote notional against distance from mid: the best level, then each band
    const half = latest.spread_bps / 2;
    const side = (name, bestPrice, bestSize) => {
      const known = [[half, bestPrice * bestSize]];
      for (const band of DEPTH_BANDS) {
        if (band > half) known.push([band, latest[`depth_${name}_${band}bps`]]);
      }
      return known;
    };
    const bids = side("bid", latest.best_bid, latest.best_bid_size);
    const asks = side("ask", latest.best_ask, latest.best_ask_size);
    const top = Math.max(...bids.map((s) => s[1]), ...asks.map((s) => s[1]), 1e-9);
    const reach = Math.max(DEPTH_BANDS[DEPTH_BANDS.length - 1], half * 1.2);
    const pad = { left: 70, right: 8, top: 16, bottom: 16 };
    const mid = pad.left + (width - pad.left - pad.right) / 2;
    const x = (bps, sign) => mid + (sign * bps / reach) * ((width - pad.left - pad.right) / 2);
    const y = (v) => pad.top + (1 - v / top) * (height - pad.top - pad.bottom);
    ctx.fillStyle = COLOURS.text;
    ctx.fillText(formatNumber(top), 2, y(top) + 4);
    ctx.fillText("0", 2, y(0));
    ctx.fillText(`−${formatNumber(reach)} bps`, pad.left, height - 3);
    const right = `+${formatNumber(reach)} bps`;
    ctx.fillText(right, width - pad.right - ctx.measureText(right).width, height - 3);
    ctx.fillText("mid", mid - 9, height - 3);
    for (const [known, sign, colour] of [[bids, -1, COLOURS.bid], [asks, 1, COLOURS.ask]]) {
      ctx.beginPath();
      ctx.moveTo(x(known[0][0], sign), y(0));
      for (const [distance, notional] of known) ctx.lineTo(x(distance, sign), y(notional));
      ctx.lineTo(x(known[known.length - 1][0], sign), y(0));
      ctx.closePath();
      ctx.globalAlpha = 0.35;
      ctx.fillStyle = colour;
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.strokeStyle = colour;
      ctx.stroke();
    }
    canvas.dataset.points = String(bids.length + asks.length);
  }

  // ---------------------------------------------------------------- formatting
  function formatNumber(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    const magnitude = Math.abs(v);
    if (magnitude >= 1e6) return v.toExponential(3);
    if (magnitude >= 1000) return v.toFixed(2);
    if (magnitude === 0) return "0";
    return String(Number(v.toPrecision(6)));
  }

  function isoTime(microseconds) { return new Date(Math.floor(microseconds / 1000)).toISOString(); }
  function formatTime(microseconds) { return isoTime(microseconds).replace("T", " ").replace("Z", " UTC"); }
  function clock(milliseconds) { return new Date(milliseconds).toISOString().slice(11, 21); }

  // ---------------------------------------------------------------- connection
  function connect() {
    const source = new EventSource("/events");
    const status = $("connection");
    source.addEventListener("snapshot", (event) => {
      model.bytes += event.data.length;
      onSnapshot(JSON.parse(event.data));
    });
    source.addEventListener("update", (event) => {
      model.bytes += event.data.length;
      onUpdate(JSON.parse(event.data));
    });
    source.addEventListener("open", () => {
      status.dataset.status = "live";
      status.textContent = "live";
    });
    source.addEventListener("error", () => {
      status.dataset.status = "reconnecting";
      status.textContent = "reconnecting…"; // EventSource retries by itself
    });
    window.addEventListener("resize", () => scheduleRender(true));
  }

  connect();
})();
