// Tidings console: the only script, loaded from 'self' (the pages' CSP
// allows nothing else). It polls an export's progress and updates the bar.
"use strict";
(function () {
  function poll(box) {
    var url = box.getAttribute("data-progress");
    var state = document.getElementById("export-state");
    var bar = document.getElementById("export-bar");
    var count = document.getElementById("export-count");
    var err = document.getElementById("export-error");
    var done = document.getElementById("export-done");
    var link = document.getElementById("export-download");
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (p) {
          if (p.error) { err.textContent = p.error; err.hidden = false; return; }
          state.textContent = p.state;
          bar.value = p.percent;
          bar.textContent = p.percent + "%";
          count.textContent = p.exported + " of " + p.total + " messages (" + p.percent + "%)";
          if (p.error_message) { err.textContent = p.error_message; err.hidden = false; }
          if (p.download) { link.href = p.download; done.hidden = false; }
          if (!p.done) { setTimeout(tick, 1000); }
        })
        .catch(function () { setTimeout(tick, 3000); });
    }
    tick();
  }
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("export");
    if (box && box.getAttribute("data-progress")) { poll(box); }
  });
})();
