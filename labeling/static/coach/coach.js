// Shared behaviour of Coach pages: the time-on-task clock, lease renewal, and error notices.
(function () {
  "use strict";

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }
  window.coachCsrf = csrfToken;

  // A task page whose form autosaves as a draft (`form()` finds it, `f.dataset.draftUrl` names where):
  // when the page goes away or is hidden, send what is unsaved as it goes; back online, save it; a
  // submit, skip or release supersedes a pending draft.
  window.coachKeepDrafts = function (form, draftData, saveDraft) {
    function flush() {
      const f = form();
      if (f && f._dirty && f.dataset.draftUrl && navigator.sendBeacon) {
        clearTimeout(f._saveTimer);
        navigator.sendBeacon(f.dataset.draftUrl, draftData(f));
        f._dirty = false;
      }
    }
    window.addEventListener("pagehide", flush);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") flush();
    });
    window.addEventListener("online", function () {
      const f = form();
      if (f && f._dirty && f.dataset.draftUrl) saveDraft(f);
    });
    document.addEventListener("htmx:beforeRequest", function (event) {
      const f = form();
      if (f && f.contains(event.detail.elt)) {
        clearTimeout(f._saveTimer);
        f._dirty = false;
      }
    });
  };

  function flash(text, kind) {
    const box = document.getElementById("flash");
    if (!box) return;
    const p = document.createElement("p");
    p.className = "flash " + (kind || "info");
    p.setAttribute("role", kind === "error" ? "alert" : "status");
    p.textContent = text;
    box.replaceChildren(p);
  }
  window.coachFlash = flash;

  // A refusal worded for the API ("the lease on this task has expired") as a sentence a person reads.
  function sentence(text) {
    text = String(text || "").trim();
    if (!text) return text;
    text = text.charAt(0).toUpperCase() + text.slice(1);
    return /[.!?…:]$/.test(text) ? text : text + ".";
  }

  // Seconds on task count only while the page is visible; they live in the form's hidden input,
  // so a draft (and a reload) carries them on.
  function formatClock(seconds) {
    const m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
    return m + ":" + String(s).padStart(2, "0");
  }
  setInterval(function () {
    if (document.visibilityState !== "visible") return;
    document.querySelectorAll("[data-seconds]").forEach(function (input) {
      const value = (parseFloat(input.value) || 0) + 1;
      input.value = value.toFixed(0);
      const form = input.form;
      const clock = form && form.querySelector("[data-clock]");
      if (clock) clock.textContent = formatClock(value);
    });
  }, 1000);

  // Keep the lease while the labeler works: renew at a third of its length, while the page is seen.
  let lastRenew = Date.now();
  setInterval(function () {
    const task = document.querySelector("#task[data-renew-url]");
    if (!task || document.visibilityState !== "visible") return;
    const every = Math.min(300, Math.max(20, parseInt(task.dataset.leaseSeconds, 10) / 3)) * 1000;
    if (Date.now() - lastRenew < every) return;
    lastRenew = Date.now();
    fetch(task.dataset.renewUrl, {
      method: "POST",
      headers: { "X-CSRFToken": csrfToken() },
      credentials: "same-origin",
    }).then(function (response) {
      if (!response.ok) {
        response.json().then(function (body) {
          flash(sentence(body && body.detail) || "The lease on this task could not be renewed.", "error");
        }, function () {});
      }
    }, function () { flash("Coach cannot be reached; your work is kept in this page.", "error"); });
  }, 5000);

  // A tab row wider than the screen scrolls sideways: when the current tab is out of sight, scroll
  // just far enough to show it (with the tab after it, so the row reads as one that goes on).
  function showCurrentTabs() {
    document.querySelectorAll(".tabs, .segmented").forEach(function (bar) {
      const current = bar.querySelector('[aria-current="page"]');
      if (!current) return;
      const end = current.offsetLeft + current.offsetWidth + 48;
      bar.scrollLeft = end > bar.clientWidth ? end - bar.clientWidth : 0;
    });
  }
  showCurrentTabs();
  window.addEventListener("resize", showCurrentTabs);

  document.addEventListener("htmx:responseError", function (event) {
    flash("The server answered " + event.detail.xhr.status + ". Try again in a moment.", "error");
  });
  document.addEventListener("htmx:sendError", function () {
    flash("Coach cannot be reached. Nothing was lost: try again when the network is back.", "error");
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    const target = event.detail.target;
    if (target && target.id === "task") {
      // A new task: start the counters from the fresh page, and read it from the top.
      lastRenew = Date.now();
      const box = document.getElementById("flash");
      if (box) box.replaceChildren();
    }
  });
})();
