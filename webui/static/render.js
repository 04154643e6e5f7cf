/* Quotient dashboard: draws one data model (live from the API, or a simulation report).
 *
 * Owns the page's sections (cluster totals, projects on one scale, workloads with a
 * project filter, nodes and their GPUs; chart.js adds allocation over time), the project
 * colours (Okabe-Ito, colour-blind safe, fixed by the project's place in the sorted list
 * so a project keeps its colour in every chart) and number formatting with units. It must
 * not fetch anything: live.js fetches, a report embeds its data. Text from data is only
 * ever set as textContent, never parsed as HTML.
 */
(function (global) {
  "use strict";

  // Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
  var PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9",
                 "#000000", "#F0E442"];
  var DASHES = ["solid", "dot", "dash", "longdash", "dashdot"];
  var state = { filter: "", stateFilter: "", model: null };

  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") node.textContent = String(v);
      else if (k === "style") node.setAttribute("style", v);
      else node.setAttribute(k, v === true ? "" : String(v));
    });
    var add = function (child) {
      if (child === null || child === undefined || child === "") return;
      if (Array.isArray(child)) { child.forEach(add); return; }
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    };
    for (var i = 2; i < arguments.length; i++) add(arguments[i]);
    return node;
  }

  function colourOf(model, project) {
    var i = model.projectNames.indexOf(project);
    return i < 0 ? "#777777" : PALETTE[i % PALETTE.length];
  }
  function dashOf(model, project) {
    var i = model.projectNames.indexOf(project);
    return DASHES[Math.floor(Math.max(i, 0) / PALETTE.length) % DASHES.length];
  }

  function gpus(n) {
    if (n === null || n === undefined) return "–";
    return String(n);
  }
  function gpuUnit(n) { return gpus(n) + (Number(n) === 1 ? " GPU" : " GPUs"); }
  function percent(x) { return (Math.round(x * 1000) / 10).toFixed(1) + " %"; }
  function duration(seconds) {
    if (seconds < 60) return seconds + " s";
    if (seconds < 3600) return Math.round(seconds / 60) + " min";
    if (seconds < 86400) return (Math.round(seconds / 360) / 10) + " h";
    return (Math.round(seconds / 8640) / 10) + " d";
  }
  function request(w) {
    if (w.gpu_memory_mib_per_pod) return w.gpu_memory_mib_per_pod + " MiB GPU memory" +
      (w.pods > 1 ? " × " + w.pods + " pods" : "");
    var per = w.gpus_per_pod;
    if (per === null || per === undefined) return "–";
    var text = Number(per) < 1 ? per + " of a GPU" : gpuUnit(per);
    return w.pods > 1 ? text + " × " + w.pods + " pods" : text;
  }

  // ------------------------------------------------------------------ sections

  function clusterSection(model) {
    var c = model.cluster;
    var cards = [
      ["Total", gpuUnit(c.total_gpus), "total_gpus"],
      ["Allocated", gpuUnit(c.allocated_gpus), "allocated_gpus"],
      ["Idle", gpuUnit(c.idle_gpus), "idle_gpus"],
      [model.mode === "report" ? "Utilisation (run average)" : "Utilisation",
        percent(c.utilization), "utilization"],
      ["Pending workloads", String(c.pending), "pending"]
    ];
    var list = el("dl", { class: "cards" });
    cards.forEach(function (card) {
      list.appendChild(el("div", { class: "card", "data-field": card[2] },
        el("dt", { text: card[0] }), el("dd", { text: card[1] })));
    });
    return el("section", { "aria-labelledby": "h-cluster", id: "cluster" },
      el("h2", { id: "h-cluster", text: "Cluster" }), list);
  }

  function bar(kind, value, scale, colour, label) {
    var width = scale > 0 ? Math.min(100, (Number(value) / scale) * 100) : 0;
    return el("div", { class: "bar-row" },
      el("span", { class: "bar-label", text: label }),
      el("span", { class: "bar-track" },
        el("span", { class: "bar " + kind, style: "width:" + width.toFixed(2) +
          "%;--c:" + colour })));
  }

  function quotaBars(p, scale, colour) {
    var wrap = el("div", { class: "bars", "aria-hidden": "true" },
      bar("deserved", p.deserved_gpus, scale, colour, "deserved"),
      bar("fair", p.fair_share_gpus, scale, colour, "fair share"),
      bar("allocated", p.allocated_gpus, scale, colour, "allocated"));
    var over = Number(p.allocated_gpus) - Number(p.deserved_gpus);
    if (over > 0) {
      wrap.appendChild(el("span", { class: "borrowing",
        text: "borrowing " + gpuUnit(Math.round(over * 1000) / 1000) + " over quota" }));
    }
    return wrap;
  }

  var LABELS = { deserved_gpus: "Deserved (GPUs)", fair_share_gpus: "Fair share (GPUs)",
    allocated_gpus: "Allocated (GPUs)", running: "Running", pending: "Pending" };

  // One row of the quota table: a project, or a department with its projects' sums.
  function quotaRow(item, scale, colour, attrs, heading) {
    var row = el("tr", attrs, heading);
    ["deserved_gpus", "fair_share_gpus", "allocated_gpus", "running", "pending"]
      .forEach(function (f) {
        row.appendChild(el("td", { class: "num", "data-field": f, "data-label": LABELS[f],
          text: gpus(item[f]) }));
      });
    row.appendChild(el("td", { class: "bars-cell" }, quotaBars(item, scale, colour)));
    return row;
  }

  function projectRow(model, p, scale) {
    var colour = colourOf(model, p.name);
    return quotaRow(p, scale, colour, { "data-project": p.name },
      el("th", { scope: "row" },
        el("span", { class: "swatch", style: "--c:" + colour, "aria-hidden": "true" }), p.name,
        p.department ? el("span", { class: "dept", text: p.department }) : null));
  }

  function departmentRow(g, scale) {
    return quotaRow(g.totals, scale, "#595959",
      { class: "dept-row", "data-department": g.department.name },
      el("th", { scope: "row" }, "Department " + g.department.name,
        el("span", { class: "dept", text: "sum of " + g.projects.length + " project" +
          (g.projects.length === 1 ? "" : "s") })));
  }

  function projectsSection(model) {
    var scale = 0, grouped = groups(model);
    var rows = model.projects.concat(grouped.filter(function (g) { return g.department; })
      .map(function (g) { return g.totals; }));
    rows.forEach(function (p) {
      scale = Math.max(scale, Number(p.deserved_gpus), Number(p.fair_share_gpus),
        Number(p.allocated_gpus));
    });
    var body = el("tbody");
    grouped.forEach(function (g) {
      if (g.department) body.appendChild(departmentRow(g, scale));
      g.projects.forEach(function (p) { body.appendChild(projectRow(model, p, scale)); });
    });
    var table = el("table", { class: "projects", "aria-describedby": "projects-note" },
      el("caption", { class: "visually-hidden", text: "Projects" }),
      el("thead", {}, el("tr", {},
        el("th", { scope: "col", text: "Project" }),
        el("th", { scope: "col", class: "num", text: "Deserved (GPUs)" }),
        el("th", { scope: "col", class: "num", text: "Fair share (GPUs)" }),
        el("th", { scope: "col", class: "num", text: "Allocated (GPUs)" }),
        el("th", { scope: "col", class: "num", text: "Running" }),
        el("th", { scope: "col", class: "num", text: "Pending" }),
        el("th", { scope: "col", text: "Deserved / fair share / allocated" }))),
      body);
    return el("section", { "aria-labelledby": "h-projects", id: "projects" },
      el("h2", { id: "h-projects", text: "Projects" }),
      el("p", { class: "note", id: "projects-note", text: "Deserved, fair share and " +
        "allocated GPUs per project, on one scale (" + gpuUnit(scale) + " = a full bar). " +
        "Allocated beyond deserved is borrowing." }),
      el("div", { class: "scroll", tabindex: "0", role: "region",
        "aria-label": "Projects table" }, table),
      el("p", { class: "legend", "aria-hidden": "true" },
        el("span", { class: "key deserved" }), "deserved ",
        el("span", { class: "key fair" }), "fair share ",
        el("span", { class: "key allocated" }), "allocated"));
  }

  function add(a, b) { return Math.round((Number(a) + Number(b)) * 1000) / 1000; }

  function groups(model) {
    var byDept = {};
    var out = [];
    (model.departments || []).forEach(function (d) {
      var g = { department: d, projects: [], totals: { deserved_gpus: d.deserved_gpus,
        fair_share_gpus: 0, allocated_gpus: 0, running: 0, pending: 0 } };
      byDept[d.name] = g;
      out.push(g);
    });
    var loose = { department: null, projects: [], totals: {} };
    model.projects.forEach(function (p) {
      var g = p.department && byDept[p.department] ? byDept[p.department] : loose;
      g.projects.push(p);
      ["fair_share_gpus", "allocated_gpus", "running", "pending"].forEach(function (f) {
        g.totals[f] = add(g.totals[f] || 0, p[f]);
      });
    });
    out = out.filter(function (g) { return g.projects.length > 0; });
    if (loose.projects.length) out.push(loose);
    return out;
  }

  // ----------------------------------------------------------------- workloads

  function workloadRow(model, w) {
    var nodes = w.nodes && w.nodes.length ? w.nodes.join(", ") : "–";
    return el("tr", { "data-workload": w.name, "data-state": w.state },
      el("th", { scope: "row", text: w.name }),
      el("td", { "data-label": "Project" }, el("span", { class: "swatch",
        style: "--c:" + colourOf(model, w.project), "aria-hidden": "true" }), w.project),
      el("td", { "data-label": "Type", text: w.type }),
      el("td", { "data-label": "State", text: w.state }),
      el("td", { class: "num", "data-label": "GPUs", text: request(w) }),
      el("td", { "data-label": "Node", text: nodes }),
      el("td", { class: "num", "data-label": "Age", text: w.age_seconds === null || w.age_seconds === undefined ? "–" :
        duration(w.age_seconds) }),
      el("td", { class: "reason", "data-label": w.reason ? "Reason" : null },
        w.reason ? el("strong", { text: w.reason }) : "",
        w.message ? el("span", { class: "message", text: " " + w.message }) : ""));
  }

  function filterControls(model) {
    var select = el("select", { id: "project-filter" },
      el("option", { value: "", text: "all projects" }));
    model.projectNames.forEach(function (n) {
      var opt = el("option", { value: n, text: n });
      if (n === state.filter) opt.selected = true;
      select.appendChild(opt);
    });
    select.addEventListener("change", function () { state.filter = select.value; redraw(); });
    var which = el("select", { id: "state-filter" });
    [["", "running and pending"], ["running", "running"], ["pending", "pending"]]
      .forEach(function (o) {
        var opt = el("option", { value: o[0], text: o[1] });
        if (o[0] === state.stateFilter) opt.selected = true;
        which.appendChild(opt);
      });
    which.addEventListener("change", function () { state.stateFilter = which.value; redraw(); });
    return el("div", { class: "filters" },
      el("label", { for: "project-filter", text: "Project " }), select,
      el("label", { for: "state-filter", text: " Show " }), which);
  }

  function workloadsSection(model) {
    var shown = model.workloads.filter(function (w) {
      return (!state.filter || w.project === state.filter) &&
        (!state.stateFilter || w.state === state.stateFilter);
    });
    shown.sort(function (a, b) {
      return (a.state === b.state ? 0 : a.state === "pending" ? -1 : 1) ||
        (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    });
    var body = el("tbody");
    shown.forEach(function (w) { body.appendChild(workloadRow(model, w)); });
    if (!shown.length) {
      body.appendChild(el("tr", {}, el("td", { colspan: "8", text: "No workloads." })));
    }
    var table = el("table", { class: "workloads" },
      el("caption", { text: shown.length + " workload(s), pending ones first with the " +
        "reason they wait." }),
      el("thead", {}, el("tr", {}, ["Workload", "Project", "Type", "State", "GPUs",
        "Node", "Age", "Reason"].map(function (t) {
          return el("th", { scope: "col", text: t });
        }))),
      body);
    return el("section", { "aria-labelledby": "h-workloads", id: "workloads" },
      el("h2", { id: "h-workloads", text: "Workloads" }), filterControls(model),
      el("div", { class: "scroll", tabindex: "0", role: "region",
        "aria-label": "Workloads table" }, table));
  }

  // --------------------------------------------------------------------- nodes

  function gpuBox(model, node, g, owners) {
    var used = Number(g.used_gpus);
    var label = node.name + " GPU " + g.index + ": " + (used === 0 ? "idle" :
      gpus(g.used_gpus) + " of 1 used" + (g.shared ? ", shared" : "")) +
      (g.workloads.length ? " by " + g.workloads.join(", ") : "");
    var project = g.workloads.length ? owners[g.workloads[0]] : null;
    return el("li", { class: "gpu" + (g.shared ? " shared" : "") + (used ? " busy" : ""),
      title: label, "aria-label": label },
      el("span", { class: "fill", style: "height:" + Math.round(used * 100) + "%;--c:" +
        (project ? colourOf(model, project) : "#999") }),
      el("span", { class: "gpu-text", text: used === 0 ? "idle" :
        (g.shared ? gpus(g.used_gpus) + "·s" : gpus(g.used_gpus)) }));
  }

  function nodesSection(model) {
    var owners = {};
    model.workloads.forEach(function (w) { owners[w.name] = w.project; });
    var list = el("ul", { class: "nodes" });
    model.nodes.forEach(function (n) {
      var used = 0, shared = 0;
      n.gpus.forEach(function (g) { used += Number(g.used_gpus); if (g.shared) shared++; });
      used = Math.round(used * 1000) / 1000;
      var gpusList = el("ul", { class: "gpus" });
      n.gpus.forEach(function (g) { gpusList.appendChild(gpuBox(model, n, g, owners)); });
      list.appendChild(el("li", { class: "node", "data-node": n.name },
        el("h3", { text: n.name }),
        el("p", { class: "node-meta", text: (n.gpu_model || "GPU") + " · pool " + n.pool +
          " · " + gpuUnit(used) + " of " + n.gpus.length + " used" +
          (shared ? " · " + shared + " shared" : "") + (n.unschedulable ? " · cordoned" : "") }),
        gpusList));
    });
    return el("section", { "aria-labelledby": "h-nodes", id: "nodes-section" },
      el("h2", { id: "h-nodes", text: "Nodes" }),
      el("p", { class: "note", text: "Each square is one GPU, filled by how much of it is " +
        "held; “·s” marks a GPU shared by fractional workloads." }), list);
  }

  // ---------------------------------------------------------------------- page

  function normalise(model) {
    model.projectNames = model.projects.map(function (p) { return p.name; }).sort();
    model.deservedByProject = {};
    model.projects.forEach(function (p) {
      model.deservedByProject[p.name] = Number(p.deserved_gpus);
    });
    return model;
  }

  function redraw() {
    var model = state.model, root = document.getElementById("app");
    if (!model || !root) return;
    var focused = document.activeElement && document.activeElement.id;
    var charts = global.QuotientCharts;
    var main = el("main", { id: "main" },
      el("header", { class: "top" },
        el("h1", { text: model.title }),
        el("p", { class: "updated", id: "updated", role: "status", text: model.updated })),
      clusterSection(model), projectsSection(model), charts.section(model),
      workloadsSection(model), nodesSection(model));
    // Keep the chart's node across refreshes, so Plotly updates it in place.
    var old = document.getElementById("timeline"), fresh = main.querySelector("#timeline");
    if (old && fresh) {
      old.setAttribute("aria-label", fresh.getAttribute("aria-label"));
      fresh.replaceWith(old);
    }
    root.replaceChildren(main);
    charts.draw(model);
    if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
  }

  function show(model) {
    state.model = normalise(model);
    redraw();
  }

  // A simulation report: its data is already in the page.
  function showReport(data) { show(data); }

  global.QuotientDashboard = { show: show, showReport: showReport, redraw: redraw, el: el,
    palette: PALETTE, colourOf: colourOf, dashOf: dashOf, gpuUnit: gpuUnit,
    duration: duration };
})(window);
