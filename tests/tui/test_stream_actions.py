"""Streams and channels: live rows, ending a stream, creating channels and rotating
keys (each secret shown once), driven with Pilot against a real control plane."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from textual.pilot import Pilot

from tests.tui.pilotlib import (
    drive,
    has_row,
    make_app,
    off_thread,
    row_labels,
    type_into_input,
    until,
)
from tests.tui.realfleet import ControlPlaneProcess, NodeAgent, enroll
from tui.app import GlasscastApp
from tui.screens.dialogs import ChannelForm, ChannelPrompt, ConfirmDialog, SecretDialog
from tui.screens.streams import StreamsScreen


@dataclass
class Broadcast:
    node: NodeAgent
    channel: str
    stream_id: str


def create_channel(cp: ControlPlaneProcess, name: str) -> str:
    with cp.http() as http:
        answer = http.post(
            "/api/v1/channels", json={"name": name, "title": "Night Ride", "category": "music"}
        )
        answer.raise_for_status()
        return str(answer.json()["stream_key"])


def channel_info(cp: ControlPlaneProcess, name: str) -> dict[str, object]:
    with cp.http() as http:
        answer = http.get(f"/api/v1/channels/{name}")
        answer.raise_for_status()
        return dict(answer.json())


def start_status(cp: ControlPlaneProcess, stream_key: str) -> int:
    headers = {"Authorization": f"Bearer {stream_key}"}
    return httpx.post(f"{cp.url}/api/v1/streams/start", json={}, headers=headers).status_code


def live_status(cp: ControlPlaneProcess, channel: str) -> int:
    with cp.http() as http:
        return http.get(f"/api/v1/streams/{channel}/live").status_code


@pytest.fixture(scope="module")
def broadcast(control_plane: ControlPlaneProcess) -> Iterator[Broadcast]:
    node = enroll(control_plane, "origin-1")
    node.start_reporting()
    try:
        with control_plane.http() as http:
            for _ in range(100):
                if http.get("/api/v1/nodes/origin-1").json()["status"] == "healthy":
                    break
                time.sleep(0.1)
        key = create_channel(control_plane, "night-ride")
        yield Broadcast(node, "night-ride", node.publish(key))
    finally:
        node.close()


def screen_is(app: GlasscastApp, kind: type) -> bool:
    return isinstance(app.screen, kind)


def test_streams_screen_shows_live_stream_and_viewer_count_moves(
    control_plane: ControlPlaneProcess, broadcast: Broadcast
) -> None:
    async def scenario(app: GlasscastApp, pilot: Pilot[int]) -> None:
        await pilot.press("t")
        await until(pilot, lambda: screen_is(app, StreamsScreen), "the streams screen")
        await until(pilot, lambda: has_row(app, "streams", broadcast.stream_id), "the live row")
        await until(
            pilot,
            lambda: row_labels(app, "streams", broadcast.stream_id)[8] == "3",
            "3 viewers",
        )
        labels = row_labels(app, "streams", broadcast.stream_id)
        assert labels[:6] == ["night-ride", "Night Ride", "music", "origin-1", "2", "RTMP"]
        assert labels[-1] == "live"

        broadcast.node.set_viewers(7)
        await until(
            pilot,
            lambda: row_labels(app, "streams", broadcast.stream_id)[8] == "7",
            "the count to move to 7",
        )
        history = app.model.stream_viewers[broadcast.stream_id].values()
        assert 3 in history and history[-1] == 7

    drive(make_app(control_plane), scenario)


def test_rotate_key_shows_the_new_key_once_then_end_the_stream(
    control_plane: ControlPlaneProcess, broadcast: Broadcast
) -> None:
    async def scenario(app: GlasscastApp, pilot: Pilot[int]) -> None:
        await pilot.press("t")
        await until(pilot, lambda: has_row(app, "streams", broadcast.stream_id), "the live row")
        before = await off_thread(channel_info, control_plane, broadcast.channel)

        await pilot.press("k")  # the selected stream's channel
        await until(pilot, lambda: screen_is(app, ConfirmDialog), "rotate confirmation")
        await pilot.press("y")
        await until(pilot, lambda: screen_is(app, SecretDialog), "the new key")
        dialog = app.screen
        assert isinstance(dialog, SecretDialog)
        after = await off_thread(channel_info, control_plane, broadcast.channel)
        assert after["stream_key_prefix"] != before["stream_key_prefix"]
        assert dialog.secret.startswith(str(after["stream_key_prefix"]))
        await pilot.press("enter")
        await until(pilot, lambda: screen_is(app, StreamsScreen), "the dialog to close")

        await pilot.press("x")
        await until(pilot, lambda: screen_is(app, ConfirmDialog), "end confirmation")
        await pilot.press("y")
        await until(
            pilot, lambda: not has_row(app, "streams", broadcast.stream_id), "the row to go"
        )
        assert await off_thread(live_status, control_plane, broadcast.channel) == 404

    drive(make_app(control_plane), scenario)


def test_create_channel_from_the_form_and_a_taken_name_is_refused_in_place(
    control_plane: ControlPlaneProcess,
) -> None:
    async def scenario(app: GlasscastApp, pilot: Pilot[int]) -> None:
        await pilot.press("c")
        await until(pilot, lambda: screen_is(app, ChannelForm), "the channel form")
        await type_into_input(pilot, *"cooking", "tab", *"Late Supper", "tab", *"food", "enter")
        await until(pilot, lambda: screen_is(app, SecretDialog), "the stream key")
        dialog = app.screen
        assert isinstance(dialog, SecretDialog)
        info = await off_thread(channel_info, control_plane, "cooking")
        assert info["title"] == "Late Supper" and info["category"] == "food"
        assert dialog.secret.startswith(str(info["stream_key_prefix"]))
        # The key works: a broadcaster may ask where to push with it.
        assert await off_thread(start_status, control_plane, dialog.secret) != 401
        await pilot.press("enter")

        await pilot.press("c")
        await until(pilot, lambda: screen_is(app, ChannelForm), "the channel form")
        await type_into_input(pilot, *"cooking", "enter")
        await until(
            pilot,
            lambda: any("409" in n.message for n in app._notifications),
            "the conflict shown as a notification",
        )
        assert not screen_is(app, SecretDialog)

    drive(make_app(control_plane), scenario)


def test_rotate_key_by_name_from_the_palette(control_plane: ControlPlaneProcess) -> None:
    create_channel(control_plane, "palette-ch")
    before = channel_info(control_plane, "palette-ch")

    async def scenario(app: GlasscastApp, pilot: Pilot[int]) -> None:
        await pilot.press("ctrl+p")
        await type_into_input(pilot, *"rotate stream key")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: screen_is(app, ChannelPrompt), "the channel prompt")
        await type_into_input(pilot, *"palette-ch", "enter")
        await until(pilot, lambda: screen_is(app, ConfirmDialog), "rotate confirmation")
        await pilot.press("y")
        await until(pilot, lambda: screen_is(app, SecretDialog), "the new key")
        after = await off_thread(channel_info, control_plane, "palette-ch")
        assert after["stream_key_prefix"] != before["stream_key_prefix"]

    drive(make_app(control_plane), scenario)
