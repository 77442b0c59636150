/* NetShop storefront enhancements. Every page works without this file; it adds live numbers, live
   ratings, in-place "Add to cart", order progress and small conveniences. No dependencies. */
(function () {
  "use strict";
  var NS = (window.NetShop = window.NetShop || {});
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };

  function announce(text) {
    var region = document.querySelector("[data-announce]");
    if (region) { region.textContent = ""; setTimeout(function () { region.textContent = text; }, 30); }
  }
  NS.announce = announce;

  function fmt(value, digits) {
    if (value === null || value === undefined || isNaN(value)) return "—";
    return Number(value).toLocaleString("en-GB", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }
  NS.fmt = fmt;

  /* Poll while the tab is visible; a failed poll waits longer, never throws to the console. */
  function every(ms, fn) {
    var stopped = false, delay = ms;
    function tick() {
      if (stopped) return;
      if (document.hidden) { setTimeout(tick, ms); return; }
      Promise.resolve().then(fn).then(function (more) {
        delay = ms;
        if (more === false) stopped = true;
      }, function () { delay = Math.min(delay * 2, 30000); }).then(function () { if (!stopped) setTimeout(tick, delay); });
    }
    setTimeout(tick, ms);
    return function () { stopped = true; };
  }
  NS.every = every;

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error(url + " answered " + r.status);
      return r.json();
    });
  }
  NS.getJSON = getJSON;

  function post(form, accept, extraHeaders) {
    var headers = Object.assign({ Accept: accept, "Content-Type": "application/x-www-form-urlencoded" }, extraHeaders || {});
    return fetch(form.action, { method: "POST", body: new URLSearchParams(new FormData(form)), headers: headers, credentials: "same-origin" });
  }
  NS.post = post;

  function busy(button, on) {
    if (!button) return;
    button.setAttribute("aria-busy", on ? "true" : "false");
    button.disabled = !!on;
  }
  NS.busy = busy;

  /* Add to cart in place: the basket badge updates and a status message is announced. */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("[data-add-to-cart]")) return;
    event.preventDefault();
    var button = form.querySelector("button");
    busy(button, true);
    post(form, "application/json").then(function (r) {
      return r.json().then(function (body) { return { status: r.status, body: body }; });
    }).then(function (res) {
      if (res.status === 401 && res.body.signin) { window.location.assign(res.body.signin); return; }
      if (res.status !== 200) { form.submit(); return; }
      $$("[data-basket-count]").forEach(function (el) { el.textContent = res.body.count; });
      button.textContent = "Added ✓";
      announce("Added " + res.body.name + " to your basket. " + res.body.count + " items in the basket.");
      setTimeout(function () { button.textContent = "Add to cart"; }, 1600);
    }).catch(function () { form.submit(); }).then(function () { busy(button, false); });
  });

  /* Basket quantities submit on change. */
  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (form && form.matches("[data-autosubmit]") && event.target.type === "number") form.requestSubmit();
  });

  /* Live hero metrics (the console page listens to the same feed). */
  var live = document.querySelector("[data-live-state]");
  if (live) {
    every(2000, function () {
      return getJSON(live.getAttribute("data-live-state")).then(function (state) {
        var t = state.totals || {};
        $$("[data-metric]", live).forEach(function (el) {
          var key = el.getAttribute("data-metric");
          if (key === "source") el.textContent = state.source === "kubernetes-api" ? "Kubernetes API" : state.source ? "local runner" : "(unavailable)";
          else el.textContent = key === "orders" ? (t.orders == null ? "—" : t.orders) : fmt(t[key], key === "p95_ms" ? 0 : 1);
        });
        (state.zones || []).forEach(function (z) {
          $$('[data-zone-pods="' + z.name + '"]', live).forEach(function (el) { el.textContent = z.ready + "/" + z.pods; });
        });
        document.dispatchEvent(new CustomEvent("netshop:live", { detail: state }));
      });
    });
  }

  /* Live star ratings: every rating on the page follows the reviews service. */
  function paintStars(el, rating) {
    var avg = rating.average || 0, label = rating.count ? "Rated " + avg.toFixed(1) + " out of 5 from " + rating.count + " review" + (rating.count === 1 ? "" : "s") : "Not rated yet";
    if (el.getAttribute("aria-label") === label) return;
    $$(".star", el).forEach(function (star, i) {
      star.className = "star star-" + (avg >= i + 0.75 ? "full" : avg >= i + 0.25 ? "half" : "empty");
    });
    var count = el.querySelector(".rating-count");
    if (count) count.textContent = rating.count ? avg.toFixed(1) + " (" + rating.count + ")" : "New";
    el.setAttribute("aria-label", label);
    el.classList.remove("changed"); void el.offsetWidth; el.classList.add("changed");
  }
  var rated = $$("[data-rating-for]");
  if (rated.length) {
    var ids = rated.map(function (el) { return el.getAttribute("data-rating-for"); }).filter(function (v, i, a) { return a.indexOf(v) === i; });
    every(4000, function () {
      return getJSON("/live/ratings?ids=" + encodeURIComponent(ids.join(","))).then(function (body) {
        rated.forEach(function (el) {
          var r = body.ratings[el.getAttribute("data-rating-for")];
          if (r) paintStars(el, r);
        });
      });
    });
  }

  /* Order progress: the saga timeline and the workers' effects refresh until every effect is in. */
  function watchProgress(root) {
    $$("[data-progress][data-poll-url]", root).forEach(function (box) {
      var url = box.getAttribute("data-poll-url"), polls = 0, current = box;
      every(700, function () {
        if (++polls > 90 || !current.isConnected) return false;
        return fetch(url, { headers: { "X-NetShop-Fragment": "1" }, credentials: "same-origin" }).then(function (r) {
          if (!r.ok) throw new Error("progress " + r.status);
          return r.text();
        }).then(function (html) {
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var fresh = holder.querySelector("[data-progress]");
          if (!fresh) return false;
          current.replaceWith(fresh);
          current = fresh;
          if (fresh.getAttribute("data-complete") === "true") { announce("All of the order's effects are applied."); return false; }
        });
      });
    });
  }
  NS.watchProgress = watchProgress;
  watchProgress(document);

  /* Token expiry countdown on the platform page. */
  $$("[data-expires-at]").forEach(function (el) {
    var exp = Number(el.getAttribute("data-expires-at"));
    function paint() {
      var left = Math.max(0, Math.round(exp - Date.now() / 1000));
      el.textContent = left ? Math.floor(left / 60) + " min " + (left % 60) + " s" : "expired";
      el.setAttribute("datetime", "PT" + left + "S");
      return left > 0;
    }
    paint();
    var timer = setInterval(function () { if (!paint()) clearInterval(timer); }, 1000);
  });

  document.documentElement.setAttribute("data-ready", "true");
  if (window.performance && performance.mark) performance.mark("netshop-ready");
})();
