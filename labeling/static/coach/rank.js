// The ranking page: tiers by keyboard or drag and drop. The tier <select> of each answer holds the
// truth; the board of chips and the keyboard only change those selects. Every change is saved to the
// server as a draft (placements, ratings, flags), so a reload or a lost connection loses nothing.
(function () {
  "use strict";

  const SAVE_DELAY_MS = 600;

  function form() { return document.querySelector("[data-rank-form]"); }
  function cards(f) { return Array.from(f.querySelectorAll(".candidate")); }
  function cardOf(f, id) { return f.querySelector('.candidate[data-candidate="' + id + '"]'); }
  function selectOf(card) { return card.querySelector("[data-tier-select]"); }

  function currentCard(f) {
    const active = document.activeElement;
    const card = active && active.closest ? active.closest(".candidate") : null;
    return card && f.contains(card) ? card : null;
  }

  // The answer the labeler was on, even while the focus is in the side panel (the skip reason).
  function lastCard(f) {
    return currentCard(f) || (f._lastCard && f.contains(f._lastCard) ? f._lastCard : null);
  }

  // Moving to an answer closes the flags left open on any other one.
  function focusCard(card) {
    if (!card) return;
    card.closest("form").querySelectorAll(".flags[open]").forEach(function (details) {
      if (!card.contains(details)) details.open = false;
    });
    card.closest("form")._lastCard = card;
    card.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest", behavior: "auto" });
  }

  // Esc: close what is open (flags, the skip panel) and go back to the answer.
  function closePanels(f, card) {
    f.querySelectorAll(".flags[open], [data-skip][open]").forEach(function (d) { d.open = false; });
    focusCard(card || cards(f)[0]);
  }

  function shortcuts(f) { return f.querySelector("[data-shortcuts]"); }

  function toggleShortcuts(f) {
    const dialog = shortcuts(f);
    if (!dialog) return;
    if (dialog.open) dialog.close();
    else dialog.showModal();
  }

  // The bar that keeps the ranking and Submit on screen on a narrow screen: tier by tier, in a line.
  function renderBar(f, unplaced) {
    const bar = f.querySelector("[data-bar-board]");
    if (!bar) return;
    const byTier = {};
    cards(f).forEach(function (card) {
      const tier = selectOf(card).value;
      if (tier) (byTier[tier] = byTier[tier] || []).push(card);
    });
    const parts = [];
    Object.keys(byTier).sort(function (a, b) { return a - b; }).forEach(function (tier) {
      const group = document.createElement("span");
      group.className = "bar-tier";
      const number = document.createElement("b");
      number.textContent = tier;
      group.appendChild(number);
      byTier[tier].forEach(function (card) {
        const chip = document.createElement("button");
        chip.type = "button";
        chip.className = "bar-chip";
        chip.textContent = card.dataset.letter;
        chip.setAttribute("aria-label", "Answer " + card.dataset.letter + ", tier " + tier);
        chip.addEventListener("click", function () { focusCard(card); });
        group.appendChild(chip);
      });
      parts.push(group);
    });
    const left = document.createElement("span");
    left.className = "bar-left";
    left.textContent = unplaced ? unplaced + " to place" : "all placed";
    parts.push(left);
    bar.replaceChildren.apply(bar, parts);
  }

  function render(f) {
    const all = cards(f);
    let unplaced = 0;
    all.forEach(function (card) {
      const tier = selectOf(card).value;
      const chip = f.querySelector('[data-chip="' + card.dataset.candidate + '"]');
      const lane = f.querySelector('.chips[data-tier="' + tier + '"]');
      if (chip && lane && chip.parentElement !== lane) lane.appendChild(chip);
      card.classList.toggle("placed", tier !== "");
      if (!tier) unplaced += 1;
      const flags = card.querySelectorAll('.flags input[type="checkbox"]:checked').length;
      const count = card.querySelector("[data-flag-count]");
      if (count) count.textContent = flags ? "(" + flags + ")" : "";
    });
    // Sort chips inside each tier by letter so the board reads calmly.
    f.querySelectorAll(".chips").forEach(function (lane) {
      Array.from(lane.children)
        .sort(function (a, b) { return a.textContent.localeCompare(b.textContent); })
        .forEach(function (chip) { lane.appendChild(chip); });
    });
    const status = f.querySelector("[data-status]");
    const allBad = f.querySelector("[data-all-bad]").checked;
    if (status) {
      status.classList.remove("error");
      if (unplaced === 0) status.textContent = "Every answer is placed. Enter submits.";
      else if (allBad && unplaced === all.length) status.textContent = "All answers are bad: Enter submits them as one tie.";
      else status.textContent = unplaced + " of " + all.length + " answers not placed yet.";
    }
    renderBar(f, unplaced);
    return unplaced;
  }

  function setSaveStatus(f, text, error) {
    const status = f.querySelector("[data-save-status]");
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("error", !!error);
  }

  function draftData(f) {
    const data = new FormData(f);
    data.delete("reason");
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
        if (!response.ok) {
          setSaveStatus(f, "Not saved: " + (body.detail || response.status), true);
        } else if (f._edits === sent) {
          setSaveStatus(f, "Draft saved at " + new Date(body.saved_at).toLocaleTimeString());
        }
      });
    }, function () {
      f._dirty = true;
      setSaveStatus(f, "Offline: your ranking will be saved when Coach is reachable again.", true);
    });
  }

  // The labeler changed something: show it, and save it shortly after (one request per burst of keys).
  function changed(f) {
    render(f);
    if (!f.dataset.draftUrl) return;
    f._dirty = true;
    f._edits = (f._edits || 0) + 1;
    setSaveStatus(f, "Saving…");
    clearTimeout(f._saveTimer);
    f._saveTimer = setTimeout(function () { saveDraft(f); }, SAVE_DELAY_MS);
  }

  function setTier(f, card, tier) {
    selectOf(card).value = tier;
    changed(f);
  }

  function readyToSubmit(f) {
    const unplaced = render(f);
    const allBad = f.querySelector("[data-all-bad]").checked;
    if (unplaced === 0 || (allBad && unplaced === cards(f).length)) return true;
    const status = f.querySelector("[data-status]");
    status.textContent = allBad
      ? "Place every answer, or none of them when all are bad."
      : "Place every answer first: " + unplaced + " left.";
    status.classList.add("error");
    focusCard(cards(f).find(function (c) { return !selectOf(c).value; }));
    return false;
  }

  function init(root) {
    const f = root.matches && root.matches("[data-rank-form]") ? root : root.querySelector("[data-rank-form]");
    if (!f || f.dataset.ready) return;
    f.dataset.ready = "1";
    render(f);
    // Sortable also fires a bubbling "change" on its lists mid-drag: only form controls count here.
    f.addEventListener("change", function (event) {
      if (event.target.matches("[data-skip-reason]")) return;
      if (event.target.matches("input, select")) changed(f);
    });
    f.querySelectorAll(".chip").forEach(function (chip) {
      chip.addEventListener("click", function () { focusCard(cardOf(f, chip.dataset.chip)); });
    });
    if (window.Sortable) {
      f.querySelectorAll(".chips").forEach(function (lane) {
        window.Sortable.create(lane, {
          group: "tiers",
          animation: 120,
          ghostClass: "chip-ghost",
          onAdd: function (event) {
            const card = cardOf(f, event.item.dataset.chip);
            if (card) setTier(f, card, event.to.dataset.tier);
          },
        });
      });
    }
    const open = f.querySelector("[data-shortcuts-open]");
    if (open) open.addEventListener("click", function () { toggleShortcuts(f); });
    const dialog = shortcuts(f);
    if (dialog) {
      dialog.querySelector("[data-shortcuts-close]").addEventListener("click", function () { dialog.close(); });
      dialog.addEventListener("click", function (event) { if (event.target === dialog) dialog.close(); });
    }
    const first = cards(f).find(function (c) { return !selectOf(c).value; }) || cards(f)[0];
    if (root.id === "task" || root === document.body) {
      window.scrollTo(0, 0);
      if (first) first.focus({ preventScroll: true });
    }
  }

  // Only the ranking's own submit is checked here; skip and release have their own buttons.
  document.addEventListener("htmx:confirm", function (event) {
    const f = form();
    if (!f || event.detail.elt !== f) return;
    if (!readyToSubmit(f)) event.preventDefault();
  });
  document.addEventListener("submit", function (event) {
    const f = form();
    if (!f || event.target !== f || window.htmx) return;
    if (event.submitter && event.submitter.hasAttribute("formaction")) return;
    if (!readyToSubmit(f)) event.preventDefault();
  });

  document.addEventListener("keydown", function (event) {
    const f = form();
    if (!f || event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target;
    const tag = target.tagName;
    const typing = tag === "TEXTAREA" || tag === "SELECT" ||
      (tag === "INPUT" && !["radio", "checkbox"].includes(target.type));
    const dialog = shortcuts(f);
    if (dialog && dialog.open) {
      if (event.key === "?") { event.preventDefault(); dialog.close(); }
      return; // Esc closes the dialog by itself; nothing else acts behind it
    }
    if (event.key === "?" && !typing) {
      event.preventDefault();
      toggleShortcuts(f);
      return;
    }
    if (typing) {
      if (event.key === "Escape") { target.blur(); closePanels(f, lastCard(f)); }
      if (event.key === "Enter" && target.matches("[data-skip-reason]")) {
        event.preventDefault();
        f.querySelector("[data-skip-button]").click();
      }
      return;
    }
    const all = cards(f);
    const card = currentCard(f);
    const index = card ? all.indexOf(card) : -1;
    const key = event.key;
    if (key === "Escape") {
      event.preventDefault();
      closePanels(f, card);
    } else if (key === "ArrowDown" || key === "j") {
      event.preventDefault();
      focusCard(all[Math.min(all.length - 1, index + 1)]);
    } else if (key === "ArrowUp" || key === "k") {
      event.preventDefault();
      focusCard(all[Math.max(0, index - 1)]);
    } else if (event.shiftKey && /^Digit[1-7]$/.test(event.code)) {
      if (!card) return;
      event.preventDefault();
      const radio = card.querySelector('input[type="radio"][value="' + event.code.slice(5) + '"]');
      if (radio) { radio.checked = true; changed(f); }
    } else if (/^[1-9]$/.test(key) && !event.shiftKey) {
      if (!card || parseInt(key, 10) > all.length) return;
      event.preventDefault();
      setTier(f, card, key);
      if (index < all.length - 1) focusCard(all[index + 1]);
    } else if (key === "0" || key === "Backspace" || key === "Delete") {
      if (!card) return;
      event.preventDefault();
      setTier(f, card, "");
    } else if (key === "f" && card) {
      event.preventDefault();
      const details = card.querySelector(".flags");
      details.open = true;
      details.querySelector("input").focus();
    } else if (key === "x") {
      event.preventDefault();
      const box = f.querySelector("[data-all-bad]");
      box.checked = !box.checked;
      changed(f);
    } else if (key === "s" && f.querySelector("[data-skip]")) {
      event.preventDefault();
      const skip = f.querySelector("[data-skip]");
      skip.open = true;
      skip.querySelector("[data-skip-reason]").focus();
    } else if (key === "Enter") {
      if (tag === "INPUT" || tag === "BUTTON" || tag === "SUMMARY" || tag === "A") return; // native
      event.preventDefault();
      f.requestSubmit();
    }
  });

  window.coachKeepDrafts(form, draftData, saveDraft);

  if (window.htmx) window.htmx.onLoad(init);
  else document.addEventListener("DOMContentLoaded", function () { init(document.body); });
})();
