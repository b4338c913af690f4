// The review page. Comparing: keys accept and go on, choose a submission (1-9) and accept, reject or
// edit it. Editing a ranking: the tier <select> of each answer holds the truth, as on the ranking page;
// the board of chips (drag and drop) and the keys only change those selects.
(function () {
  "use strict";

  function typingIn(target) {
    const tag = target.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" ||
      (tag === "INPUT" && !["radio", "checkbox"].includes(target.type));
  }

  function closePanels(root) {
    root.querySelectorAll("details[open]").forEach(function (d) { d.open = false; });
  }

  // --- comparing ---------------------------------------------------------------------------------

  function compare(page) {
    page.dataset.ready = "1";
    const items = Array.from(page.querySelectorAll("[data-submission]"));
    let chosen = items.length === 1 ? "1" : null;

    function choose(number) {
      if (!page.querySelector('[data-submission="' + number + '"]')) return;
      chosen = number;
      page.querySelectorAll("[data-submission], [data-column]").forEach(function (el) {
        const mine = (el.dataset.submission || el.dataset.column) === number;
        el.classList.toggle("chosen", mine);
      });
    }
    if (chosen) choose(chosen);

    function chosenItem() {
      return chosen ? page.querySelector('[data-submission="' + chosen + '"]') : null;
    }

    function follow(selector) {
      const link = document.querySelector(selector);
      if (link) window.location.assign(link.href);
    }

    document.addEventListener("keydown", function (event) {
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      const target = event.target;
      if (typingIn(target)) {
        if (event.key === "Escape") { closePanels(page); target.blur(); }
        return;
      }
      const key = event.key;
      const item = chosenItem();
      if (key === "a") {
        const form = page.querySelector("[data-accept-next]");
        if (form) { event.preventDefault(); form.requestSubmit(); }
      } else if (key === "n") {
        event.preventDefault();
        follow("[data-next-link]");
      } else if (key === "q") {
        event.preventDefault();
        follow("[data-queue-link]");
      } else if (/^[1-9]$/.test(key)) {
        event.preventDefault();
        choose(key);
      } else if (key === "y" && item) {
        const accept = item.querySelector("[data-accept]");
        if (accept) { event.preventDefault(); accept.click(); }
      } else if (key === "x" && item) {
        const panel = item.querySelector("[data-reject-panel]");
        if (panel) {
          event.preventDefault();
          panel.open = true;
          panel.querySelector("[data-reject-reason]").focus();
        }
      } else if (key === "e" && item) {
        const edit = item.querySelector("[data-edit]");
        const inline = page.querySelector('[data-column="' + chosen + '"] [data-edit-panel]');
        if (edit) {
          event.preventDefault();
          window.location.assign(edit.href);
        } else if (inline) {
          event.preventDefault();
          inline.open = true;
          inline.querySelector("textarea").focus();
        }
      } else if (key === "Escape") {
        closePanels(page);
      }
    });
  }

  // --- editing a ranking -------------------------------------------------------------------------

  function edit(f) {
    function cards() { return Array.from(f.querySelectorAll(".candidate")); }
    function cardOf(id) { return f.querySelector('.candidate[data-candidate="' + id + '"]'); }
    function selectOf(card) { return card.querySelector("[data-tier-select]"); }
    function current() {
      const active = document.activeElement;
      const card = active && active.closest ? active.closest(".candidate") : null;
      return card && f.contains(card) ? card : null;
    }
    function focusCard(card) {
      if (!card) return;
      card.focus({ preventScroll: true });
      card.scrollIntoView({ block: "nearest" });
    }

    function render() {
      let unplaced = 0;
      cards().forEach(function (card) {
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
      f.querySelectorAll(".chips").forEach(function (lane) {
        Array.from(lane.children)
          .sort(function (a, b) { return a.textContent.localeCompare(b.textContent); })
          .forEach(function (chip) { lane.appendChild(chip); });
      });
      const status = f.querySelector("[data-status]");
      const allBad = f.querySelector("[data-all-bad]").checked;
      status.classList.remove("error");
      if (unplaced === 0) status.textContent = "Every answer is placed. Enter saves.";
      else if (allBad && unplaced === cards().length) status.textContent = "All answers are bad: Enter saves them as one tie.";
      else status.textContent = unplaced + " of " + cards().length + " answers not placed yet.";
      return unplaced;
    }

    function setTier(card, tier) {
      selectOf(card).value = tier;
      render();
    }

    function ready() {
      const unplaced = render();
      const allBad = f.querySelector("[data-all-bad]").checked;
      if (unplaced === 0 || (allBad && unplaced === cards().length)) return true;
      const status = f.querySelector("[data-status]");
      status.textContent = "Place every answer first: " + unplaced + " left.";
      status.classList.add("error");
      focusCard(cards().find(function (c) { return !selectOf(c).value; }));
      return false;
    }

    render();
    f.addEventListener("change", function (event) {
      if (event.target.matches("input, select")) render();
    });
    f.addEventListener("submit", function (event) {
      if (!ready()) event.preventDefault();
    });
    f.querySelectorAll(".chip").forEach(function (chip) {
      chip.addEventListener("click", function () { focusCard(cardOf(chip.dataset.chip)); });
    });
    if (window.Sortable) {
      f.querySelectorAll(".chips").forEach(function (lane) {
        window.Sortable.create(lane, {
          group: "tiers",
          animation: 120,
          ghostClass: "chip-ghost",
          onAdd: function (event) {
            const card = cardOf(event.item.dataset.chip);
            if (card) setTier(card, event.to.dataset.tier);
          },
        });
      });
    }
    const first = cards()[0];
    if (first) first.focus({ preventScroll: true });
    f.dataset.ready = "1";

    document.addEventListener("keydown", function (event) {
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      const target = event.target;
      if (typingIn(target)) {
        if (event.key === "Escape") {
          const open = target.closest("details");
          if (open) open.open = false;
          target.blur();
          focusCard(current() || cards()[0]);
        }
        return;
      }
      const all = cards();
      const card = current();
      const index = card ? all.indexOf(card) : -1;
      const key = event.key;
      if (key === "Escape") {
        const open = f.querySelector("details[open]");
        if (open) {
          event.preventDefault();
          open.open = false;
          focusCard(open.closest(".candidate"));
        }
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
        if (radio) { radio.checked = true; render(); }
      } else if (/^[1-9]$/.test(key) && !event.shiftKey) {
        if (!card || parseInt(key, 10) > all.length) return;
        event.preventDefault();
        setTier(card, key);
        if (index < all.length - 1) focusCard(all[index + 1]);
      } else if (key === "0" || key === "Backspace" || key === "Delete") {
        if (!card) return;
        event.preventDefault();
        setTier(card, "");
      } else if (key === "f" && card) {
        event.preventDefault();
        const details = card.querySelector(".flags");
        details.open = true;
        details.querySelector("input").focus();
      } else if (key === "Enter") {
        const tag = target.tagName;
        if (tag === "INPUT" || tag === "BUTTON" || tag === "SUMMARY" || tag === "A") return; // native
        event.preventDefault();
        f.requestSubmit();
      }
    });
  }

  const editing = document.querySelector("[data-review-edit]");
  if (editing) edit(editing);
  else {
    const page = document.querySelector("[data-review]");
    if (page) compare(page);
  }
})();
