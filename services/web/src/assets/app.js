// nl dashboard: live rows over SSE. No framework; served from the binary.
// The server pushes the filtered rows as HTML it rendered (and escaped); rows whose asset is new flash.
(function () {
  "use strict";
  var box = document.getElementById("listing");
  var badge = document.getElementById("live");
  if (!box || !window.EventSource) { return; }
  var url = box.getAttribute("data-live");
  var rows = document.getElementById("rows");
  var seen = new Set();
  // Rows keep their highlight for a few seconds, through the re-renders that follow (an enrichment, a decision).
  var fresh = new Map();
  var FRESH_MS = 5000;
  function remember() {
    seen = new Set(Array.prototype.map.call(rows.querySelectorAll("tr[data-id]"), function (tr) { return tr.getAttribute("data-id"); }));
  }
  remember();
  var es = new EventSource(url);
  es.addEventListener("open", function () { badge.textContent = "● live"; badge.className = "live on"; });
  es.addEventListener("error", function () { badge.textContent = "○ reconnecting"; badge.className = "live"; });
  es.addEventListener("stale", function () { badge.textContent = "● live (ledger unreadable)"; });
  es.addEventListener("rows", function (e) {
    var before = seen, now = Date.now();
    rows.innerHTML = e.data;
    fresh.forEach(function (at, id) { if (now - at >= FRESH_MS) { fresh.delete(id); } });
    rows.querySelectorAll("tr[data-id]").forEach(function (tr) {
      var id = tr.getAttribute("data-id");
      if (!before.has(id)) { fresh.set(id, now); }
      if (fresh.has(id)) { tr.className = "new"; }
    });
    remember();
    box.setAttribute("data-mark", e.lastEventId);
    var count = document.querySelector("h1 .count");
    if (count) { count.textContent = rows.querySelectorAll("tr[data-id]").length + " shown"; }
  });
})();
