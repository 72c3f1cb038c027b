// The WebVTT thumbnails track of a VOD: one cue per sprite tile, its text
// `sheet.jpg#xywh=x,y,w,h` relative to the track's URL. Parsed here rather than
// through a <track> element so hls.js, which manages the video's text tracks,
// never sees it.
"use strict";

const GlasscastThumbs = (() => {
  function seconds(stamp) {
    const parts = stamp.trim().split(":").map(Number);
    return parts.reduce((total, part) => total * 60 + part, 0);
  }

  function parse(text, trackUrl) {
    const cues = [];
    for (const block of text.replace(/\r/g, "").split(/\n\n+/)) {
      const lines = block.split("\n").filter((line) => line.trim());
      const timing = lines.findIndex((line) => line.includes("-->"));
      if (timing < 0 || timing + 1 >= lines.length) continue;
      const [from, to] = lines[timing].split("-->").map((side) => seconds(side.split(/\s/).filter(Boolean)[0] || ""));
      const target = lines[timing + 1].trim();
      const hash = target.indexOf("#xywh=");
      if (hash < 0 || !Number.isFinite(from) || !Number.isFinite(to)) continue;
      const [x, y, w, h] = target.slice(hash + 6).split(",").map(Number);
      if (![x, y, w, h].every(Number.isFinite)) continue;
      cues.push({ start: from, end: to, url: new URL(target.slice(0, hash), trackUrl).href, x, y, w, h });
    }
    return cues;
  }

  function at(cues, time) {
    // Binary search: an hour of VOD is 360 tiles, looked up on every mouse move.
    let low = 0;
    let high = cues.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (time < cues[mid].start) high = mid - 1;
      else if (time >= cues[mid].end) low = mid + 1;
      else return cues[mid];
    }
    return null;
  }

  async function load(trackUrl) {
    const response = await fetch(trackUrl);
    if (!response.ok) throw new Error(`thumbnails track answered ${response.status}`);
    return parse(await response.text(), trackUrl);
  }

  return { parse, at, load };
})();
