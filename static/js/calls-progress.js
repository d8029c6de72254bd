/* The progress of a call-type analysis, followed without reloading the page: every two seconds the page asks
   for progress.json and moves the bar; when the analysis has ended it loads the page once, which then shows
   the results (or what went wrong). Without this script, the page refreshes itself (a meta refresh). */
(function () {
  "use strict";
  var box = document.getElementById("analysis-progress");
  if (!box || !window.fetch) {
    return;
  }
  var bar = document.getElementById("progress-bar");
  var words = document.getElementById("progress-words");
  var url = box.getAttribute("data-progress-url");
  function number(value) {
    return Number(value || 0).toLocaleString("en-US");
  }
  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (!state) {
          window.setTimeout(poll, 5000);
          return;
        }
        if (state.status === "done" || state.status === "failed") {
          window.location.reload();
          return;
        }
        if (state.status === "running" && state.stage === "reading") {
          words.textContent = "About " + number(state.rows_read) + " of about " + number(state.rows_estimated) + " rows read.";
          if (state.progress !== null) {
            bar.value = Math.round(state.progress * 100);
          }
        } else if (state.stage === "preparing") {
          words.textContent = "Preparing the file (decompressing or converting it to UTF-8).";
        }
        window.setTimeout(poll, 2000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  /* The page refreshes itself only without script (the meta refresh is in a noscript). */
  window.setTimeout(poll, 1000);
}());
