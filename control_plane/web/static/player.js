// The watch page's video: hls.js in low-latency mode, a quality menu, the latency
// behind live, the viewer count, and seeking back through the DVR window.
"use strict";

(() => {
  const channel = document.body.dataset.channel;
  const path = encodeURIComponent(channel);
  const video = document.getElementById("video");
  const quality = document.getElementById("quality");
  const latency = document.getElementById("latency");
  const statusLine = document.getElementById("status");
  const dvr = document.getElementById("dvr");
  const seek = document.getElementById("seek");
  const goLive = document.getElementById("golive");
  const DVR_MIN_SECONDS = 30; // a window shorter than this is just the live edge
  let hls = null;
  let seeking = false;

  // The control plane picks the edge; ?format=json hands over the signed URL so the
  // player talks to the edge directly. Older control planes only redirect.
  async function manifestUrl() {
    try {
      const response = await fetch(`/play/${path}.m3u8?format=json`);
      if (response.ok) {
        const body = await response.json();
        if (body && body.url) return body.url;
      }
    } catch (error) {
      console.warn("play lookup failed, falling back to the redirect", error);
    }
    return `/play/${path}.m3u8`;
  }

  async function start() {
    statusLine.textContent = "connecting…";
    const url = await manifestUrl();
    if (window.Hls && Hls.isSupported()) {
      startHls(url);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = url; // Safari plays HLS itself
      video.play().catch(() => {});
    } else {
      statusLine.textContent = "this browser cannot play HLS";
    }
  }

  function startHls(url) {
    hls = new Hls({ lowLatencyMode: true, backBufferLength: 90 });
    window.glasscastHls = hls; // for tests and the curious
    glasscastQuality.attach(quality, hls);
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      statusLine.textContent = "";
      video.play().catch(() => {});
    });
    hls.on(Hls.Events.LEVEL_UPDATED, (_event, data) => {
      const details = data.details;
      dvr.hidden = !(details.live && details.totalduration >= DVR_MIN_SECONDS);
    });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal) return;
      statusLine.textContent = `playback problem (${data.details}), retrying…`;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        hls.recoverMediaError();
      } else {
        // The session token may have expired, or the edge gone: ask for a new URL.
        hls.destroy();
        hls = null;
        setTimeout(start, 3000);
      }
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  }

  function liveEdge() {
    if (hls && Number.isFinite(hls.liveSyncPosition)) return hls.liveSyncPosition;
    const ranges = video.seekable;
    return ranges.length ? ranges.end(ranges.length - 1) : video.currentTime;
  }

  seek.addEventListener("input", () => { seeking = true; });
  seek.addEventListener("change", () => {
    video.currentTime = Number(seek.value);
    seeking = false;
  });
  goLive.addEventListener("click", () => { video.currentTime = liveEdge(); });

  function tick() {
    const behind = hls && Number.isFinite(hls.latency) ? hls.latency : liveEdge() - video.currentTime;
    latency.textContent = Number.isFinite(behind) ? `latency ${behind.toFixed(1)} s` : "latency –";
    const ranges = video.seekable;
    if (!dvr.hidden && ranges.length && !seeking) {
      seek.min = String(Math.floor(ranges.start(0)));
      seek.max = String(Math.ceil(ranges.end(ranges.length - 1)));
      seek.value = String(Math.floor(video.currentTime));
    }
  }

  async function pollLive() {
    try {
      const response = await fetch(`/api/v1/streams/${path}/live`);
      if (response.status === 404) {
        document.getElementById("viewers").textContent = "offline";
        return;
      }
      if (!response.ok) return;
      const live = await response.json();
      document.getElementById("title").textContent = live.title || channel;
      document.getElementById("viewers").textContent = `${live.viewer_count ?? 0} watching`;
      document.dispatchEvent(new CustomEvent("glasscast:live", { detail: live }));
    } catch (error) {
      console.warn("live info unavailable", error);
    }
  }

  start();
  pollLive();
  setInterval(tick, 1000);
  setInterval(pollLive, 10000);
})();
