// Keeps a page's live region (#live) current: refresh() fetches the page
// again (header X-Dashboard-Live: 1 returns only the region) and swaps it
// in unless the user is busy with a form in it. A timer calls refresh()
// now; an event stream (the gateway's SSE, when present) can call
// window.blossomRefresh() on each new block instead.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !live.dataset.refresh) { return; }
  function busy() {
    var a = document.activeElement;
    if (a && live.contains(a) && /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(a.tagName)) { return true; }
    var fields = live.querySelectorAll("input, textarea, select");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === "file" && f.files && f.files.length) { return true; }
      if ((f.type === "checkbox" || f.type === "radio") && f.checked !== f.defaultChecked) { return true; }
      if (f.tagName === "SELECT") {
        // Without a selected attribute a list starts at its first option.
        var initial = 0;
        for (var j = 0; j < f.options.length; j++) { if (f.options[j].defaultSelected) { initial = j; } }
        if (f.options.length && f.selectedIndex !== initial) { return true; }
      } else if (f.type !== "checkbox" && f.type !== "radio" && f.type !== "file" && f.value !== f.defaultValue) { return true; }
    }
    return false;
  }
  // Polling stops after ten minutes without input, so that the
  // gateway's idle timeout still ends an abandoned session.
  var lastInput = Date.now();
  ["keydown", "mousedown", "scroll", "touchstart"].forEach(function (e) {
    document.addEventListener(e, function () { lastInput = Date.now(); }, { passive: true });
  });
  var inFlight = false;
  function refresh() {
    if (inFlight || document.hidden || busy() || Date.now() - lastInput > 600000) { return; }
    inFlight = true;
    var url = location.pathname + location.search.replace(/([?&])flash=[^&]*&?/, "$1");
    fetch(url, { headers: { "X-Dashboard-Live": "1" }, credentials: "same-origin", redirect: "error" })
      .then(function (r) {
        if (!r.ok) { return null; }
        var hash = r.headers.get("X-Dashboard-Hash");
        if (hash && hash === live.dataset.hash) { return null; }
        return r.text().then(function (html) { return { html: html, hash: hash }; });
      })
      .then(function (next) {
        if (next && !busy()) { live.innerHTML = next.html; live.dataset.hash = next.hash || ""; }
      })
      .catch(function () {})
      .then(function () { inFlight = false; });
  }
  window.blossomRefresh = refresh;
  setInterval(refresh, Math.max(500, parseInt(live.dataset.refresh, 10) || 5000));
})();
