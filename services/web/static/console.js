/* Cluster console: live graph colours and traffic, and the control deck (trace, order, burst, scale). */
(function () {
  "use strict";
  var NS = window.NetShop;
  var root = document.querySelector("[data-console]");
  if (!root || !NS) return;
  var $$ = function (sel, el) { return Array.prototype.slice.call((el || document).querySelectorAll(sel)); };
  var SVG = "http://www.w3.org/2000/svg";
  var HEALTH = ["health-up", "health-down", "health-degraded", "health-unknown"];

  function setZoneClass(el, zones) {
    el.className.baseVal.split(" ").filter(function (c) { return /^zone-\d+$/.test(c); }).forEach(function (c) { el.classList.remove(c); });
    if (zones.length === 1 && zones[0] >= 0) el.classList.add("zone-" + zones[0]);
  }

  document.addEventListener("netshop:live", function (event) {
    var state = event.detail;
    Object.keys(state.nodes || {}).forEach(function (name) {
      var info = state.nodes[name];
      var node = root.querySelector('[data-node="' + name + '"]');
      if (node) {
        HEALTH.forEach(function (c) { node.classList.remove(c); });
        node.classList.add("health-" + info.health);
        var zones = info.pods.map(function (p) { return p.zone_index; }).filter(function (v, i, a) { return a.indexOf(v) === i; });
        setZoneClass(node, zones);
        var rps = node.querySelector("[data-node-rps]");
        if (rps && info.rps !== null && info.rps !== undefined) rps.textContent = NS.fmt(info.rps, 1) + " rps";
        var pods = node.querySelector("[data-pods]");
        if (pods) {
          while (pods.firstChild) pods.removeChild(pods.firstChild);
          info.pods.forEach(function (p, i) {
            var c = document.createElementNS(SVG, "circle");
            c.setAttribute("class", "pod zone-" + p.zone_index + (p.ready ? "" : " pod-down"));
            c.setAttribute("cx", i * 9); c.setAttribute("cy", 0); c.setAttribute("r", 3.2);
            pods.appendChild(c);
          });
        }
      }
      var row = root.querySelector('[data-row="' + name + '"]');
      if (row) {
        var h = row.querySelector("[data-health]");
        h.textContent = info.health; h.className = "health health-" + info.health;
        $$("[data-zone-replicas]", row).forEach(function (cell) {
          var z = cell.getAttribute("data-zone-replicas");
          var mine = info.pods.filter(function (p) { return p.zone === z; });
          cell.textContent = mine.filter(function (p) { return p.ready; }).length + "/" + mine.length;
        });
        row.querySelector('[data-cell="rps"]').textContent = NS.fmt(info.rps, 1);
        row.querySelector('[data-cell="p95_ms"]').textContent = NS.fmt(info.p95_ms, 0);
        row.querySelector('[data-cell="error_rate"]').textContent = NS.fmt((info.error_rate || 0) * 100, 1) + "%";
      }
    });
    (state.zones || []).forEach(function (z) {
      var bar = root.querySelector('[data-zone="' + z.name + '"]');
      if (!bar) return;
      bar.querySelector("[data-zone-meter]").value = z.share;
      bar.querySelector("[data-zone-rps]").textContent = NS.fmt(z.rps, 1);
      bar.querySelector("[data-zone-ready]").textContent = z.ready;
      bar.querySelector("[data-zone-pods-total]").textContent = z.pods;
    });
    var t = state.totals || {};
    $$("[data-total]", root).forEach(function (el) {
      var k = el.getAttribute("data-total");
      el.textContent = k === "orders" ? (t.orders == null ? "—" : t.orders) : NS.fmt(t[k], k === "p95_ms" ? 0 : 1);
    });
    var badge = root.querySelector("[data-source]");
    if (badge) {
      badge.textContent = state.source === "kubernetes-api" ? "Live data from the Kubernetes API" : state.source ? "Live data from the local runner" : "Live data unavailable";
      badge.className = "source-badge source-" + (state.source || "none");
    }
  });

  var result = root.querySelector("[data-deck-result]");
  var graph = root.querySelector("[data-graph]");

  /* Send trace: light the request's path hop by hop, in the order its spans started. */
  function animateTrace(box) {
    var hops = JSON.parse(box.getAttribute("data-hops") || "[]");
    $$(".lit", graph).forEach(function (el) { el.classList.remove("lit"); });
    graph.setAttribute("data-trace", "running");
    hops.forEach(function (hop, i) {
      setTimeout(function () {
        [hop.from, hop.to].forEach(function (n) {
          var node = graph.querySelector('[data-node="' + n + '"]');
          if (node) node.classList.add("lit");
        });
        var link = graph.querySelector('[data-link="' + hop.from + "--" + hop.to + '"]');
        if (link) { link.classList.add("lit"); link.setAttribute("marker-end", "url(#arrow-lit)"); }
        var item = box.querySelector('[data-hop="' + i + '"]');
        if (item) item.classList.add("lit");
        if (i === hops.length - 1) {
          graph.setAttribute("data-trace", "done");
          NS.announce("Trace path lit: " + hops.length + " hops.");
        }
      }, 350 * (i + 1));
    });
    if (!hops.length) graph.setAttribute("data-trace", "done");
  }

  function showFragment(html) {
    result.innerHTML = html;
    var trace = result.querySelector("[data-trace]");
    if (trace) animateTrace(trace);
    NS.watchProgress(result);
  }

  /* Load burst: bounded chunks, one BFF call each, with a progress bar. */
  function runBurst(form, button) {
    var total = Number(form.elements.count.value), chunk = 50, sent = 0;
    var progress = form.querySelector("[data-burst-progress]");
    var agg = { ok: 0, failed: 0, ms: 0, p95: 0, statuses: {} };
    progress.hidden = false; progress.max = total; progress.value = 0;
    result.innerHTML = '<p data-burst-status>Sending ' + total + " requests…</p>";
    function next() {
      if (sent >= total) return Promise.resolve();
      var n = Math.min(chunk, total - sent);
      var body = new URLSearchParams(new FormData(form));
      body.set("count", n);
      return fetch(form.action, { method: "POST", body: body, credentials: "same-origin",
        headers: { Accept: "application/json", "Content-Type": "application/x-www-form-urlencoded" } })
        .then(function (r) { if (!r.ok) throw new Error("burst " + r.status); return r.json(); })
        .then(function (r) {
          sent += r.count; agg.ok += r.ok; agg.failed += r.failed; agg.ms += r.elapsed_ms; agg.p95 = Math.max(agg.p95, r.p95_ms || 0);
          Object.keys(r.statuses).forEach(function (s) { agg.statuses[s] = (agg.statuses[s] || 0) + r.statuses[s]; });
          progress.value = sent;
          result.querySelector("[data-burst-status]").textContent = "Sent " + sent + " of " + total + " requests…";
          return next();
        });
    }
    return next().then(function () {
      var p = document.createElement("p");
      p.setAttribute("data-burst-result", "");
      var statuses = Object.keys(agg.statuses).map(function (s) { return s + " × " + agg.statuses[s]; }).join(", ");
      p.textContent = "Load burst done: " + sent + " requests — " + agg.ok + " ok, " + agg.failed + " failed, " +
        NS.fmt(sent / (agg.ms / 1000), 1) + " rps, p95 " + NS.fmt(agg.p95, 0) + " ms. Statuses: " + statuses + ".";
      result.innerHTML = ""; result.appendChild(p);
    });
  }

  root.addEventListener("submit", function (event) {
    var form = event.target;
    var kind = form.getAttribute("data-deck");
    if (!kind) return;
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    NS.busy(button, true);
    var work = kind === "burst" ? runBurst(form, button) :
      NS.post(form, "text/html", { "X-NetShop-Fragment": "1" }).then(function (r) { return r.text(); }).then(showFragment);
    work.catch(function (err) {
      result.textContent = "The control deck could not reach the console: " + err.message + ".";
    }).then(function () { NS.busy(button, false); });
  });
})();
