// The watch page's chat panel: history, live messages in seq order (duplicates
// dropped by id), sending, and moderation buttons for moderators.
"use strict";

(() => {
  const channel = document.body.dataset.channel;
  const path = encodeURIComponent(channel);
  const list = document.getElementById("messages");
  const notice = document.getElementById("notice");
  const joinForm = document.getElementById("join");
  const composeForm = document.getElementById("compose");
  const tokenKey = `glasscast.chat.${channel}`;
  const MAX_SHOWN = 500;
  const PRIVILEGED = new Set(["moderator", "broadcaster", "operator"]);
  const shown = new Map(); // message id -> <li>
  let socket = null;
  let you = { name: "", role: "viewer" };
  let lastSeq = null;
  let backoff = 1000;

  function savedToken() {
    try {
      const saved = JSON.parse(localStorage.getItem(tokenKey) || "null");
      if (saved && saved.expires_at * 1000 > Date.now()) return saved.token;
    } catch (error) { /* a corrupt entry is no token */ }
    localStorage.removeItem(tokenKey);
    return null;
  }

  function socketUrl() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const params = new URLSearchParams();
    const token = savedToken();
    if (token) params.set("token", token);
    if (lastSeq !== null) params.set("last_seq", String(lastSeq));
    const query = params.toString();
    return `${scheme}://${location.host}/api/v1/chat/${path}${query ? `?${query}` : ""}`;
  }

  function connect() {
    socket = new WebSocket(socketUrl());
    socket.addEventListener("open", () => { backoff = 1000; });
    socket.addEventListener("message", (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch (error) { return; }
      handle(frame);
    });
    socket.addEventListener("close", (event) => {
      socket = null;
      if (event.code === 4401 || event.code === 4403) {
        localStorage.removeItem(tokenKey); // expired or for another room: read-only again
        system(`chat sign-in ended (${event.reason || event.code}); join again to write`);
      }
      const delay = event.code === 1008 ? 0 : backoff; // dropped for being slow: catch up now
      backoff = Math.min(backoff * 2, 15000);
      setTimeout(connect, delay);
    });
  }

  function handle(frame) {
    switch (frame.type) {
      case "batch": frame.messages.forEach(handle); break;
      case "history": frame.messages.forEach(handle); break;
      case "chat_message": addMessage(frame); break;
      case "message_deleted": removeMessage(frame.id); break;
      case "room_state": roomState(frame); break;
      case "user_banned":
        system(frame.until ? `${frame.user} was timed out` : `${frame.user} was banned`);
        break;
      case "user_unbanned": system(`${frame.user} may chat again`); break;
      case "notice": showNotice(frame.message); break;
      case "error": {
        const wait = frame.retry_after ? ` (try again in ${Math.ceil(frame.retry_after)} s)` : "";
        system(`${frame.message}${wait}`, "error");
        break;
      }
      default: break; // pong, room_updated, and types from newer servers
    }
  }

  function roomState(state) {
    if (state.you) {
      you = state.you;
      const writer = you.role !== "viewer";
      joinForm.hidden = writer;
      composeForm.hidden = !writer;
    }
    const modes = [];
    if (state.slow_mode > 0) modes.push(`slow mode: one message every ${state.slow_mode} s`);
    if (state.emote_only) modes.push("emote-only mode");
    if (modes.length) showNotice(modes.join(" · "));
    else if (!state.you) notice.hidden = true;
  }

  function showNotice(text) {
    notice.textContent = text;
    notice.hidden = false;
  }

  function addMessage(message) {
    if (shown.has(message.id)) return;
    const item = renderMessage(message);
    shown.set(message.id, item);
    lastSeq = lastSeq === null ? message.seq : Math.max(lastSeq, message.seq);
    // Usually the newest; a late one goes before the first message after it.
    let after = list.lastElementChild;
    while (after && Number(after.dataset.seq) > message.seq) after = after.previousElementSibling;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.insertBefore(item, after ? after.nextSibling : list.firstChild);
    while (list.children.length > MAX_SHOWN) {
      const oldest = list.firstElementChild;
      shown.delete(oldest.dataset.id);
      oldest.remove();
    }
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function renderMessage(message) {
    const item = document.createElement("li");
    item.dataset.id = message.id || "";
    item.dataset.seq = String(message.seq ?? Number.MAX_SAFE_INTEGER);
    const who = document.createElement("span");
    who.className = "who";
    who.style.color = message.user.color;
    who.textContent = message.user.name;
    item.append(who, ...renderContent(message.content, message.emotes || []));
    if (PRIVILEGED.has(you.role) && message.user.name !== you.name) {
      item.append(
        modButton("delete", { type: "delete_message", id: message.id }),
        modButton("10 min", { type: "timeout", user: message.user.name, seconds: 600 }),
        modButton("ban", { type: "ban", user: message.user.name }),
      );
    }
    return item;
  }

  // Emote ranges count code points, as Array.from does.
  function renderContent(content, emotes) {
    const chars = Array.from(content);
    const parts = [];
    let at = 0;
    for (const emote of [...emotes].sort((a, b) => a.start - b.start)) {
      if (emote.start < at) continue;
      parts.push(document.createTextNode(chars.slice(at, emote.start).join("")));
      const span = document.createElement("span");
      span.className = "emote";
      span.title = emote.code;
      span.textContent = chars.slice(emote.start, emote.end).join("");
      parts.push(span);
      at = emote.end;
    }
    parts.push(document.createTextNode(chars.slice(at).join("")));
    return parts;
  }

  function modButton(label, command) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "mod";
    button.textContent = label;
    button.addEventListener("click", () => send(command));
    return button;
  }

  function removeMessage(id) {
    const item = shown.get(id);
    if (item) item.remove();
    shown.delete(id);
  }

  function system(text, kind = "system") {
    const item = document.createElement("li");
    item.className = kind;
    item.dataset.seq = String(lastSeq ?? 0);
    item.textContent = text;
    list.append(item);
    list.scrollTop = list.scrollHeight;
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
    else system("not connected yet", "error");
  }

  joinForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = document.getElementById("name").value.trim();
    const response = await fetch("/api/v1/chat/token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ channel, name }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      system(body.detail || `could not join (${response.status})`, "error");
      return;
    }
    localStorage.setItem(tokenKey, JSON.stringify(body));
    if (socket) socket.close(1000, "signing in"); // reconnects with the token
  });

  composeForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("content");
    const content = input.value.trim();
    if (!content) return;
    send({ type: "chat_message", content });
    input.value = "";
  });

  connect();
})();
