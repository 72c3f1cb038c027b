"""The control plane's HTTP API, as the TUI uses it: the only module that talks to it.

Every failure surfaces as a `ControlPlaneError`: `ApiError` when the control plane
answered with an error (its JSON `detail` kept for the operator to read),
`Unreachable` when it did not answer at all. The screens show either in place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from tui.records import Channel, EnrollmentToken, Node, RecordError, Stream
from tui.sse import ServerEvent, SseParser, SseProtocolError

T = TypeVar("T")

API = "/api/v1"
# The control plane's largest page.
STREAM_PAGE = 100
# Enough pages for far more streams than any fleet runs, so a paging bug on the
# server cannot keep us fetching forever.
MAX_STREAM_PAGES = 1000


class ControlPlaneError(Exception):
    """Anything that kept a call to the control plane from succeeding."""


class ApiError(ControlPlaneError):
    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(f"{status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail


class Unreachable(ControlPlaneError):
    """No answer: refused, timed out, or the connection broke."""


NODE_ACTIONS = ("approve", "drain", "undrain", "revoke")


def _segment(value: str) -> str:
    return quote(value, safe="")


class EventFeed:
    """The events of one open feed connection; iteration ends when it closes."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._parser = SseParser()

    @property
    def last_event_id(self) -> str | None:
        return self._parser.last_event_id

    async def __aiter__(self) -> AsyncIterator[ServerEvent]:
        try:
            async for chunk in self._response.aiter_raw():
                for item in self._parser.feed(chunk):
                    if isinstance(item, ServerEvent):
                        yield item
        except httpx.TransportError as exc:
            raise Unreachable(_describe(exc)) from exc
        except SseProtocolError as exc:
            raise Unreachable(f"event feed broke: {exc}") from exc


class ControlPlaneClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> ControlPlaneClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ nodes

    async def nodes(self) -> list[Node]:
        return _parse_list(await self._call("GET", f"{API}/nodes"), Node.parse)

    async def node(self, name: str) -> Node:
        return Node.parse(_as_mapping(await self._call("GET", f"{API}/nodes/{_segment(name)}")))

    async def node_action(self, name: str, action: str) -> Node | None:
        """Approve, drain, undrain or revoke; the node as it is now, when the answer says."""
        if action not in NODE_ACTIONS:
            raise ValueError(f"unknown node action {action!r}")
        answer = await self._call("POST", f"{API}/nodes/{_segment(name)}/{action}")
        if isinstance(answer, Mapping) and "name" in answer:
            return Node.parse(answer)
        return None

    # ------------------------------------------------------------- enrollment

    async def enrollment_tokens(self) -> list[EnrollmentToken]:
        answer = await self._call("GET", f"{API}/enrollment-tokens")
        return _parse_list(answer, EnrollmentToken.parse)

    async def create_enrollment_token(
        self, node_name: str | None, ttl_seconds: int | None, manual_approval: bool
    ) -> EnrollmentToken:
        body: dict[str, Any] = {"manual_approval": manual_approval}
        if node_name:
            body["node_name"] = node_name
        if ttl_seconds is not None:
            body["ttl_seconds"] = ttl_seconds
        answer = await self._call("POST", f"{API}/enrollment-tokens", json=body)
        return EnrollmentToken.parse(_as_mapping(answer))

    # --------------------------------------------------------------- channels

    async def channels(self) -> list[Channel]:
        return _parse_list(await self._call("GET", f"{API}/channels"), Channel.parse)

    async def create_channel(self, name: str, title: str, category: str) -> Channel:
        body = {"name": name, "title": title, "category": category}
        return Channel.parse(_as_mapping(await self._call("POST", f"{API}/channels", json=body)))

    async def rotate_stream_key(self, channel: str) -> str:
        answer = _as_mapping(
            await self._call("POST", f"{API}/channels/{_segment(channel)}/stream-key")
        )
        key = answer.get("stream_key")
        if not isinstance(key, str):
            raise ApiError(200, "the answer carried no stream_key")
        return key

    # ---------------------------------------------------------------- streams

    async def streams(self, page_size: int = STREAM_PAGE) -> list[Stream]:
        """Every live stream, most watched first, fetched a page at a time."""
        found: list[Stream] = []
        for page in range(MAX_STREAM_PAGES):
            params = {"sort": "viewers_desc", "limit": page_size, "offset": page * page_size}
            answer = await self._call("GET", f"{API}/streams", params=params)
            batch = _parse_list(answer, Stream.parse)
            found.extend(batch)
            if len(batch) < page_size:
                break
        return found

    async def live_stream(self, channel: str) -> Stream:
        answer = await self._call("GET", f"{API}/streams/{_segment(channel)}/live")
        return Stream.parse({"channel": channel, **_as_mapping(answer)})

    async def end_stream(self, stream_id: str) -> None:
        await self._call("POST", f"{API}/streams/{_segment(stream_id)}/end")

    # ----------------------------------------------------------------- events

    @asynccontextmanager
    async def event_feed(self, last_event_id: str | None = None) -> AsyncIterator[EventFeed]:
        """Open the fleet's change feed; inside the block the server has said yes.

        Opening before reading a snapshot and iterating after means no change falls
        between the two.
        """
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        # No read timeout: the feed is quiet while nothing changes.
        timeout = httpx.Timeout(10.0, read=None)
        try:
            async with self._http.stream(
                "GET", f"{API}/events", headers=headers, timeout=timeout
            ) as response:
                if response.is_error:
                    await response.aread()
                    raise _api_error(response)
                yield EventFeed(response)
        except httpx.TransportError as exc:
            raise Unreachable(_describe(exc)) from exc

    # ------------------------------------------------------------------ plumbing

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise Unreachable(_describe(exc)) from exc
        if response.is_error:
            raise _api_error(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(response.status_code, "the answer was not JSON") from exc


def _describe(exc: httpx.TransportError) -> str:
    return str(exc) or type(exc).__name__


def _api_error(response: httpx.Response) -> ApiError:
    detail: Any = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        detail = body.get("detail")
        extra = body.get("extra")
        if extra:
            detail = f"{detail} ({extra})"
    if not detail:
        detail = response.reason_phrase or "error"
    return ApiError(response.status_code, str(detail))


def _as_mapping(answer: Any) -> Mapping[str, Any]:
    if not isinstance(answer, Mapping):
        raise ApiError(200, "expected a JSON object")
    return answer


def _parse_list(answer: Any, parse: Callable[[Mapping[str, Any]], T]) -> list[T]:
    # Lists may come bare or wrapped ({"items": [...]}, {"nodes": [...]}).
    if isinstance(answer, Mapping):
        answer = next((v for v in answer.values() if isinstance(v, list)), None)
    if not isinstance(answer, list):
        raise ApiError(200, "expected a JSON list")
    parsed: list[T] = []
    for item in answer:
        if isinstance(item, Mapping):
            try:
                parsed.append(parse(item))
            except RecordError:
                continue
    return parsed
