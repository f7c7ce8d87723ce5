// streams live view: plain JavaScript, no build step, nothing from a CDN; the charts (charts.js)
// are drawn by the vendored uPlot.
//
// The server pushes server-sent events: one `snapshot` when the page connects, then at most one
// `update` per push interval with only the instruments that changed and only their new points.
// This page keeps the same bounds as the server (points per instrument, log length) and draws at
// most once per animation frame, so it keeps up however fast the topics move.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const BREAKER_STATES = ["NORMAL", "WATCH", "THROTTLE", "HALT", "COOLDOWN"];
  const { formatNumber } = streamsCharts;

  const model = {
    config: { window_points: 3000, suggestion_log: 500, push_interval_s: 0.25 },
    field: {},                 // point field name -> index in a point array
    instruments: new Map(),    // instrument -> {points, latest, state, records, suggestions}
    status: {},
    selected: null,
    paused: false,
    heldSuggestions: [],       // arrived while paused; shown on resume
    marks: [],                 // every suggestion received (log bound): marked on the charts
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
    model.marks = [];
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
    model.marks = model.marks.filter((mark) => mark.suggestion_id !== s.suggestion_id);
    model.marks.push(s);
    if (model.marks.length > model.config.suggestion_log) model.marks.shift();
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
    charts.update(points, latest, f);
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

  function isoTime(microseconds) { return new Date(Math.floor(microseconds / 1000)).toISOString(); }
  function formatTime(microseconds) { return isoTime(microseconds).replace("T", " ").replace("Z", " UTC"); }

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
  }

  const charts = streamsCharts.create(
    () => model.marks.filter((mark) => mark.instrument === model.selected));
  model.charts = charts;
  connect();
})();
