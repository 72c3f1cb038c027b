// The VOD watch page's video: hls.js in VOD mode (no low latency) from the edge the
// control plane picks, a quality menu, a seek bar with sprite thumbnails on hover.
// `?edge=NAME` asks for that edge instead of the routed one (tests, operators).
"use strict";

(() => {
  const vodId = document.body.dataset.vod;
  const path = encodeURIComponent(vodId);
  const video = document.getElementById("video");
  const quality = document.getElementById("quality");
  const seek = document.getElementById("seek");
  const preview = document.getElementById("preview");
  const previewTime = document.getElementById("preview-time");
  const clock = document.getElementById("clock");
  const statusLine = document.getElementById("status");
  const state = { hls: null, cues: [], duration: 0, dragging: false };
  window.glasscastVod = state; // for tests and the curious

  function clockText(seconds) {
    const whole = Math.max(0, Math.floor(seconds || 0));
    const hours = Math.floor(whole / 3600);
    const mm = String(Math.floor((whole % 3600) / 60));
    const ss = String(whole % 60).padStart(2, "0");
    return hours ? `${hours}:${mm.padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
  }

  async function getJson(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    return response.json();
  }

  async function start() {
    statusLine.textContent = "loading…";
    let vod;
    let play;
    try {
      vod = await getJson(`/api/v1/vods/${path}`);
      const edge = new URLSearchParams(location.search).get("edge");
      const query = edge ? `?edge=${encodeURIComponent(edge)}` : "";
      play = await getJson(`/api/v1/vods/${path}/play${query}`);
    } catch (error) {
      statusLine.textContent = `this recording is not available (${error.message})`;
      return;
    }
    state.vod = vod;
    state.play = play;
    describe(vod, play);
    if (vod.thumbnails_vtt_path) loadThumbnails(new URL(vod.thumbnails_vtt_path, play.url).href);
    document.dispatchEvent(new CustomEvent("glasscast:vod", { detail: vod }));
    if (window.Hls && Hls.isSupported()) {
      startHls(play.url);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = play.url; // Safari plays HLS itself
      statusLine.textContent = "";
    } else {
      statusLine.textContent = "this browser cannot play HLS";
    }
  }

  function describe(vod, play) {
    const when = vod.ended_at ? new Date(vod.ended_at).toLocaleString() : "";
    document.getElementById("title").textContent = `${vod.channel} · ${when}`;
    document.title = `${vod.channel} (recording) · Glasscast`;
    const channel = document.getElementById("channel");
    channel.textContent = vod.channel;
    channel.href = `/watch/${encodeURIComponent(vod.channel)}`;
    state.duration = vod.duration_seconds || 0;
    seek.max = String(state.duration);
    if (vod.mp4_path) {
      const download = document.getElementById("download");
      download.href = new URL(vod.mp4_path, play.url).href;
      download.hidden = false;
    }
  }

  function startHls(url) {
    const hls = new Hls({ lowLatencyMode: false, backBufferLength: 60 });
    state.hls = hls;
    glasscastQuality.attach(quality, hls);
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      statusLine.textContent = "";
      video.play().catch(() => {});
    });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal) return;
      statusLine.textContent = `playback problem (${data.details})`;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
      else if (data.type === Hls.ErrorTypes.NETWORK_ERROR) hls.startLoad();
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  }

  async function loadThumbnails(trackUrl) {
    try {
      state.cues = await GlasscastThumbs.load(trackUrl);
    } catch (error) {
      console.warn("no scrubbing thumbnails", error);
    }
  }

  function timeAt(event) {
    const box = seek.getBoundingClientRect();
    const fraction = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    return fraction * state.duration;
  }

  function showPreview(time, x) {
    const cue = GlasscastThumbs.at(state.cues, time);
    previewTime.textContent = clockText(time);
    if (cue) {
      preview.style.width = `${cue.w}px`;
      preview.style.height = `${cue.h}px`;
      preview.style.backgroundImage = `url("${cue.url}")`;
      preview.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
    }
    preview.classList.toggle("bare", !cue);
    preview.style.left = `${x}px`;
    preview.hidden = false;
  }

  seek.addEventListener("pointermove", (event) => {
    const box = seek.getBoundingClientRect();
    showPreview(timeAt(event), event.clientX - box.left);
  });
  seek.addEventListener("pointerleave", () => { preview.hidden = true; });
  seek.addEventListener("input", () => { state.dragging = true; });
  seek.addEventListener("change", () => {
    video.currentTime = Number(seek.value);
    state.dragging = false;
  });

  function tick() {
    const duration = Number.isFinite(video.duration) ? video.duration : state.duration;
    if (duration && String(duration) !== seek.max) {
      state.duration = duration;
      seek.max = String(duration);
    }
    if (!state.dragging) seek.value = String(video.currentTime);
    clock.textContent = `${clockText(video.currentTime)} / ${clockText(state.duration)}`;
  }

  video.addEventListener("timeupdate", tick);
  start();
})();
