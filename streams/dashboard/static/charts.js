// streams live view: the charts, drawn by uPlot (vendor/uPlot.iife.min.js, see vendor/README.md).
//
// Time axes are UTC whatever the browser's time zone: x values are epoch milliseconds and every
// time label is formatted from the UTC fields. Each time chart writes the labels it drew on its
// element (`data-x-ticks`: [[milliseconds, label], ...]) so a test can check them from the page.
// Hovering a chart shows the values under the cursor in its legend, on every time chart at once.
"use strict";

const streamsCharts = (() => {
  const COLOURS = {
    mid: "#dde3ea", spread: "#f5d90a", queue: "#3e9bf5", depth5: "#2fbf71", depth10: "#e093f5",
    ofi1: "#f76b15", ofi10: "#3e9bf5", bid: "#2fbf71", ask: "#e5484d",
    grid: "#2a3541", text: "#8a96a3",
  };
  const STATE_COLOURS = {
    NORMAL: "#2fbf71", WATCH: "#f5d90a", THROTTLE: "#f76b15", HALT: "#e5484d", COOLDOWN: "#3e9bf5",
  };
  const DEPTH_BANDS = [10, 25, 50, 100];
  const HEIGHT = 190;
  const sync = uPlot.sync("time");

  // ---------------------------------------------------------------- formatting
  const grouped = (decimals) => new Intl.NumberFormat("en-US",
    { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  const [whole, cents] = [grouped(0), grouped(2)];

  // Read-outs: six significant digits below 1,000, cents up to a million, whole numbers above.
  function formatNumber(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    const magnitude = Math.abs(v);
    if (magnitude >= 1e6) return whole.format(v);
    if (magnitude >= 1000) return cents.format(v);
    if (magnitude === 0) return "0";
    return String(Number(v.toPrecision(6)));
  }

  const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 2 });

  // Axis ticks: as many decimals as the tick step needs, thousands separated; big ones compact.
  function axisNumbers(u, splits, axisIndex, space, increment) {
    const top = Math.max(...splits.map((v) => Math.abs(v)));
    if (top >= 1e5) return splits.map((v) => compact.format(v));
    const decimals = Math.min(8, Math.max(0, -Math.floor(Math.log10(increment || 1) + 1e-9)));
    const format = grouped(decimals);
    return splits.map((v) => format.format(v));
  }

  function utcStamp(milliseconds) {
    return new Date(milliseconds).toISOString().replace("T", " ").replace("Z", " UTC");
  }

  // Time ticks: UTC clock time, with sub-second digits only when the tick step needs them.
  function utcTicks(u, splits, axisIndex, space, increment) {
    const digits = increment >= 1000 ? 0 : increment >= 100 ? 1 : increment >= 10 ? 2 : 3;
    const end = digits ? 20 + digits : 19;
    const labels = splits.map((ms) => new Date(ms).toISOString().slice(11, end));
    u.root.parentElement.dataset.xTicks = JSON.stringify(splits.map((ms, i) => [ms, labels[i]]));
    return labels;
  }

  // ---------------------------------------------------------------- suggestion marks
  // A dashed line at each suggestion of the chart's instrument, in the colour of its new state.
  function suggestionMarks(marks) {
    return {
      hooks: {
        draw: (u) => {
          const { top, height } = u.bbox;
          const [min, max] = [u.scales.x.min, u.scales.x.max];
          let drawn = 0;
          u.ctx.save();
          u.ctx.lineWidth = 1.5 * uPlot.pxRatio;
          u.ctx.setLineDash([5 * uPlot.pxRatio, 4 * uPlot.pxRatio]);
          for (const mark of marks()) {
            const at = mark.event_time / 1000;
            if (!(at >= min && at <= max)) continue;
            const x = Math.round(u.valToPos(at, "x", true));
            u.ctx.strokeStyle = STATE_COLOURS[mark.state] || COLOURS.text;
            u.ctx.beginPath();
            u.ctx.moveTo(x, top);
            u.ctx.lineTo(x, top + height);
            u.ctx.stroke();
            drawn += 1;
          }
          u.ctx.restore();
          u.root.parentElement.dataset.marks = String(drawn);
        },
      },
    };
  }

  // ---------------------------------------------------------------- chart definitions
  function axis(extra) {
    return {
      stroke: COLOURS.text, grid: { stroke: COLOURS.grid, width: 1 },
      ticks: { stroke: COLOURS.grid, width: 1 }, font: "11px system-ui, sans-serif",
      labelFont: "11px system-ui, sans-serif", ...extra,
    };
  }

  function widthOf(container) { return Math.max(container.clientWidth, 200); }

  function timeChart(container, series, range, marks) {
    const options = {
      width: widthOf(container), height: HEIGHT, ms: 1,
      tzDate: (ms) => uPlot.tzDate(new Date(ms), "Etc/UTC"),
      scales: { x: { time: true }, y: { range } },
      series: [
        { label: "time", value: (u, v) => (v === null || v === undefined ? "–" : utcStamp(v)) },
        ...series.map((s) => ({
          label: s.label, stroke: s.colour, width: 1.5, spanGaps: false,
          value: (u, v) => formatNumber(v),
        })),
      ],
      axes: [
        axis({ values: utcTicks, label: "time (UTC)", size: 30, labelSize: 14, labelGap: 0,
          space: 60 }),
        axis({ values: axisNumbers, size: 64 }),
      ],
      cursor: { sync: { key: sync.key }, drag: { x: false, y: false } },
      legend: { live: true },
      plugins: [suggestionMarks(marks)],
    };
    const plot = new uPlot(options, [[], ...series.map(() => [])], container);
    return { container, plot, fields: series.map((s) => s.field) };
  }

  function depthChart(container) {
    const options = {
      width: widthOf(container), height: HEIGHT,
      scales: { x: { time: false }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.05 : 1] } },
      series: [
        { label: "from mid", value: (u, v) => (v === null || v === undefined ? "–"
          : `${formatNumber(v)} bps`) },
        { label: "bids", stroke: COLOURS.bid, fill: "rgba(47, 191, 113, 0.3)", width: 1.5,
          value: (u, v) => formatNumber(v) },
        { label: "asks", stroke: COLOURS.ask, fill: "rgba(229, 72, 77, 0.3)", width: 1.5,
          value: (u, v) => formatNumber(v) },
      ],
      axes: [
        axis({ values: (u, splits) => splits.map((v) => `${v > 0 ? "+" : ""}${v}`),
          label: "distance from mid (bps)", size: 30, labelSize: 14, labelGap: 0 }),
        axis({ values: axisNumbers, size: 64 }),
      ],
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
    };
    return { container, plot: new uPlot(options, [[], [], []], container) };
  }

  // ---------------------------------------------------------------- data
  function timeColumns(points, indexes) {
    const count = points.length;
    const columns = [new Array(count), ...indexes.map(() => new Array(count))];
    for (let i = 0; i < count; i += 1) {
      const point = points[i];
      columns[0][i] = point[0];
      for (let c = 0; c < indexes.length; c += 1) columns[c + 1][i] = point[indexes[c]];
    }
    return columns;
  }

  // Cumulative quote notional against distance from mid: the best level, then each depth band.
  function depthColumns(latest) {
    const half = latest ? latest.spread_bps / 2 : NaN;
    if (!Number.isFinite(half)) return [[], [], []];
    const side = (name, bestPrice, bestSize) => {
      const known = [[half, bestPrice * bestSize]];
      for (const band of DEPTH_BANDS) {
        if (band > half) known.push([band, latest[`depth_${name}_${band}bps`]]);
      }
      return known;
    };
    const bids = side("bid", latest.best_bid, latest.best_bid_size).reverse();
    const asks = side("ask", latest.best_ask, latest.best_ask_size);
    const xs = [...bids.map(([d]) => -d), ...asks.map(([d]) => d)];
    const bidValues = [...bids.map(([, v]) => v), ...asks.map(() => null)];
    const askValues = [...bids.map(() => null), ...asks.map(([, v]) => v)];
    return [xs, bidValues, askValues];
  }

  // ---------------------------------------------------------------- the page's charts
  // `fields` maps point field names to indexes in a point; `marks()` returns the suggestions of
  // the chosen instrument.
  function create(marks) {
    const $ = (id) => document.getElementById(id);
    const time = [
      timeChart($("chart-mid"), [{ field: "mid", colour: COLOURS.mid, label: "mid" }],
        undefined, marks),
      timeChart($("chart-spread"), [{ field: "spread_bps", colour: COLOURS.spread, label: "bps" }],
        (u, min, max) => [0, max > 0 ? max * 1.1 : 1], marks),
      timeChart($("chart-imbalance"), [
        { field: "queue_imbalance", colour: COLOURS.queue, label: "queue" },
        { field: "depth_imbalance_5", colour: COLOURS.depth5, label: "depth 5" },
        { field: "depth_imbalance_10", colour: COLOURS.depth10, label: "depth 10" },
      ], [-1, 1], marks),
      timeChart($("chart-ofi"), [
        { field: "ofi_1s", colour: COLOURS.ofi1, label: "OFI 1 s" },
        { field: "ofi_10s", colour: COLOURS.ofi10, label: "OFI 10 s" },
      ], (u, min, max) => {
        const reach = Math.max(Math.abs(min || 0), Math.abs(max || 0)) * 1.1 || 1;
        return [-reach, reach];
      }, marks),
    ];
    const depth = depthChart($("chart-depth"));

    function update(points, latest, field) {
      for (const chart of time) {
        chart.plot.setData(timeColumns(points, chart.fields.map((name) => field[name])));
        chart.container.dataset.points = String(points.length);
      }
      const columns = depthColumns(latest);
      depth.plot.setData(columns);
      depth.container.dataset.points = String(columns[0].length);
      for (const chart of time) showLatest(chart.plot);
    }

    // Without a cursor over a time chart, its legend reads out the newest point.
    function showLatest(plot) {
      const count = plot.data[0].length;
      if (count && !(plot.cursor.left >= 0)) plot.setLegend({ idx: count - 1 });
    }

    function resize() {
      for (const chart of [...time, depth]) {
        chart.plot.setSize({ width: widthOf(chart.container), height: HEIGHT });
      }
    }

    for (const chart of time) {
      chart.plot.hooks.setCursor = [...(chart.plot.hooks.setCursor || []), showLatest];
    }
    new ResizeObserver(resize).observe(document.getElementById("charts"));
    return { update, time, depth };
  }

  return { create, formatNumber, utcStamp };
})();
