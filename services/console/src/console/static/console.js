// Live first-response countdowns: the server renders the text; this only keeps it moving. No build step.
(function () {
  "use strict";
  function span(seconds) {
    var s = Math.floor(Math.abs(seconds));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) return d + " d " + h + " h";
    if (h) return h + " h " + m + " min " + (s % 60) + " s";
    if (m) return m + " min " + (s % 60) + " s";
    return (s % 60) + " s";
  }
  function tick() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var left = (Date.parse(el.getAttribute("data-countdown")) - Date.now()) / 1000;
      if (left > 0 && el.getAttribute("data-due-state") === "running") {
        el.textContent = span(left) + " left";
      } else {
        el.textContent = "overdue by " + span(left);
        el.setAttribute("data-due-state", "overdue");
        el.classList.remove("running");
        el.classList.add("overdue");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
  });
})();
