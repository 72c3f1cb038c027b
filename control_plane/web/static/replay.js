// Chat replay beside a VOD: a message appears when the playhead passes its offset
// from the broadcast's start. Pages of `/api/v1/vods/{id}/chat?after=` are fetched
// just ahead of the playhead (a page at a time, so a hot room's hour is never held
// whole); a seek, or the playhead outrunning the fetches, starts a new window a
// little before the playhead so exactly the messages said before it show.
"use strict";

(() => {
  const vodId = document.body.dataset.vod;
  const video = document.getElementById("video");
  const list = document.getElementById("messages");
  const AHEAD = 10; // seconds of chat fetched beyond the playhead
  const BACKLOG = 30; // seconds of chat shown before the playhead after a jump
  const PAGE = 200;
  const MAX_SHOWN = 150; // older lines leave the panel
  const state = {
    windowStart: -1, // messages with offset > windowStart are held
    fetchedTo: -1, // every message up to this offset is held (after windowStart)
    done: false, // the server has nothing after fetchedTo
    pending: [], // fetched, not shown yet, by offset
    lastShown: -Infinity,
    generation: 0, // bumped by a reset so a late page of an old window is dropped
    fetching: false,
  };
  window.glasscastReplay = state; // for tests and the curious

  function reset(time) {
    state.generation += 1;
    state.windowStart = Math.max(-1, time - BACKLOG);
    state.fetchedTo = state.windowStart;
    state.done = false;
    state.pending = [];
    state.lastShown = -Infinity;
    state.fetching = false;
    list.replaceChildren();
  }

  async function fetchPage() {
    const generation = state.generation;
    state.fetching = true;
    try {
      const query = `after=${state.fetchedTo}&limit=${PAGE}`;
      const response = await fetch(`/api/v1/vods/${encodeURIComponent(vodId)}/chat?${query}`);
      if (!response.ok) throw new Error(`chat replay answered ${response.status}`);
      const body = await response.json();
      if (generation !== state.generation) return;
      const messages = body.messages || [];
      state.pending.push(...messages);
      if (messages.length) state.fetchedTo = messages[messages.length - 1].offset_seconds;
      state.done = messages.length < PAGE;
    } catch (error) {
      console.warn("chat replay unavailable", error);
      if (generation === state.generation) state.done = true;
    } finally {
      if (generation === state.generation) state.fetching = false;
    }
    // Straight on to the next page while the playhead is ahead of what is held.
    if (generation === state.generation) tick();
  }

  function render(message) {
    const item = document.createElement("li");
    item.dataset.id = message.id;
    item.dataset.offset = String(message.offset_seconds);
    const who = document.createElement("span");
    who.className = "who";
    who.style.color = message.color || "";
    who.textContent = message.name;
    const text = document.createElement("span");
    text.textContent = message.content;
    item.append(who, text);
    return item;
  }

  function tick() {
    const time = video.currentTime;
    const jumpedAhead = !state.done && time > state.fetchedTo + AHEAD;
    if (time < state.lastShown || time < state.windowStart || jumpedAhead) reset(time);
    let due = 0;
    while (due < state.pending.length && state.pending[due].offset_seconds <= time) due += 1;
    const behind = !state.done && state.fetchedTo < time;
    if (behind && due > MAX_SHOWN) {
      // Catching up after a jump: only the newest lines can still be shown.
      state.pending.splice(0, due - MAX_SHOWN);
      due = MAX_SHOWN;
    }
    if (due && !behind) {
      const shown = state.pending.splice(0, due);
      const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
      list.append(...shown.slice(-MAX_SHOWN).map(render));
      while (list.childElementCount > MAX_SHOWN) list.firstElementChild.remove();
      state.lastShown = shown[shown.length - 1].offset_seconds;
      if (atBottom) list.scrollTop = list.scrollHeight;
    }
    const wanted = state.fetchedTo < time + AHEAD && state.pending.length < PAGE;
    if (!state.done && !state.fetching && wanted) fetchPage();
  }

  video.addEventListener("seeking", () => {
    reset(video.currentTime);
    tick();
  });
  video.addEventListener("timeupdate", tick);
  setInterval(tick, 250); // timeupdate fires only every ~250 ms, and not while paused
})();
