"""WHIP ingest on `glasscast up`: an aiortc publisher at ingest-east's HTTP port goes
live, plays as LL-HLS at edge-west, and its DELETE ends the stream."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urljoin

import httpx
import m3u8
import pytest
from fleetlib import Fleet, check_vod_plays, vod_of, wait_for

PUBLISHER = Path(__file__).resolve().parents[1] / "whip_publisher.py"
OFFER = (
    Path(__file__).resolve().parents[1] / "edge_node/ingest/corpus/whip_offer_obs.sdp"
).read_bytes()
WEST_VIEWER = "127.2.0.9"  # inside edge-west's prefixes


def _whip_url(fleet: Fleet, channel: str) -> str:
    return f"{fleet.node('ingest-east')['http']}/whip/{channel}"


def test_whip_publisher_goes_live_plays_at_edge_west_and_delete_ends_it(fleet: Fleet) -> None:
    key = fleet.create_channel("whip-push")
    publisher = subprocess.Popen(
        [sys.executable, str(PUBLISHER), _whip_url(fleet, "whip-push"), key,
         "--seconds", "60", "--size", "640x360"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert publisher.stdout is not None and publisher.stdin is not None
        # The publisher's own HTTP timeout (15 s) bounds this read.
        answered = json.loads(publisher.stdout.readline())
        assert answered["status"] == 201, answered
        assert answered["location"].startswith("/whip/whip-push/")
        live = wait_for(lambda: fleet.live("whip-push"), 15, "the WHIP channel to go live")
        assert live["ingest_protocol"] == "whip"
        with fleet.client(source=WEST_VIEWER) as api:
            play = api.get("/play/whip-push.m3u8", params={"format": "json"}).json()
        assert play["edge"] == "edge-west"
        master_url = str(play["url"])

        def a_segment_at_west() -> m3u8.Segment | None:
            master = httpx.get(master_url, timeout=15)
            if master.status_code != 200:
                return None
            variants = m3u8.loads(master.text, uri=master_url).playlists
            if not variants:
                return None
            variant = urljoin(master_url, variants[-1].uri)
            playlist = m3u8.loads(httpx.get(variant, timeout=15).text, uri=variant)
            whole = [s for s in playlist.segments if s.duration and s.uri]
            return whole[-1] if whole else None

        segment = wait_for(a_segment_at_west, 30, "a whole LL-HLS segment at edge-west")
        media = httpx.get(urljoin(segment.base_uri or "", segment.uri), timeout=15)
        assert media.status_code == 200 and len(media.content) > 1000

        publisher.stdin.close()  # the publisher DELETEs its session
        assert json.loads(publisher.stdout.readline()) == {"deleted": 200}
        assert publisher.wait(timeout=20) == 0
        wait_for(lambda: fleet.live("whip-push") is None, 20, "the stream to end")
        # As for RTMP: the ended broadcast is a VOD edges serve.
        vod = wait_for(lambda: vod_of(fleet, "whip-push"), 30, "the WHIP broadcast's VOD")
        assert vod["stream_id"] == live["stream_id"]
        check_vod_plays(fleet, vod)
    finally:
        publisher.kill()
        publisher.wait()


def test_whip_wrong_key_is_401_and_another_channel_404(fleet: Fleet) -> None:
    key = fleet.create_channel("whip-refusals")
    headers = {"content-type": "application/sdp", "authorization": "Bearer live_not-a-key"}
    wrong = httpx.post(_whip_url(fleet, "whip-refusals"), content=OFFER, headers=headers)
    assert wrong.status_code == 401
    headers["authorization"] = f"Bearer {key}"
    other = httpx.post(_whip_url(fleet, "not-this-channel"), content=OFFER, headers=headers)
    assert other.status_code == 404
    # The channel goes to the control plane with the key, which refuses before starting
    # anything: the key's own channel never went live (not even into a grace).
    assert fleet.live("whip-refusals") is None
    with fleet.client() as api:
        listed = api.get("/api/v1/streams").json()["streams"]
    assert all(s["channel"] != "whip-refusals" for s in listed)


BROWSER_PUBLISH = """(async () => {
  const canvas = Object.assign(document.createElement('canvas'), {width: 320, height: 240});
  const ctx = canvas.getContext('2d');
  let n = 0;
  setInterval(() => {
    ctx.fillStyle = `hsl(${n++ % 360}, 80%, 50%)`;
    ctx.fillRect(0, 0, 320, 240);
    ctx.fillStyle = '#fff';
    ctx.fillText(String(n), 10, 20);
  }, 33);
  const audio = new AudioContext();
  const tone = audio.createOscillator();
  const out = audio.createMediaStreamDestination();
  tone.connect(out);
  tone.start();
  const pc = new RTCPeerConnection();
  const video = pc.addTransceiver(canvas.captureStream(30).getVideoTracks()[0],
                                  {direction: 'sendonly'});
  pc.addTransceiver(out.stream.getAudioTracks()[0], {direction: 'sendonly'});
  const h264 = RTCRtpSender.getCapabilities('video').codecs
    .filter(c => c.mimeType === 'video/H264');
  if (h264.length) video.setCodecPreferences(h264);
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(done => {
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && done();
    if (pc.iceGatheringState === 'complete') done();
    setTimeout(done, 5000);
  });
  const answer = await fetch(__URL__, {
    method: 'POST',
    headers: {'content-type': 'application/sdp', authorization: 'Bearer ' + __KEY__},
    body: pc.localDescription.sdp,
  });
  const text = await answer.text();
  window.pc = pc;
  window.whip = {status: answer.status, location: answer.headers.get('location'),
                 h264: h264.length, reason: answer.status === 201 ? '' : text};
  if (answer.status === 201) await pc.setRemoteDescription({type: 'answer', sdp: text});
  return window.whip;
})()"""


def test_a_browser_publishes_over_whip(fleet: Fleet) -> None:
    import shutil

    from browser.chromium import CHROMIUM, launch

    if shutil.which(CHROMIUM) is None:
        pytest.skip("needs Debian's chromium")
    key = fleet.create_channel("whip-browser")
    url = _whip_url(fleet, "whip-browser")
    with launch() as browser:
        page = browser.new_page()
        whip = page.evaluate(
            BROWSER_PUBLISH.replace("__URL__", json.dumps(url)).replace("__KEY__", json.dumps(key))
        )
        if not whip["h264"]:
            assert whip["status"] == 415, whip  # a Chromium without H.264 is told why
            pytest.skip("this Chromium has no H.264 encoder for WebRTC")
        assert whip["status"] == 201, whip
        page.wait_for("window.pc.connectionState === 'connected'", timeout=20)
        live = wait_for(lambda: fleet.live("whip-browser"), 20, "the browser's channel live")
        assert live["status"] == "live"
        # Media reaches the origin: it reports the broadcaster's bitrate.
        wait_for(
            lambda: ((fleet.live("whip-browser") or {}).get("ingest_bitrate") or 0) > 0,
            20,
            "the browser's media at the origin",
        )
        deleted = page.evaluate(
            f"fetch(new URL(window.whip.location, {json.dumps(url)}), {{method: 'DELETE'}})"
            ".then(r => r.status)"
        )
        assert deleted == 200
        browser.close_pages()
    wait_for(lambda: fleet.live("whip-browser") is None, 20, "the browser's stream to end")
