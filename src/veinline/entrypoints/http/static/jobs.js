// A job's progress on its page: ask the server for the job's status every second, show
// it, and reload the page once the job has finished (the page then shows the result).
// Served from this origin (the Content-Security-Policy allows no other script).
(function () {
  "use strict";
  var box = document.querySelector("[data-job-status]");
  if (!box) {
    return;
  }
  var url = box.getAttribute("data-job-status");
  var bar = box.querySelector("progress");
  var message = box.querySelector("[data-job-message]");
  var percent = box.querySelector("[data-job-percent]");
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (job) {
        if (job === null) {
          return;
        }
        if (job.finished) {
          window.location.reload();
          return;
        }
        bar.value = job.progress;
        bar.textContent = Math.round(job.progress * 100) + "%";
        message.textContent = job.message;
        percent.textContent = Math.round(job.progress * 100);
        window.setTimeout(poll, 1000);
      })
      .catch(function () {
        window.setTimeout(poll, 3000);
      });
  }
  window.setTimeout(poll, 1000);
})();
