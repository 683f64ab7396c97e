// Live updates for the ops console: every few seconds the page's live region (#live, data-live = its URL) is
// fetched again and swapped in, unless someone is typing in it. Without this script the pages work the same,
// with a reload.
(function () {
  "use strict";
  var EVERY_MS = 5000;
  function busy(region) {
    var active = document.activeElement;
    if (active && region.contains(active) && /^(TEXTAREA|INPUT|SELECT|BUTTON)$/.test(active.tagName)) return true;
    var fields = region.querySelectorAll("textarea, input[type=text]");
    for (var i = 0; i < fields.length; i++) if (fields[i].value) return true;
    return false;
  }
  function refresh(region) {
    if (document.hidden || busy(region)) return;
    fetch(region.getAttribute("data-live"), {credentials: "same-origin", headers: {"X-Console-Live": "1"}})
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null || busy(region)) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
        if (fresh && fresh.innerHTML !== region.innerHTML) {
          region.innerHTML = fresh.innerHTML;
          region.setAttribute("data-refreshed", new Date().toISOString());
        }
      })
      .catch(function () { /* the next tick tries again */ });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var region = document.getElementById("live");
    if (region && region.getAttribute("data-live")) setInterval(function () { refresh(region); }, EVERY_MS);
  });
})();
