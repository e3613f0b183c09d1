// The report page's own script (plain browser JavaScript, run after Chart.js and its matrix plugin): it
// reads the runs' JSON from the page and draws every chart and table. Charts register themselves in
// `window.mdrReport.charts` so a test can check that each one drew.
export const PAGE_SCRIPT = String.raw`
(function () {
  "use strict";
  var runs = JSON.parse(document.getElementById("runs").textContent);
  var main = document.getElementById("report");
  var palette = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563", "#65a30d", "#0d9488"];
  var registry = [];
  window.mdrReport = { charts: registry, ready: false };
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', sans-serif";
  var multi = runs.length > 1;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function section(title, parent) {
    var s = el("section");
    s.appendChild(el("h2", {}, title));
    (parent || main).appendChild(s);
    return s;
  }
  function grid(parent) { var g = el("div", { class: "grid" }); parent.appendChild(g); return g; }
  function note(parent, text) { parent.appendChild(el("p", { class: "note" }, text)); }
  function fmt(x, digits) { return typeof x === "number" && isFinite(x) ? x.toFixed(digits === undefined ? 4 : digits) : "n/a"; }
  function big(x) { return typeof x === "number" ? x.toLocaleString("en-US") : "n/a"; }

  function chart(parent, title, kind, config, cls) {
    var wrap = el("div");
    wrap.appendChild(el("h3", {}, title));
    var box = el("div", { class: "chart" + (cls ? " " + cls : "") });
    var canvas = el("canvas", { role: "img", "aria-label": title });
    box.appendChild(canvas);
    wrap.appendChild(box);
    parent.appendChild(wrap);
    var c = new Chart(canvas, config);
    var points = config.data.datasets.reduce(function (n, d) { return n + d.data.length; }, 0);
    registry.push({ title: title, kind: kind, points: points, canvas: canvas, chart: c });
    return c;
  }
  function series(label, points, i, dashed) {
    var color = palette[i % palette.length];
    return { label: label, data: points, borderColor: color, backgroundColor: color, borderWidth: 2, borderDash: dashed ? [6, 4] : [], pointRadius: points.length > 60 ? 0 : 2 };
  }
  function lines(datasets, yTitle, xTitle) {
    return {
      type: "line", data: { datasets: datasets },
      options: {
        parsing: false, normalized: true,
        scales: { x: { type: "linear", title: { display: true, text: xTitle || "step" } }, y: { title: { display: true, text: yTitle } } },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
      },
    };
  }
  function table(parent, head, rows) {
    var t = el("table");
    var tr = el("tr");
    head.forEach(function (h) { tr.appendChild(el("th", {}, h)); });
    t.appendChild(tr);
    rows.forEach(function (r) {
      var row = el("tr");
      r.forEach(function (c) { row.appendChild(el("td", {}, String(c))); });
      t.appendChild(row);
    });
    parent.appendChild(t);
  }
  function label(run, what) { return multi ? run.name + ": " + what : what; }

  // Learning curves, overlaid across runs.
  var curves = section("Learning curves");
  var g = grid(curves);
  chart(g, "Training loss per step", "line", lines(runs.map(function (r, i) {
    return series(label(r, "train loss"), r.trainLog.map(function (p) { return { x: p.step, y: p.loss }; }), i);
  }), "loss"));
  var withValid = runs.filter(function (r) { return r.evaluations.length > 0; });
  if (withValid.length) {
    chart(g, "Validation AUC", "line", lines(withValid.map(function (r, i) {
      return series(label(r, "overall AUC"), r.evaluations.map(function (e) { return { x: e.step, y: e.overall.auc }; }), i);
    }).concat(withValid.map(function (r, i) {
      return series(label(r, "mean per-domain AUC"), r.evaluations.map(function (e) { return { x: e.step, y: e.mean_domain_auc }; }), i, true);
    })), "AUC"));
    chart(g, "Validation logloss", "line", lines(withValid.map(function (r, i) {
      return series(label(r, "logloss"), r.evaluations.map(function (e) { return { x: e.step, y: e.overall.logloss }; }), i);
    }), "logloss"));
  } else {
    note(curves, "These runs had no validation data (--valid), so there are no validation metrics or router statistics.");
  }

  // Final metrics: one table for all runs.
  var finals = section(multi ? "Final metrics, compared" : "Final metrics");
  var domains = [];
  runs.forEach(function (r) { r.domains.forEach(function (d) { if (domains.indexOf(d) < 0) domains.push(d); }); });
  table(finals, ["run", "best epoch", "overall AUC", "logloss", "mean per-domain AUC"].concat(domains.map(function (d) { return "AUC " + d; })),
    runs.map(function (r) {
      var b = r.best;
      if (!b) return [r.name, "n/a", "n/a", "n/a", "n/a"].concat(domains.map(function () { return "n/a"; }));
      return [r.name, b.epoch, fmt(b.overall.auc), fmt(b.overall.logloss), fmt(b.mean_domain_auc)].concat(domains.map(function (d) { return b.domains[d] ? fmt(b.domains[d].auc) : ""; }));
    }));

  runs.forEach(function (r, runIndex) { runSection(r, runIndex); });

  function runSection(r) {
    var s = section(multi ? "Run " + r.name : "The run");
    var g = grid(s);
    if (r.evaluations.length) {
      chart(g, label(r, "AUC per domain over time"), "line", lines(r.domains.map(function (d, i) {
        return series(d, r.evaluations.filter(function (e) { return e.domains[d]; }).map(function (e) { return { x: e.step, y: e.domains[d].auc }; }), i);
      }), "AUC"));
    }
    var terms = {};
    r.trainLog.forEach(function (p) { Object.keys(p.terms || {}).forEach(function (k) { terms[k] = true; }); });
    var termNames = Object.keys(terms);
    if (termNames.length) {
      chart(g, label(r, "Loss terms (unweighted) per step"), "line", lines(termNames.map(function (k, i) {
        return series(k, r.trainLog.filter(function (p) { return p.terms && k in p.terms; }).map(function (p) { return { x: p.step, y: p.terms[k] }; }), i);
      }), "value"));
    }
    var routers = r.best && r.best.routers ? r.best.routers : {};
    Object.keys(routers).forEach(function (gate) {
      var st = routers[gate];
      heatmap(g, r, gate, st);
      if (st.mutual_information === null) return; // a per-domain gate: each domain chooses among its own experts
      var history = r.evaluations.filter(function (e) { return e.routers && e.routers[gate]; });
      chart(g, label(r, "Gate " + gate + ": router–domain mutual information"), "line", lines([
        series("mutual information (nats)", history.map(function (e) { return { x: e.step, y: e.routers[gate].mutual_information }; }), 0),
        series("domain entropy (its upper bound)", history.map(function (e) { return { x: e.step, y: e.routers[gate].domain_entropy }; }), 7, true),
        series("load balance (1 = balanced)", history.map(function (e) { return { x: e.step, y: e.routers[gate].load_balance }; }), 2, true),
      ], "nats"));
    });
    if (r.best) {
      s.appendChild(el("h3", {}, "Per-domain metrics of the kept model (epoch " + r.best.epoch + ")"));
      var rows = r.domains.filter(function (d) { return r.best.domains[d]; }).map(function (d) {
        var m = r.best.domains[d];
        return [d, big(m.rows), fmt(m.positive_rate, 3), fmt(m.auc), fmt(m.logloss)];
      });
      rows.push(["overall", big(r.best.overall.rows), fmt(r.best.overall.positive_rate, 3), fmt(r.best.overall.auc), fmt(r.best.overall.logloss)]);
      table(s, ["domain", "rows", "positive rate", "AUC", "logloss"], rows);
    }
    s.appendChild(el("h3", {}, "Cost (mdr inspect): what one row of each domain runs"));
    note(s, "Input width " + r.cost.inputWidth + ", " + big(r.cost.denseParams) + " dense parameters.");
    table(s, ["domain", "active params", "active MACs/row", "dense MACs/row", "dense / active"], r.cost.domains.map(function (d) {
      return [d.domain, big(d.activatedParams), big(d.activatedMacs), big(d.denseMacs), (d.denseMacs / d.activatedMacs).toFixed(2) + "×"];
    }));
    var details = el("details");
    details.appendChild(el("summary", {}, "The spec, with every default filled in"));
    details.appendChild(el("pre", {}, r.specText));
    s.appendChild(details);
  }

  function heatmap(parent, r, gate, st) {
    var E = st.usage[0] ? st.usage[0].length : 0;
    var experts = [];
    for (var e = 0; e < E; e++) experts.push((st.choices === "per-domain" ? "c" : "e") + e);
    var cells = [];
    var max = 0;
    r.domains.forEach(function (d, i) {
      st.usage[i].forEach(function (v, e) { cells.push({ x: experts[e], y: d, v: v }); max = Math.max(max, v); });
    });
    var title = label(r, "Gate " + gate + ": expert usage by domain (" + st.measure + ", best epoch)");
    chart(parent, title, "heatmap", {
      type: "matrix",
      data: { datasets: [{
        label: gate, data: cells,
        backgroundColor: function (c) {
          var v = c.raw ? c.raw.v : 0;
          var t = max > 0 ? v / max : 0;
          return "rgba(37, 99, 235, " + (0.06 + 0.94 * t).toFixed(3) + ")";
        },
        borderColor: "#ffffff", borderWidth: 1,
        width: function (c) { var a = c.chart.chartArea; return a ? a.width / E - 1 : 0; },
        height: function (c) { var a = c.chart.chartArea; return a ? a.height / r.domains.length - 1 : 0; },
      }] },
      options: {
        scales: {
          x: { type: "category", labels: experts, offset: true, grid: { display: false }, title: { display: true, text: st.choices === "per-domain" ? "choice (the domain's own experts)" : "expert" } },
          y: { type: "category", labels: r.domains, offset: true, reverse: false, grid: { display: false }, title: { display: true, text: "domain" } },
        },
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { title: function () { return ""; }, label: function (c) { return c.raw.y + " → " + c.raw.x + ": " + (100 * c.raw.v).toFixed(1) + "%"; } } },
          subtitle: {
            display: true,
            text: st.mutual_information === null
              ? "each domain chooses among its own experts (c0… differ by domain) · load balance " + fmt(st.load_balance, 3)
              : "mutual information " + fmt(st.mutual_information, 3) + " of " + fmt(st.domain_entropy, 3) + " nats · load balance " + fmt(st.load_balance, 3),
          },
        },
      },
      plugins: [{
        id: "cellValues",
        afterDatasetsDraw: function (c) {
          var ctx = c.ctx;
          ctx.save();
          ctx.font = "11px system-ui, sans-serif";
          ctx.textAlign = "center";
          ctx.textBaseline = "middle";
          c.getDatasetMeta(0).data.forEach(function (cell, i) {
            var v = cells[i].v;
            var p = cell.getCenterPoint();
            ctx.fillStyle = max > 0 && v / max > 0.55 ? "#ffffff" : "#1d2433";
            ctx.fillText((100 * v).toFixed(0), p.x, p.y);
          });
          ctx.restore();
        },
      }],
    }, "heatmap");
  }

  window.mdrReport.ready = true;
})();
`;
