// The quality menu shared by the live and VOD pages: "auto" plus one entry per hls.js
// level, following ABR's choice in the "auto" label, and switching on selection.
"use strict";

window.glasscastQuality = (() => {
  function levelName(level) {
    if (level.height) return `${level.height}p`;
    return `${Math.round(level.bitrate / 1000)} kbps`;
  }

  // Wire `select` to `hls` (call once per hls.js instance, before loadSource).
  function attach(select, hls) {
    hls.on(Hls.Events.MANIFEST_PARSED, (_event, data) => {
      const options = data.levels.map((level, index) => {
        const option = document.createElement("option");
        option.value = String(index);
        option.textContent = `${levelName(level)} · ${Math.round(level.bitrate / 1000)} kbps`;
        return option;
      });
      select.replaceChildren(select.options[0], ...options);
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_event, data) => {
      const level = hls.levels[data.level];
      select.options[0].textContent = level ? `auto (${levelName(level)})` : "auto";
    });
    select.onchange = () => {
      hls.currentLevel = Number(select.value); // -1 lets ABR choose
    };
  }

  return { attach };
})();
