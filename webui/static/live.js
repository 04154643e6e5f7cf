/* Quotient dashboard, live: asks for a token, reads the API's JSON, polls with ETags.
 *
 * Owns the token (taken from the address's #token=... fragment, which never reaches a
 * server, or typed into the prompt; kept in sessionStorage only), the reads every client
 * can make with a viewer token (/api/v1/status, /quota-tree, /nodes, /workloads,
 * /history), conditional polling (If-None-Match; a 304 costs nothing) and turning those
 * bodies into the model render.js draws. Without a valid token it shows the prompt and
 * nothing else. It must not draw the sections itself.
 */
(function (global) {
  "use strict";

  var KEY = "quotient.token";
  var REFRESH_MS = refreshFromFragment() * 1000;
  var PATHS = { status: "/api/v1/status", tree: "/api/v1/quota-tree",
                nodes: "/api/v1/nodes", workloads: "/api/v1/workloads",
                history: "/api/v1/history" };
  var cache = {};   // name -> {etag, body}
  var timer = null;
  var el = global.QuotientDashboard.el;

  function refreshFromFragment() {
    var m = /(?:^|[#&])refresh=([0-9]+)/.exec(global.location.hash || "");
    return m ? Math.min(Math.max(Number(m[1]), 1), 300) : 2;
  }

  function tokenFromFragment() {
    var m = /(?:^|[#&])token=([^&]+)/.exec(global.location.hash || "");
    if (!m) return null;
    var rest = (global.location.hash || "").replace(/(^#|&)token=[^&]*/, "").replace(/^&/, "");
    global.history.replaceState(null, "", global.location.pathname + (rest ? "#" + rest : ""));
    return decodeURIComponent(m[1]);
  }

  // plotly.js is large: load it after the tables, and draw the chart once it is there.
  function loadCharts() {
    var script = document.createElement("script");
    script.src = "/ui/plotly.min.js";
    script.async = true;
    script.addEventListener("load", function () { global.QuotientDashboard.redraw(); });
    document.head.appendChild(script);
  }

  function token() { return global.sessionStorage.getItem(KEY); }

  function prompt(message) {
    if (timer) { global.clearTimeout(timer); timer = null; }
    global.sessionStorage.removeItem(KEY);
    cache = {};
    var input = el("input", { id: "token", name: "token", type: "password", required: true,
      autocomplete: "off", spellcheck: "false", "aria-describedby": "token-help" });
    var form = el("form", { id: "token-form", class: "token-form" },
      el("h1", { text: "Quotient dashboard" }),
      el("label", { for: "token", text: "API token (role viewer or admin)" }), input,
      el("p", { id: "token-help", class: "note",
        text: "`quotient demo` prints one; the page keeps it for this tab only." }),
      message ? el("p", { class: "error", role: "alert", text: message }) : null,
      el("button", { type: "submit", text: "Show the cluster" }));
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      global.sessionStorage.setItem(KEY, input.value.trim());
      start();
    });
    document.getElementById("app").replaceChildren(form);
    input.focus();
  }

  function read(name) {
    var had = cache[name];
    var headers = { Authorization: "Bearer " + token(), Accept: "application/json" };
    if (had && had.etag) headers["If-None-Match"] = had.etag;
    return global.fetch(PATHS[name], { headers: headers, cache: "no-store" })
      .then(function (res) {
        if (res.status === 304 && had) return { changed: false, body: had.body };
        if (res.status === 401 || res.status === 403) {
          var err = new Error("refused"); err.status = res.status; throw err;
        }
        if (!res.ok) throw new Error(PATHS[name] + " answered " + res.status);
        return res.json().then(function (body) {
          cache[name] = { etag: res.headers.get("ETag"), body: body };
          return { changed: true, body: body };
        });
      });
  }

  // A scheduler that reports no detail still names its waiting workloads and why.
  function fromReasons(status) {
    var out = [];
    status.projects.forEach(function (p) {
      p.pending_reasons.forEach(function (r) {
        out.push({ name: r.workload, project: p.name, type: "–", state: "pending", pods: 1,
          gpus_per_pod: null, gpu_memory_mib_per_pod: null, nodes: [], age_seconds: null,
          reason: r.code, message: r.message });
      });
    });
    return out;
  }

  function model(b) {
    var departmentOf = {}, limits = {};
    b.tree.projects.forEach(function (p) {
      departmentOf[p.name] = p.department; limits[p.name] = p.limit_gpus;
    });
    var c = b.status.cluster;
    var history = b.history;
    var first = history.points.length ? history.points[0].at : (b.status.cycle_at || 0);
    return {
      mode: "live",
      title: "Quotient: cluster overview",
      updated: b.status.reported_at ? "Scheduler cycle at " + b.status.cycle_at +
        " s, reported " + new Date(b.status.reported_at).toLocaleTimeString() +
        "; refreshes every " + REFRESH_MS / 1000 + " s" : "No scheduler has reported yet.",
      cluster: { total_gpus: c.total_gpus, allocated_gpus: c.allocated_gpus,
        idle_gpus: c.idle_gpus,
        utilization: Number(c.total_gpus) > 0 ? Number(c.allocated_gpus) / Number(c.total_gpus)
          : 0,
        pending: b.status.projects.reduce(function (n, p) { return n + p.pending; }, 0) +
          b.status.unattributed_pending.length },
      projects: b.status.projects.map(function (p) {
        return Object.assign({ department: departmentOf[p.name] || null,
          limit_gpus: limits[p.name] }, p);
      }),
      departments: b.tree.departments,
      workloads: b.workloads.workloads.length || b.nodes.nodes.length ? b.workloads.workloads
        : fromReasons(b.status),
      nodes: b.nodes.nodes,
      history: { points: history.points, evictions: history.evictions, origin: first,
        end: b.status.cycle_at }
    };
  }

  function refresh() {
    var names = Object.keys(PATHS);
    return Promise.all(names.map(read)).then(function (results) {
      var bodies = {}, changed = false;
      names.forEach(function (n, i) { bodies[n] = results[i].body; changed = changed ||
        results[i].changed; });
      // /status has no ETag: compare it, so an unchanged poll redraws nothing.
      var statusText = JSON.stringify(bodies.status);
      if (changed || statusText !== cache.statusText) {
        cache.statusText = statusText;
        global.QuotientDashboard.show(model(bodies));
      }
      document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
      timer = global.setTimeout(tick, REFRESH_MS);
    });
  }

  function tick() {
    refresh().catch(function (err) {
      if (err.status) { prompt("The API refused this token (" + err.status + ")."); return; }
      var line = document.getElementById("updated");
      if (line) line.textContent = "Could not refresh: " + err.message + "; retrying.";
      timer = global.setTimeout(tick, REFRESH_MS * 2);
    });
  }

  function start() {
    if (!token()) { prompt(null); return; }
    tick();
  }

  var given = tokenFromFragment();
  if (given) global.sessionStorage.setItem(KEY, given);
  loadCharts();
  start();
})(window);
