"""What the watch page's player does with a live channel, in headless Chromium."""

from __future__ import annotations

from .chromium import launch


def played_codecs(api: str, channel: str, seconds: float = 3.0) -> tuple[list[str], str]:
    """Open /watch/{channel}, play `seconds` of it; the codecs of the levels hls.js
    kept (those the browser can decode) and of the level it plays."""
    with launch() as browser:
        page = browser.new_page(f"{api}/watch/{channel}")
        page.wait_for(f"document.getElementById('video').currentTime > {seconds}", timeout=60)
        levels = page.evaluate("window.glasscastHls.levels.map(l => l.videoCodec)")
        playing = page.evaluate("(h => h.levels[h.currentLevel].videoCodec)(window.glasscastHls)")
    return list(levels), str(playing)
