/* Quotient dashboard: allocated GPUs per project over time, with evictions marked.
 *
 * Owns the timeline section: one step line per project (solid: allocated, dashed: fair
 * share, dotted: deserved in a report), the capacity line, evictions as crosses on the time
 * axis, time in hours, and an HTML legend (Plotly's own is off: the page's swatches and
 * line keys read the same in every section and at phone width). It draws with plotly.js
 * when that has loaded and does nothing before. It must not fetch anything.
 */
(function (global) {
  "use strict";

  var d = global.QuotientDashboard;
  var el = d.el, colourOf = d.colourOf, dashOf = d.dashOf, gpuUnit = d.gpuUnit,
    duration = d.duration;

  function hours(seconds, origin) { return (seconds - origin) / 3600; }

  function stepped(points, key, project, origin, end) {
    var xs = [], ys = [];
    points.forEach(function (pt) {
      xs.push(hours(pt.at, origin));
      ys.push(Number((pt[key] || {})[project] || 0));
    });
    if (xs.length && end !== null && hours(end, origin) > xs[xs.length - 1]) {
      xs.push(hours(end, origin));
      ys.push(ys[ys.length - 1]);
    }
    return { x: xs, y: ys };
  }

  function valueAt(points, project, at) {
    var v = 0;
    points.forEach(function (pt) {
      if (pt.at <= at) v = Number((pt.allocated_gpus || {})[project] || 0);
    });
    return v;
  }

  function traces(model) {
    var h = model.history, pts = h.points, origin = h.origin, out = [];
    model.projectNames.forEach(function (name) {
      var colour = colourOf(model, name), dash = dashOf(model, name);
      var alloc = stepped(pts, "allocated_gpus", name, origin, h.end);
      out.push({ x: alloc.x, y: alloc.y, name: name + " allocated", legendgroup: name,
        type: "scatter", mode: "lines", line: { shape: "hv", color: colour, width: 2.5,
          dash: dash },
        hovertemplate: name + ": %{y} GPUs at %{x:.2f} h<extra></extra>" });
      var fair = stepped(pts, "fair_share_gpus", name, origin, h.end);
      out.push({ x: fair.x, y: fair.y, name: name + " fair share", legendgroup: name,
        type: "scatter", mode: "lines", line: { shape: "hv", color: colour, width: 1,
          dash: "dash" }, opacity: 0.8,
        hovertemplate: name + " fair share: %{y} GPUs<extra></extra>" });
      var deserved = model.deservedByProject[name];
      if (model.mode === "report" && deserved !== undefined && alloc.x.length) {
        out.push({ x: [alloc.x[0], alloc.x[alloc.x.length - 1]], y: [deserved, deserved],
          name: name + " deserved", legendgroup: name, type: "scatter", mode: "lines",
          line: { color: colour, width: 1, dash: "dot" },
          hovertemplate: name + " deserved: %{y} GPUs<extra></extra>" });
      }
    });
    var ev = h.evictions;
    if (ev.length) {
      out.push({ x: ev.map(function (e) { return hours(e.at, origin); }),
        y: ev.map(function (e) { return valueAt(pts, e.project, e.at); }),
        text: ev.map(function (e) { return e.workload + " (" + e.project + ", " +
          gpuUnit(e.gpus) + "): " + e.code; }),
        name: "evictions", type: "scatter", mode: "markers",
        marker: { symbol: "x-thin-open", size: 11, color: "#B00020",
          line: { width: 2, color: "#B00020" } },
        hovertemplate: "%{text}<extra>eviction</extra>" });
    }
    return out;
  }

  function section(model) {
    var h = model.history;
    var summary = "Allocated GPUs per project over " +
      duration(Math.max(0, Math.round((h.end || h.origin) - h.origin))) + "; " +
      h.evictions.length + " eviction(s) marked with crosses.";
    var chart = el("div", { id: "timeline", class: "chart", role: "img",
      "aria-label": summary });
    return el("section", { "aria-labelledby": "h-timeline", id: "history" },
      el("h2", { id: "h-timeline", text: "Allocated GPUs over time" }),
      el("p", { class: "note", text: summary }), chart, chartLegend(model));
  }

  function chartLegend(model) {
    var list = el("ul", { class: "chart-legend" });
    model.projectNames.forEach(function (name) {
      list.appendChild(el("li", {}, el("span", { class: "swatch",
        style: "--c:" + colourOf(model, name), "aria-hidden": "true" }), name));
    });
    var keys = [["solid", "allocated"], ["dashed", "fair share"]];
    if (model.mode === "report") keys.push(["dotted", "deserved"]);
    keys.forEach(function (k) {
      list.appendChild(el("li", { class: "line-key" },
        el("span", { class: "line " + k[0], "aria-hidden": "true" }), k[1]));
    });
    list.appendChild(el("li", { class: "line-key" },
      el("span", { class: "cross", "aria-hidden": "true", text: "×" }), "eviction"));
    list.appendChild(el("li", { class: "line-key" },
      el("span", { class: "line dotted grey", "aria-hidden": "true" }), "capacity"));
    return list;
  }

  function draw(model) {
    var node = document.getElementById("timeline");
    if (!node || !global.Plotly) return;
    var layout = {
      margin: { l: 56, r: 16, t: 8, b: 48 },
      xaxis: { title: { text: "time (hours)" }, zeroline: false },
      yaxis: { title: { text: "GPUs" }, rangemode: "tozero" },
      showlegend: false,
      shapes: model.cluster.total_gpus ? [{ type: "line", xref: "paper", x0: 0, x1: 1,
        y0: Number(model.cluster.total_gpus), y1: Number(model.cluster.total_gpus),
        line: { color: "#555", width: 1, dash: "dot" } }] : [],
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { family: "system-ui, sans-serif", size: 13 }
    };
    global.Plotly.react(node, traces(model), layout,
      { responsive: true, displaylogo: false, displayModeBar: false });
  }

  global.QuotientCharts = { section: section, draw: draw };
})(window);
