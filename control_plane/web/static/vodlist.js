// Recent recordings: fills every `[data-vods]` list from `GET /api/v1/vods`
// (`data-vods` names a channel, or is empty for every channel). The element
// marked `data-vods-section` around it stays hidden while there is nothing to show.
"use strict";

(() => {
  function duration(seconds) {
    const whole = Math.round(seconds || 0);
    return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
  }

  function vodItem(vod, withChannel) {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = `/watch/vod/${encodeURIComponent(vod.id)}`;
    const title = document.createElement("strong");
    const when = vod.ended_at ? new Date(vod.ended_at).toLocaleString() : vod.id;
    title.textContent = withChannel ? vod.channel : when;
    const meta = document.createElement("span");
    meta.textContent = withChannel ? `${when} · ${duration(vod.duration_seconds)}` : duration(vod.duration_seconds);
    link.append(title, meta);
    item.append(link);
    return item;
  }

  async function fill(list) {
    const channel = list.dataset.vods;
    const limit = Number(list.dataset.limit || 10);
    const query = channel ? `?channel=${encodeURIComponent(channel)}` : "";
    let vods;
    try {
      const response = await fetch(`/api/v1/vods${query}`);
      if (!response.ok) return; // a control plane without recording: no section
      vods = await response.json();
    } catch (error) {
      console.warn("recordings unavailable", error);
      return;
    }
    const shown = (Array.isArray(vods) ? vods : []).slice(0, limit);
    list.replaceChildren(...shown.map((vod) => vodItem(vod, !channel)));
    const section = list.closest("[data-vods-section]");
    if (section) section.hidden = shown.length === 0;
  }

  document.querySelectorAll("[data-vods]").forEach(fill);
})();
