// Keeps a page's live region (#live) current: refresh() fetches the page
// again (header X-Dashboard-Live: 1 returns only the region) and swaps it
// in unless the user is busy with a form in it. With data-events the
// region follows the gateway's event stream (Server-Sent Events): one
// refresh per new block, and one when the stream (re)opens. Without a
// stream (none offered, refused, or ended by the gateway) a timer polls
// every data-refresh ms. window.blossomRefresh() refreshes on demand.
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
  // Updates stop after ten minutes without input (the stream closes), so
  // that the gateway's idle timeout still ends an abandoned session;
  // input opens the stream again.
  var lastInput = Date.now();
  function idle() { return Date.now() - lastInput > 600000; }
  var inFlight = false;
  // stale: a refresh was due but had to wait (one in flight or started
  // less than a second ago, the page hidden or the user busy); the
  // catch-up timer retries it. At most one refresh a second keeps a busy
  // channel from spending the user's rate limit at the gateway.
  var stale = false;
  var lastStart = 0;
  function refresh() {
    if (inFlight || Date.now() - lastStart < 1000 || document.hidden || busy() || idle()) { stale = true; return; }
    stale = false;
    inFlight = true;
    lastStart = Date.now();
    var url = location.pathname + location.search.replace(/([?&])flash=[^&]*&?/, "$1");
    fetch(url, { headers: { "X-Dashboard-Live": "1" }, credentials: "same-origin", redirect: "error" })
      .then(function (r) {
        if (!r.ok) { return null; }
        var hash = r.headers.get("X-Dashboard-Hash");
        if (hash && hash === live.dataset.hash) { return null; }
        return r.text().then(function (html) { return { html: html, hash: hash }; });
      })
      .then(function (next) {
        if (!next) { return; }
        if (busy()) { stale = true; return; }
        live.innerHTML = next.html;
        live.dataset.hash = next.hash || "";
      })
      .catch(function () {})
      .then(function () { inFlight = false; });
  }
  window.blossomRefresh = refresh;

  var stream = null;
  function closeStream(state) {
    if (stream) { stream.close(); stream = null; }
    live.dataset.stream = state;
  }
  function openStream() {
    if (stream || !live.dataset.events || !window.EventSource) { return; }
    stream = new EventSource(live.dataset.events);
    live.dataset.stream = "connecting";
    stream.onopen = function () { live.dataset.stream = "open"; refresh(); };
    stream.addEventListener("block", refresh);
    // The gateway ends the stream (shutdown, peer gone, account
    // disabled): fall back to polling rather than reconnect.
    stream.addEventListener("close", function () { closeStream("ended"); });
    stream.onerror = function () {
      if (stream && stream.readyState === EventSource.CLOSED) { closeStream("refused"); } else { live.dataset.stream = "connecting"; }
    };
  }
  ["keydown", "mousedown", "scroll", "touchstart"].forEach(function (e) {
    document.addEventListener(e, function () {
      var wasIdle = idle();
      lastInput = Date.now();
      if (wasIdle && live.dataset.stream === "idle") { openStream(); refresh(); }
    }, { passive: true });
  });
  window.addEventListener("pagehide", function () { closeStream("closed"); });
  window.addEventListener("pageshow", function (e) { if (e.persisted) { openStream(); refresh(); } });
  openStream();
  setInterval(function () {
    if (idle() && stream) { closeStream("idle"); }
    if (stale) { refresh(); }
  }, 1000);
  setInterval(function () {
    if (live.dataset.stream !== "open") { refresh(); }
  }, Math.max(500, parseInt(live.dataset.refresh, 10) || 5000));
})();
