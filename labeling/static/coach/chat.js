// The chat page: a conversation written turn by turn (system prompt, user and assistant turns added,
// edited, removed), the model's reply streamed in, and K replies to rank at any assistant turn. Every
// change is saved as a draft, and every call to the model saves the conversation first, so a reload
// finds all of it. Text is only ever set as textContent or a textarea's value: nothing is markup.
(function () {
  "use strict";

  const SAVE_DELAY_MS = 600;
  const ROLES = ["system", "user", "assistant"];

  function form() { return document.querySelector("[data-chat-form]"); }

  function state(f) {
    if (!f._chat) f._chat = JSON.parse(document.getElementById("chat-data").textContent);
    return f._chat;
  }

  function setStatus(f, text, error) {
    const status = f.querySelector("[data-chat-status]");
    status.textContent = text;
    status.classList.toggle("error", !!error);
  }

  function setSaveStatus(f, text, error) {
    const status = f.querySelector("[data-save-status]");
    status.textContent = text;
    status.classList.toggle("error", !!error);
  }

  function seconds(f) { return parseFloat(f.querySelector("[data-seconds]").value) || 0; }

  // A search the assistant made: its call, or the tool's result (both written by Coach, shown read-only).
  function isTool(m) { return !!m.tool_calls || m.role === "tool"; }
  function filled(m) { return isTool(m) || m.content.trim(); }

  // The conversation as the server takes it: a model turn keeps its chat_turn while its role stays, and
  // a search keeps its call and result as Coach wrote them.
  function messages(f) {
    return state(f).messages.map(function (m) {
      const out = { role: m.role, content: m.content };
      if (m.chat_turn && m.role === "assistant") out.chat_turn = m.chat_turn;
      if (m.model_draft && m.role === "assistant") out.model_draft = m.model_draft;
      ["tool_calls", "tool_call_id", "name"].forEach(function (key) { if (m[key]) out[key] = m[key]; });
      return out;
    });
  }

  function sent(f) { return messages(f).filter(filled); }

  function post(url, body, signal) {
    return fetch(url, {
      method: "POST",
      signal: signal,
      body: JSON.stringify(body),
      headers: { "X-CSRFToken": window.coachCsrf(), "Content-Type": "application/json" },
      credentials: "same-origin",
    });
  }

  function failure(response) {
    return response.json().then(function (body) {
      return body.detail || ("error " + response.status);
    }, function () { return "error " + response.status; });
  }

  function save(f) {
    clearTimeout(f._saveTimer);
    f._dirty = false;
    const edits = f._edits;
    const body = { messages: sent(f), seconds: seconds(f) };
    return post(state(f).urls.draft, body).then(function (response) {
      if (!response.ok) return failure(response).then(function (why) { setSaveStatus(f, "Not saved: " + why, true); });
      return response.json().then(function (saved) {
        if (f._edits === edits) setSaveStatus(f, "Saved at " + new Date(saved.saved_at).toLocaleTimeString());
      });
    }, function () {
      f._dirty = true;
      setSaveStatus(f, "Offline: the conversation will be saved when Coach is reachable again.", true);
    });
  }

  function changed(f) {
    f._dirty = true;
    f._edits = (f._edits || 0) + 1;
    setSaveStatus(f, "Saving…");
    clearTimeout(f._saveTimer);
    f._saveTimer = setTimeout(function () { save(f); }, SAVE_DELAY_MS);
  }

  function button(text, onClick, attr) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "quiet";
    b.textContent = text;
    if (attr) b.setAttribute(attr, "");
    b.addEventListener("click", onClick);
    return b;
  }

  // The search's call and its result go together: removing one removes both.
  function removeSearch(f, i) {
    const st = state(f);
    const start = st.messages[i].role === "tool" ? i - 1 : i;
    st.messages.splice(start, 2);
    render(f);
    changed(f);
  }

  // A turn's list item and its head row, where the role, badges and buttons go.
  function turnItem(m, i, extraClass) {
    const li = document.createElement("li");
    li.className = "chat-turn " + (extraClass ? extraClass + " " : "") + "role-" + m.role;
    li.dataset.index = i;
    const head = document.createElement("div");
    head.className = "chat-turn-head";
    li.appendChild(head);
    return [li, head];
  }

  function searchTurn(f, m, i) {
    const [li, head] = turnItem(m, i, "chat-tool");
    const label = document.createElement("span");
    label.className = "chat-badge";
    head.appendChild(label);
    head.appendChild(button("Remove the search", function () { removeSearch(f, i); }, "data-remove"));
    if (m.tool_calls) {
      label.textContent = "assistant · searches";
      const query = document.createElement("p");
      query.setAttribute("data-search-call", "");
      query.textContent = "Searched for: " + m.tool_calls[0].function.arguments.query;
      li.appendChild(query);
      return li;
    }
    label.textContent = "search results";
    let results = [];
    try { results = JSON.parse(m.content); } catch (e) { results = []; }
    const list = document.createElement("ol");
    list.className = "chat-results";
    list.setAttribute("data-search-results", "");
    results.forEach(function (r) {
      const item = document.createElement("li");
      const title = document.createElement("strong");
      title.textContent = r.title;
      const text = document.createElement("p");
      text.className = "muted";
      text.textContent = r.text.length > 300 ? r.text.slice(0, 300) + "…" : r.text;
      item.append(title, text);
      list.appendChild(item);
    });
    if (!results.length) {
      const none = document.createElement("li");
      none.textContent = "No document matched.";
      list.appendChild(none);
    }
    li.appendChild(list);
    return li;
  }

  function render(f) {
    const list = f.querySelector("[data-chat-turns]");
    const st = state(f);
    const items = st.messages.map(function (m, i) {
      if (isTool(m)) return searchTurn(f, m, i);
      const [li, head] = turnItem(m, i);
      const select = document.createElement("select");
      select.setAttribute("aria-label", "Role of turn " + (i + 1));
      select.setAttribute("data-role", "");
      ROLES.forEach(function (role) {
        const option = document.createElement("option");
        option.value = role;
        option.textContent = role;
        option.selected = role === m.role;
        select.appendChild(option);
      });
      select.addEventListener("change", function () {
        m.role = select.value;
        if (m.role !== "assistant") { delete m.chat_turn; delete m.model_draft; }
        render(f);
        changed(f);
      });
      head.appendChild(select);
      if (m.model_draft && !m.chat_turn) {
        const badge = document.createElement("span");
        badge.className = "chat-badge";
        badge.setAttribute("data-model-draft", "");
        badge.textContent = m.content === m.draft_text ? "model draft: edit it as you like" : "model draft, edited";
        head.appendChild(badge);
      }
      if (m.chat_turn) {
        const badge = document.createElement("span");
        badge.className = "chat-badge";
        badge.setAttribute("data-model-turn", "");
        badge.textContent = m.ranked
          ? "best of " + m.replies + " replies" + (m.content !== m.chosen_text ? ", edited" : "")
          : (m.content !== m.chosen_text ? "model reply, edited" : "model reply");
        head.appendChild(badge);
      }
      if (m.role === "assistant" && st.model && st.live) {
        head.appendChild(button(m.ranked ? "Ranked" : "Alternatives", function () { alternatives(f, i); }, "data-alternatives"));
        if (m.ranked && m.rank_url) {
          const a = document.createElement("a");
          a.href = m.rank_url;
          a.textContent = "Change the ranking";
          a.className = "quiet";
          head.appendChild(a);
        }
      }
      head.appendChild(button("Remove", function () {
        st.messages.splice(i, 1);
        render(f);
        changed(f);
      }, "data-remove"));
      const text = document.createElement("textarea");
      text.rows = m.role === "system" ? 2 : 4;
      text.value = m.content;
      text.setAttribute("aria-label", m.role + " turn " + (i + 1));
      text.setAttribute("data-content", "");
      text.addEventListener("input", function () {
        m.content = text.value;
        changed(f);
      });
      li.appendChild(text);
      return li;
    });
    list.replaceChildren.apply(list, items);
  }

  function add(f, role) {
    state(f).messages.push({ role: role, content: "" });
    render(f);
    const areas = f.querySelectorAll("[data-content]");
    areas[areas.length - 1].focus();
  }

  function busy(f, on) {
    f._busy = on;
    f.querySelectorAll("[data-model-reply], [data-alternatives], [data-chat-submit], [data-search]").forEach(function (b) {
      b.disabled = on;
    });
    const stop = f.querySelector("[data-stop]");
    if (stop) stop.hidden = !on;
  }

  // The model's reply, streamed into a new assistant turn as server-sent events.
  function modelReply(f) {
    const st = state(f);
    const asked = sent(f);
    if (!assistantNext(asked)) {
      setStatus(f, "The model answers a user turn (or a search's results): write the user's turn last.", true);
      return;
    }
    st.messages = st.messages.filter(filled);
    busy(f, true);
    setStatus(f, "The model is writing…");
    const controller = new AbortController();
    f._abort = controller;
    const turn = { role: "assistant", content: "" };
    let shown = false;
    post(st.urls.reply, { messages: asked, seconds: seconds(f) }, controller.signal).then(function (response) {
      if (!response.ok) return failure(response).then(function (why) { throw new Error(why); });
      st.messages.push(turn);
      shown = true;
      render(f);
      const area = f.querySelector('.chat-turn[data-index="' + (st.messages.length - 1) + '"] textarea');
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) return;
          buffer += decoder.decode(chunk.value, { stream: true });
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const line = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            if (!line.startsWith("data: ")) continue;
            const event = JSON.parse(line.slice(6));
            if (event.text) { turn.content += event.text; area.value = turn.content; }
            if (event.error) throw new Error(event.error);
            if (event.done) {
              turn.content = event.text;
              turn.chat_turn = event.turn;
              turn.chosen_text = event.text;
              turn.replies = 1;
              setStatus(f, event.finish === "time" ? "The reply was cut at the time limit." : "The model replied.");
            }
          }
          return pump();
        });
      }
      return pump();
    }).catch(function (error) {
      if (shown && !turn.chat_turn) st.messages.splice(st.messages.indexOf(turn), 1);
      setStatus(f, error.name === "AbortError" ? "Stopped." : String(error.message || error), true);
    }).finally(function () {
      busy(f, false);
      render(f);
    });
  }

  function assistantNext(list) {
    const last = list[list.length - 1];
    return !!last && (last.role === "user" || last.role === "tool");
  }

  // The assistant searches the project's documents: Coach runs the query and appends the call and its
  // result, which the assistant's next turn answers from.
  function searchDocuments(f) {
    const st = state(f);
    const input = f.querySelector("[data-search-query]");
    const asked = sent(f);
    if (!assistantNext(asked)) {
      setStatus(f, "The assistant searches before it answers: write the user's turn last.", true);
      return;
    }
    busy(f, true);
    setStatus(f, "Searching…");
    post(st.urls.search, { messages: asked, query: input.value, seconds: seconds(f) }).then(function (response) {
      if (!response.ok) return failure(response).then(function (why) { throw new Error(why); });
      return response.json().then(function (body) {
        st.messages = st.messages.filter(filled);
        st.messages.push.apply(st.messages, body.messages.slice(-2));
        input.value = "";
        f._dirty = false;
        setStatus(f, "The results are in the conversation: write the assistant's answer, or ask the model.");
      });
    }).catch(function (error) {
      setStatus(f, String(error.message || error), true);
    }).finally(function () {
      busy(f, false);
      render(f);
    });
  }

  function alternatives(f, index) {
    const st = state(f);
    const m = st.messages[index];
    if (m.ranked && m.rank_url) { window.location.href = m.rank_url; return; }
    busy(f, true);
    setStatus(f, "Sampling " + (st.k - 1) + " more replies…");
    post(st.urls.alternatives, { messages: messages(f).slice(0, index + 1), index: index, seconds: seconds(f) })
      .then(function (response) {
        if (!response.ok) return failure(response).then(function (why) { throw new Error(why); });
        return response.json().then(function (body) {
          f._dirty = false;
          window.location.href = body.rank_url;
        });
      })
      .catch(function (error) {
        setStatus(f, String(error.message || error), true);
        busy(f, false);
      });
  }

  function submit(f) {
    busy(f, true);
    clearTimeout(f._saveTimer);
    post(state(f).urls.submit, { messages: sent(f), seconds: seconds(f) }).then(function (response) {
      if (!response.ok) return failure(response).then(function (why) { throw new Error(why); });
      return response.json().then(function (body) {
        f._dirty = false;
        window.location.href = body.next;
      });
    }).catch(function (error) {
      setStatus(f, String(error.message || error), true);
      busy(f, false);
    });
  }

  function init(root) {
    const f = root.querySelector ? (root.matches && root.matches("[data-chat-form]") ? root : root.querySelector("[data-chat-form]")) : null;
    if (!f || f.dataset.ready) return;
    f.dataset.ready = "1";
    render(f);
    f.querySelectorAll("[data-add]").forEach(function (b) {
      b.addEventListener("click", function () { add(f, b.dataset.add); });
    });
    const reply = f.querySelector("[data-model-reply]");
    if (reply) reply.addEventListener("click", function () { modelReply(f); });
    const stop = f.querySelector("[data-stop]");
    if (stop) stop.addEventListener("click", function () { if (f._abort) f._abort.abort(); });
    const searchButton = f.querySelector("[data-search]");
    if (searchButton) {
      searchButton.addEventListener("click", function () { searchDocuments(f); });
      f.querySelector("[data-search-query]").addEventListener("keydown", function (event) {
        if (event.key === "Enter") { event.preventDefault(); searchDocuments(f); }
      });
    }
    f.querySelector("[data-chat-submit]").addEventListener("click", function () { submit(f); });
    if (!state(f).live) f.querySelectorAll("button, textarea, select").forEach(function (el) { el.disabled = true; });
  }

  // Leaving the page with a save pending: send it now (a fetch that outlives the page).
  window.addEventListener("pagehide", function () {
    const f = form();
    if (!f || !f._dirty) return;
    clearTimeout(f._saveTimer);
    fetch(state(f).urls.draft, {
      method: "POST",
      keepalive: true,
      body: JSON.stringify({ messages: sent(f), seconds: seconds(f) }),
      headers: { "X-CSRFToken": window.coachCsrf(), "Content-Type": "application/json" },
      credentials: "same-origin",
    });
  });

  if (window.htmx) window.htmx.onLoad(init);
  else document.addEventListener("DOMContentLoaded", function () { init(document.body); });
})();
