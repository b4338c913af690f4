// Demonstration and search-tool pages: autosaved drafts, pasted-text count, citation numbers.
(function () {
  "use strict";

  const SAVE_DELAY_MS = 700;

  function form() { return document.querySelector("[data-write-form]"); }

  function draftData(f) {
    const data = new FormData(f);
    data.set("picks_sent", "1");
    data.delete("query");
    data.delete("reason");
    return data;
  }

  function setStatus(f, text, error) {
    const status = f.querySelector("[data-save-status]");
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("error", !!error);
  }

  function save(f) {
    clearTimeout(f._saveTimer);
    f._dirty = false;
    const sent = f._edits;
    return fetch(f.dataset.draftUrl, {
      method: "POST",
      body: draftData(f),
      headers: { "X-CSRFToken": window.coachCsrf() },
      credentials: "same-origin",
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) {
          setStatus(f, "Not saved: " + (body.detail || response.status), true);
          return;
        }
        if (f._edits === sent) {
          const at = new Date(body.saved_at);
          setStatus(f, "Draft saved at " + at.toLocaleTimeString());
        }
      });
    }, function () {
      f._dirty = true;
      setStatus(f, "Offline: the draft will be saved when Coach is reachable again.", true);
    });
  }

  function scheduleSave(f) {
    f._dirty = true;
    f._edits = (f._edits || 0) + 1;
    setStatus(f, "Saving…");
    clearTimeout(f._saveTimer);
    f._saveTimer = setTimeout(function () { save(f); }, SAVE_DELAY_MS);
  }

  function renumber(f) {
    let n = 0;
    f.querySelectorAll("[data-pick]").forEach(function (box) {
      const ref = box.parentElement.querySelector("[data-ref]");
      if (box.checked) { n += 1; ref.textContent = "[" + n + "]"; } else { ref.textContent = ""; }
      box.closest("li").classList.toggle("picked", box.checked);
    });
  }

  function init(root) {
    const f = root.matches && root.matches("[data-write-form]") ? root : root.querySelector("[data-write-form]");
    if (!f) {
      // Search results arrive as fragments into an existing form.
      const page = form();
      if (page) renumber(page);
      return;
    }
    if (f.dataset.ready) return;
    f.dataset.ready = "1";
    const reply = f.querySelector("[data-reply]");
    const pasted = f.querySelector("[data-pasted]");
    renumber(f);
    reply.addEventListener("input", function () { scheduleSave(f); });
    reply.addEventListener("paste", function (event) {
      const text = (event.clipboardData || window.clipboardData).getData("text") || "";
      pasted.value = (parseInt(pasted.value, 10) || 0) + text.length;
    });
    f.addEventListener("change", function (event) {
      if (event.target.matches("[data-pick]")) { renumber(f); scheduleSave(f); }
    });
    if (root.id === "task") window.scrollTo(0, 0);
    reply.focus({ preventScroll: true });
  }

  // Leaving or hiding the page: send what is unsaved, even as the page goes away.
  function flush() {
    const f = form();
    if (f && f._dirty && navigator.sendBeacon) {
      const data = draftData(f);
      data.set("csrfmiddlewaretoken", window.coachCsrf());
      navigator.sendBeacon(f.dataset.draftUrl, data);
      f._dirty = false;
    }
  }
  window.addEventListener("pagehide", flush);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") flush();
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    const f = form();
    // Submitting, skipping or releasing supersedes any pending autosave.
    if (f && f.contains(event.detail.elt) && event.detail.elt.matches("form, [data-skip-button], [formaction]")) {
      clearTimeout(f._saveTimer);
      f._dirty = false;
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.elt.matches("[data-search-button]") && event.detail.successful) {
      const steps = document.querySelectorAll("#searches .search-step");
      const last = steps[steps.length - 1];
      const status = document.getElementById("search-status");
      if (status) status.replaceChildren();
      if (last) last.scrollIntoView({ block: "nearest" });
    }
  });

  // Reading a search result in full: the document arrives in the reading dialog, which opens over the page.
  document.addEventListener("htmx:afterSwap", function (event) {
    const target = event.detail.target;
    if (target && target.id === "document-view" && !target.open) {
      target.showModal();
      target.scrollTop = 0;
    }
  });
  document.addEventListener("click", function (event) {
    const dialog = document.getElementById("document-view");
    if (!dialog || !event.target.closest) return;
    const pick = event.target.closest("[data-pick-document]");
    if (pick) {
      const box = document.querySelector('[data-pick][value="' + pick.dataset.pickDocument + '"]');
      if (box && !box.checked) {
        box.checked = true;
        box.dispatchEvent(new Event("change", { bubbles: true }));
      }
    }
    if (pick || event.target.closest("[data-close-document]") || event.target === dialog) dialog.close();
  });

  document.addEventListener("keydown", function (event) {
    const f = form();
    if (!f) return;
    if (event.key === "Enter" && event.target.matches("[data-search-input]")) {
      event.preventDefault();
      f.querySelector("[data-search-button]").click();
    } else if (event.key === "Enter" && event.target.matches("[data-skip-reason]")) {
      event.preventDefault();
      f.querySelector("[data-skip-button]").click();
    } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      f.requestSubmit();
    }
  });

  if (window.htmx) window.htmx.onLoad(init);
})();
