// The blind A/B page: pick the better answer (or a tie) by keyboard, radio or the bar on a narrow screen.
// The radios hold the truth; the keys, the bar and the highlight only follow them. Every change is saved
// to the server as a draft (the choice and the reason), so a reload or a lost connection loses nothing.
(function () {
  "use strict";

  const SAVE_DELAY_MS = 600;
  const KEYS = {
    a: "left", ArrowLeft: "left", 1: "left",
    t: "tie", "=": "tie", 2: "tie",
    b: "right", ArrowRight: "right", 3: "right",
  };
  const LABELS = { left: "A is better", right: "B is better", tie: "About the same" };

  function form() { return document.querySelector("[data-evaluate-form]"); }
  function shortcuts(f) { return f.querySelector("[data-shortcuts]"); }
  function choice(f) {
    const checked = f.querySelector('input[name="choice"]:checked');
    return checked ? checked.value : "";
  }

  function render(f) {
    const picked = choice(f);
    f.querySelectorAll("[data-side]").forEach(function (side) {
      const mine = side.dataset.side;
      side.classList.toggle("chosen", picked === mine);
      side.classList.toggle("tied", picked === "tie");
      side.querySelector("[data-side-mark]").textContent =
        picked === mine ? "better" : picked === "tie" ? "tie" : "";
    });
    f.querySelectorAll("[data-pick]").forEach(function (button) {
      button.setAttribute("aria-pressed", button.dataset.pick === picked ? "true" : "false");
    });
    const status = f.querySelector("[data-status]");
    status.classList.remove("error");
    status.textContent = picked ? LABELS[picked] + ". Enter submits." : "Choose A, B or a tie.";
  }

  function setSaveStatus(f, text, error) {
    const status = f.querySelector("[data-save-status]");
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("error", !!error);
  }

  function draftData(f) {
    const data = new FormData(f);
    data.delete("reason"); // the skip's reason
    return data;
  }

  function saveDraft(f) {
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
        if (!response.ok) setSaveStatus(f, "Not saved: " + (body.detail || response.status), true);
        else if (f._edits === sent) setSaveStatus(f, "Draft saved at " + new Date(body.saved_at).toLocaleTimeString());
      });
    }, function () {
      f._dirty = true;
      setSaveStatus(f, "Offline: your vote will be saved when Coach is reachable again.", true);
    });
  }

  function changed(f) {
    render(f);
    if (!f.dataset.draftUrl) return;
    f._dirty = true;
    f._edits = (f._edits || 0) + 1;
    setSaveStatus(f, "Saving…");
    clearTimeout(f._saveTimer);
    f._saveTimer = setTimeout(function () { saveDraft(f); }, SAVE_DELAY_MS);
  }

  function pick(f, value) {
    const radio = f.querySelector('input[name="choice"][value="' + value + '"]');
    if (!radio) return;
    radio.checked = true;
    changed(f);
  }

  function ready(f) {
    if (choice(f)) return true;
    const status = f.querySelector("[data-status]");
    status.textContent = "Choose A, B or a tie first.";
    status.classList.add("error");
    return false;
  }

  function toggleShortcuts(f) {
    const dialog = shortcuts(f);
    if (dialog.open) dialog.close();
    else dialog.showModal();
  }

  function init(root) {
    const f = root.matches && root.matches("[data-evaluate-form]") ? root : root.querySelector("[data-evaluate-form]");
    if (!f || f.dataset.ready) return;
    f.dataset.ready = "1";
    render(f);
    f.addEventListener("change", function (event) {
      if (event.target.matches('input[name="choice"]')) changed(f);
    });
    f.querySelector("[data-reason]").addEventListener("input", function () { changed(f); });
    f.querySelectorAll("[data-pick]").forEach(function (button) {
      button.addEventListener("click", function () { pick(f, button.dataset.pick); });
    });
    f.querySelector("[data-shortcuts-open]").addEventListener("click", function () { toggleShortcuts(f); });
    const dialog = shortcuts(f);
    dialog.querySelector("[data-shortcuts-close]").addEventListener("click", function () { dialog.close(); });
    dialog.addEventListener("click", function (event) { if (event.target === dialog) dialog.close(); });
    if (root.id === "task" || root === document.body) {
      window.scrollTo(0, 0);
      const active = document.activeElement;
      if (active && active !== document.body && f.contains(active)) active.blur();
    }
  }

  // Only the vote's own submit is checked here; skip and release have their own buttons.
  document.addEventListener("htmx:confirm", function (event) {
    const f = form();
    if (!f || event.detail.elt !== f) return;
    if (!ready(f)) event.preventDefault();
  });
  // Also without htmx, or before htmx has taken over a form just swapped in: never send a vote unchosen.
  document.addEventListener("submit", function (event) {
    const f = form();
    if (!f || event.target !== f) return;
    if (event.submitter && event.submitter.hasAttribute("formaction")) return;
    if (!ready(f)) event.preventDefault();
  });

  document.addEventListener("keydown", function (event) {
    const f = form();
    if (!f || event.altKey || event.metaKey) return;
    const target = event.target;
    const tag = target.tagName;
    const typing = tag === "TEXTAREA" || tag === "SELECT" ||
      (tag === "INPUT" && !["radio", "checkbox"].includes(target.type));
    const dialog = shortcuts(f);
    if (dialog.open) {
      if (event.key === "?") { event.preventDefault(); dialog.close(); }
      return; // Esc closes the dialog by itself; nothing else acts behind it
    }
    if (typing) {
      if (event.key === "Escape") {
        target.blur();
        f.querySelectorAll("[data-skip][open]").forEach(function (d) { d.open = false; });
      } else if (event.key === "Enter" && event.ctrlKey && target.matches("[data-reason]")) {
        event.preventDefault();
        f.requestSubmit();
      } else if (event.key === "Enter" && target.matches("[data-skip-reason]")) {
        event.preventDefault();
        f.querySelector("[data-skip-button]").click();
      }
      return;
    }
    if (event.ctrlKey) return;
    const key = event.key;
    if (key === "?") {
      event.preventDefault();
      toggleShortcuts(f);
    } else if (Object.prototype.hasOwnProperty.call(KEYS, key) && !event.shiftKey) {
      event.preventDefault();
      pick(f, KEYS[key]);
    } else if (key === "r") {
      event.preventDefault();
      f.querySelector("[data-reason]").focus();
    } else if (key === "s") {
      event.preventDefault();
      const skip = f.querySelector("[data-skip]");
      skip.open = true;
      skip.querySelector("[data-skip-reason]").focus();
    } else if (key === "Escape") {
      f.querySelectorAll("[data-skip][open]").forEach(function (d) { d.open = false; });
    } else if (key === "Enter") {
      if (tag === "BUTTON" || tag === "SUMMARY" || tag === "A") return; // native
      event.preventDefault();
      f.requestSubmit();
    }
  });

  window.coachKeepDrafts(form, draftData, saveDraft);

  if (window.htmx) window.htmx.onLoad(init);
  else document.addEventListener("DOMContentLoaded", function () { init(document.body); });
})();
