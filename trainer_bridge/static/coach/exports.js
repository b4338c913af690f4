// The exports page: show the options of the chosen export kind only, and follow unfinished exports.
(function () {
  "use strict";

  document.querySelectorAll("[data-export-form]").forEach(function (form) {
    const kind = form.querySelector("[data-export-kind]");
    function sync() {
      form.querySelectorAll("[data-for-kind]").forEach(function (options) {
        options.hidden = options.dataset.forKind !== kind.value;
      });
    }
    kind.addEventListener("change", sync);
    sync();
  });

  // Poll each unfinished export once a second until it is done or failed.
  document.querySelectorAll(".export-job").forEach(function (row) {
    if (row.dataset.status === "done" || row.dataset.status === "failed") return;
    function poll() {
      fetch(row.dataset.statusUrl, { credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (job) {
          row.querySelector("progress").value = job.progress;
          row.querySelector(".job-status").textContent = job.status;
          row.querySelector(".job-rows").textContent = job.rows_done + " / " + job.rows_total + " rows";
          row.querySelector(".job-error").textContent = job.error;
          row.dataset.status = job.status;
          if (job.status === "done") {
            const cell = row.querySelector(".job-file");
            const link = document.createElement("a");
            link.href = job.download_url;
            link.textContent = job.file_name;
            cell.replaceChildren(link, document.createTextNode(" " + job.rows_written + " records"));
          } else if (job.status !== "failed") {
            setTimeout(poll, 1000);
          }
        })
        .catch(function () { setTimeout(poll, 3000); });
    }
    poll();
  });
})();
