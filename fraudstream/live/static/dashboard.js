// Fraudstream live dashboard: polls the read-only JSON API and renders it.
// Every value from the API is data: it reaches the page through textContent and SVG
// attributes only, never parsed as HTML, so an alert reason cannot become markup.
"use strict";

(function () {
  const REFRESH_MS = 1000;
  const SVG = "http://www.w3.org/2000/svg";
  const OUTCOMES = ["approve", "review", "block"];

  const $ = (id) => document.getElementById(id);

  function setText(id, value) {
    const el = $(id);
    if (el) el.textContent = value;
  }

  function fmtInt(v) {
    return v === null || v === undefined ? "-" : Math.round(v).toLocaleString("en-US");
  }
  function fmtRate(v) {
    return v === null || v === undefined ? "-" : Math.round(v).toLocaleString("en-US");
  }
  function fmtMs(seconds) {
    if (seconds === null || seconds === undefined) return "-";
    if (seconds < 10) return Math.round(seconds * 1000).toLocaleString("en-US") + " ms";
    return seconds.toFixed(1) + " s";
  }
  function fmtShare(v) {
    return v === null || v === undefined ? "-" : (v * 100).toFixed(1) + "%";
  }
  function fmtClock(epoch) {
    if (epoch === null || epoch === undefined) return "-";
    return new Date(epoch * 1000).toISOString().slice(11, 19) + " UTC";
  }
  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  async function getJson(path) {
    const response = await fetch(path, { cache: "no-store", credentials: "omit" });
    if (!response.ok) throw new Error(path + ": HTTP " + response.status);
    return response.json();
  }

  function renderSummary(s) {
    const status = $("status");
    if (s.metrics_up) {
      status.textContent = "processor up";
      status.className = "status up";
      status.title = s.metrics_url;
    } else {
      status.textContent = "processor unreachable";
      status.className = "status down";
      status.title = s.metrics_error || "";
    }
    for (const node of document.querySelectorAll(".window")) {
      node.textContent = s.window_seconds + " s";
    }
    setText("rate", fmtRate(s.rows_per_second));
    setText("rate-window", fmtRate(s.rows_per_second_window));
    setText("p50", fmtMs(s.latency_p50));
    setText("p99", fmtMs(s.latency_p99));
    setText("rows", fmtInt(s.rows_total));
    setText("late", fmtInt(s.late_events_total));
    setText("duplicates", fmtInt(s.duplicates_total));
    setText("quarantined", fmtInt(s.quarantined_total));
    const reasons = Object.entries(s.quarantined_by_reason || {})
      .sort((a, b) => b[1] - a[1])
      .map(([reason, n]) => reason + " " + fmtInt(n));
    setText("quarantine-reasons", reasons.length ? reasons.join(" · ") : "nothing rejected");
    setText("fallback", fmtShare(s.fallback_share));
    setText("fallback-total", fmtShare(s.fallback_share_total));
    setText("batch", s.last_batch_id === null ? "-" : "#" + s.last_batch_id);
    setText("behind", s.millis_behind_latest === null ? "-" : fmtMs(s.millis_behind_latest / 1000));
    setText("backlog", !s.backlog_records ? "none"
      : fmtInt(s.backlog_records) + (s.catch_up_seconds === null ? ", not gaining"
        : ", caught up in ~" + fmtMs(s.catch_up_seconds)));
    setText("updated", fmtClock(s.updated_at));
    renderModel(s.model);

    const body = $("decisions");
    const totals = s.decisions_total || {};
    const recent = s.decisions_recent || {};
    const outcomes = OUTCOMES.concat(Object.keys(totals).filter((k) => !OUTCOMES.includes(k)));
    const largest = Math.max(1, ...outcomes.map((o) => recent[o] || 0));
    const rows = outcomes.map((outcome) => {
      const tr = document.createElement("tr");
      tr.appendChild(el("td", outcome, "decision-" + outcome));
      tr.appendChild(el("td", fmtInt(recent[outcome] || 0), "num"));
      tr.appendChild(el("td", fmtInt(totals[outcome] || 0), "num"));
      const cell = el("td", null, "bar-cell");
      const bar = el("div", null, "bar " + outcome);
      // Log scale so review/block stay visible next to approve.
      const n = recent[outcome] || 0;
      bar.style.width = n > 0 ? (100 * Math.log10(1 + n) / Math.log10(1 + largest)).toFixed(1) + "%" : "0";
      cell.appendChild(bar);
      tr.appendChild(cell);
      return tr;
    });
    body.replaceChildren(...rows);
  }

  function fmtPsi(v) {
    return v === null || v === undefined ? "-" : v.toFixed(3);
  }
  function withValidation(v, promised) {
    return fmtShare(v) + (promised === undefined ? "" : " (" + fmtShare(promised) + ")");
  }

  function renderModel(m) {
    if (!m) return;
    setText("model-score-psi", fmtPsi(m.score_psi) + (m.warm === false ? " (warming up)" : ""));
    const worst = Object.entries(m.feature_psi || {}).sort((a, b) => b[1] - a[1])[0];
    setText("model-feature-psi", worst ? worst[0] + " " + fmtPsi(worst[1]) : "-");
    setText("model-reviews", fmtShare(m.review_rate) + " / " + fmtShare(m.review_budget));
    setText("model-blocks", fmtShare(m.block_rate));
    setText("model-precision", withValidation(m.precision, m.validation.precision));
    setText("model-recall", withValidation(m.recall, m.validation.recall));
    setText("model-ap", m.average_precision === null ? "-" : m.average_precision.toFixed(3));
    setText("model-labelled", fmtInt(m.labelled));
    setText("model-warnings", m.warnings.length ? m.warnings.join(" · ") : "no drift, budget held");
    $("model-warnings").className = m.warnings.length ? "sub error" : "sub";
  }

  function renderAlerts(a) {
    const body = $("alerts");
    setText("alerts-note", a.error ? "(" + a.error + ")" : a.updated_at ? "read " + fmtClock(a.updated_at) : "");
    $("alerts-note").className = a.error ? "small error" : "muted small";
    if (!a.alerts.length) {
      const tr = document.createElement("tr");
      const td = el("td", "no review/block alerts yet", "muted");
      td.colSpan = 8;
      tr.appendChild(td);
      body.replaceChildren(tr);
      return;
    }
    const rows = a.alerts.map((alert) => {
      const tr = document.createElement("tr");
      tr.appendChild(el("td", alert.event_time, "mono"));
      tr.appendChild(el("td", alert.decision, "decision-" + alert.decision));
      tr.appendChild(el("td", alert.card_id, "mono"));
      tr.appendChild(el("td", alert.transaction_id, "mono"));
      tr.appendChild(el("td", alert.merchant_id || "-"));
      const amount = alert.amount === null ? "-" :
        alert.amount.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }) +
        (alert.currency ? " " + alert.currency : "");
      tr.appendChild(el("td", amount, "num"));
      tr.appendChild(el("td", alert.score === null ? "-" : alert.score.toFixed(3), "num"));
      tr.appendChild(el("td", (alert.reasons || []).join(", ") || "-", "reasons"));
      return tr;
    });
    body.replaceChildren(...rows);
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const magnitude = Math.pow(10, Math.floor(Math.log10(v)));
    for (const step of [1, 2, 2.5, 5, 10]) {
      if (v <= step * magnitude) return step * magnitude;
    }
    return 10 * magnitude;
  }

  function path(points, x, y, key) {
    let d = "";
    let pen = false;
    for (const p of points) {
      const v = p[key];
      if (v === null || v === undefined) { pen = false; continue; }
      d += (pen ? "L" : "M") + x(p.time).toFixed(1) + "," + y(v).toFixed(1);
      pen = true;
    }
    return d;
  }

  function renderChart(h) {
    const box = $("chart");
    const width = Math.max(300, box.clientWidth);
    const height = Math.max(160, box.clientHeight);
    const pad = { left: 56, right: 60, top: 10, bottom: 24 };
    const root = svg("svg", { viewBox: "0 0 " + width + " " + height, preserveAspectRatio: "none" });
    const points = h.points || [];
    const now = points.length ? points[points.length - 1].time : Date.now() / 1000;
    const start = points.length ? Math.min(points[0].time, now - 60) : now - 60;
    const x = (t) => pad.left + (t - start) / Math.max(1, now - start) * (width - pad.left - pad.right);
    const rateMax = niceMax(Math.max(0, ...points.map((p) => p.rows_per_second || 0)));
    const latMax = niceMax(Math.max(0, ...points.map((p) => p.latency_p99 || 0)));
    const yRate = (v) => height - pad.bottom - v / rateMax * (height - pad.top - pad.bottom);
    const yLat = (v) => height - pad.bottom - v / latMax * (height - pad.top - pad.bottom);
    for (let i = 0; i <= 4; i++) {
      const y = pad.top + i * (height - pad.top - pad.bottom) / 4;
      root.appendChild(svg("line", { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: "grid" }));
      root.appendChild(svg("text", { x: pad.left - 6, y: y + 4, "text-anchor": "end" },
        fmtRate(rateMax * (4 - i) / 4)));
      root.appendChild(svg("text", { x: width - pad.right + 6, y: y + 4 },
        fmtMs(latMax * (4 - i) / 4)));
    }
    root.appendChild(svg("text", { x: pad.left, y: height - 6 }, fmtClock(start)));
    root.appendChild(svg("text", { x: width - pad.right, y: height - 6, "text-anchor": "end" }, fmtClock(now)));
    root.appendChild(svg("path", { d: path(points, x, yRate, "rows_per_second"), class: "series rate" }));
    root.appendChild(svg("path", { d: path(points, x, yLat, "latency_p50"), class: "series p50" }));
    root.appendChild(svg("path", { d: path(points, x, yLat, "latency_p99"), class: "series p99" }));
    box.replaceChildren(root);
  }

  // The decision policy: its precision/recall point on the model's precision-recall curve.
  function renderPolicyChart(p) {
    const box = $("policy-chart");
    const width = Math.max(260, box.clientWidth);
    const height = Math.max(160, box.clientHeight);
    const pad = { left: 44, right: 12, top: 8, bottom: 28 };
    const root = svg("svg", { viewBox: "0 0 " + width + " " + height, preserveAspectRatio: "none" });
    const x = (r) => pad.left + r * (width - pad.left - pad.right);
    const y = (v) => height - pad.bottom - v * (height - pad.top - pad.bottom);
    for (let i = 0; i <= 4; i++) {
      const v = i / 4;
      root.appendChild(svg("line", { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: "grid" }));
      root.appendChild(svg("text", { x: pad.left - 6, y: y(v) + 4, "text-anchor": "end" }, fmtShare(v)));
      root.appendChild(svg("text", { x: x(v), y: height - 12, "text-anchor": "middle" }, fmtShare(v)));
    }
    root.appendChild(svg("text", { x: width - pad.right, y: height - 1, "text-anchor": "end" }, "recall"));
    if (p) {
      const curve = p.model_curve || { precision: [], recall: [] };
      let d = "";
      curve.recall.forEach((r, i) => {
        d += (i ? "L" : "M") + x(r).toFixed(1) + "," + y(curve.precision[i]).toFixed(1);
      });
      root.appendChild(svg("path", { d: d, class: "curve" }));
      for (const [key, cls] of [["model_alone", "model"], ["policy", "policy"]]) {
        const point = p[key];
        if (point && point.recall !== null && point.precision !== null) {
          const dot = svg("circle", { cx: x(point.recall), cy: y(point.precision), r: 6, class: cls });
          dot.appendChild(svg("title", {}, point.name + ": precision " + fmtShare(point.precision) +
            ", recall " + fmtShare(point.recall)));
          root.appendChild(dot);
        }
      }
    }
    box.replaceChildren(root);
  }

  function renderPolicy(w) {
    const p = w.policy;
    const note = w.error ? "(" + w.error + ")" : w.updated_at ? "measured " + fmtClock(w.updated_at) : "";
    setText("policy-note", note);
    $("policy-note").className = w.error ? "small error" : "muted small";
    renderPolicyChart(p);
    if (!p) return;
    const policy = p.policy;
    setText("policy-precision", fmtShare(policy.precision));
    setText("policy-recall", fmtShare(policy.recall));
    setText("policy-flagged", fmtInt(policy.flagged.rows) + " (" + fmtShare(policy.flagged_share) + ")");
    const blocks = fmtShare(policy.block_precision) + " / " +
      (p.block_promise === null ? "-" : "≥ " + fmtShare(p.block_promise));
    setText("policy-blocks", blocks);
    $("policy-blocks").className = "num" + (p.block_promise_holds === false ? " broken" : "");
    setText("policy-budget", policy.budget_use === null ? "no budget" : fmtShare(policy.budget_use));
    const rules = (p.rules || []).map((rule) => {
      const tr = document.createElement("tr");
      tr.className = rule.enabled ? "" : "off";
      tr.appendChild(el("td", rule.name));
      tr.appendChild(el("td", rule.enabled ? rule.action : "off"));
      tr.appendChild(el("td", fmtInt(rule.hits.rows), "num"));
      tr.appendChild(el("td", fmtShare(rule.precision), "num"));
      tr.appendChild(el("td", fmtInt(rule.added_alerts.rows), "num"));
      tr.appendChild(el("td", fmtShare(rule.added_recall), "num"));
      return tr;
    });
    if (rules.length) $("rules").replaceChildren(...rules);
  }

  async function refresh() {
    try {
      const [summary, alerts, history, policy] = await Promise.all([
        getJson("/api/summary"), getJson("/api/alerts"), getJson("/api/history"),
        getJson("/api/policy"),
      ]);
      renderSummary(summary);
      renderAlerts(alerts);
      renderChart(history);
      renderPolicy(policy);
      document.body.dataset.state = summary.metrics_up ? "live" : "waiting";
    } catch (error) {
      const status = $("status");
      status.textContent = "dashboard unreachable";
      status.className = "status down";
      status.title = String(error);
      document.body.dataset.state = "error";
    } finally {
      window.setTimeout(refresh, REFRESH_MS);
    }
  }

  refresh();
})();
