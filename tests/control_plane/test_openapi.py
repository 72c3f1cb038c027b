"""The OpenAPI schema describes a typed body for every `/api/v1` answer, so a client
can be generated from it: no free-form objects where the API returns known fields."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from control_plane.fleet.schemas import CapacityOut, EncoderOut, LoadOut, TurnupCheckOut
from shared.fleet import fleet_pb2

# Paths whose answers are not typed yet, each with why (none now); a path typed
# since must leave this list (the test says so).
NOT_YET_TYPED: dict[str, str] = {}

# Error bodies are `{"status_code", "detail"}` (+ `"extra"`); Litestar's own
# validation-error schema leaves `extra` open: it holds what the failed check says.
ERROR_FREE_FORM = {"extra"}


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> tuple[str | None, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return None, schema
    name = ref.removeprefix("#/components/schemas/")
    return name, components[name]


def untyped(
    schema: dict[str, Any],
    components: dict[str, Any],
    where: str,
    *,
    error: bool = False,
    seen: frozenset[str] = frozenset(),
) -> list[str]:
    """Where under `schema` a body is free-form: an object without properties (or
    typed additionalProperties), an array without typed items, an empty schema."""
    name, schema = _resolve(schema, components)
    if name is not None:
        if name in seen:
            return []
        seen = seen | {name}
        where = f"{where} ({name})"
    found: list[str] = []
    for key in ("oneOf", "anyOf", "allOf"):
        for i, option in enumerate(schema.get(key, [])):
            found += untyped(option, components, f"{where}.{key}[{i}]", error=error, seen=seen)
    if any(key in schema for key in ("oneOf", "anyOf", "allOf")):
        return found
    types = schema.get("type")
    types = set(types) if isinstance(types, list) else {types}
    if types == {None} and "const" not in schema and "enum" not in schema:
        return [f"{where}: no type"]
    if "object" in types:
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        if properties:
            for prop, sub in properties.items():
                if error and prop in ERROR_FREE_FORM:
                    continue
                found += untyped(sub, components, f"{where}.{prop}", error=error, seen=seen)
        elif isinstance(extra, dict) and extra:
            found += untyped(extra, components, f"{where}[*]", error=error, seen=seen)
        else:
            found.append(f"{where}: a free-form object")
    if "array" in types:
        items = schema.get("items")
        if not items:
            found.append(f"{where}: an array of anything")
        else:
            found += untyped(items, components, f"{where}[]", error=error, seen=seen)
    return found


@pytest.fixture
def openapi(client: TestClient) -> dict[str, Any]:  # type: ignore[type-arg]
    answer = client.get("/schema/openapi.json")
    assert answer.status_code == 200
    schema: dict[str, Any] = answer.json()
    return schema


def test_every_api_response_has_a_typed_body(openapi: dict[str, Any]) -> None:
    components = openapi.get("components", {}).get("schemas", {})
    checked = 0
    problems: dict[str, list[str]] = {}
    for path, item in openapi["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in item.items():
            for status, response in operation.get("responses", {}).items():
                for media, content in (response.get("content") or {}).items():
                    where = f"{method.upper()} {path} {status} {media}"
                    error = int(status) >= 400
                    checked += 1
                    found = untyped(content.get("schema", {}), components, where, error=error)
                    if found:
                        problems.setdefault(path, []).extend(found)
    assert checked > 40  # every domain's routes are in the schema
    assert {p: found for p, found in problems.items() if p not in NOT_YET_TYPED} == {}
    assert [p for p in NOT_YET_TYPED if p not in problems] == [], "typed now: drop the exemption"


def test_the_checker_finds_free_form_bodies() -> None:
    components = {"Typed": {"type": "object", "properties": {"a": {"type": "string"}}}}
    assert untyped({"$ref": "#/components/schemas/Typed"}, components, "x") == []
    assert untyped({"type": "object", "additionalProperties": {}}, components, "x")
    assert untyped({"type": "array", "items": {}}, components, "x")
    assert untyped({}, components, "x")
    loose = {"type": "object", "properties": {"extra": {"type": "object"}}}
    assert untyped(loose, components, "x")
    assert untyped(loose, components, "x", error=True) == []


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (LoadOut, fleet_pb2.Load),
        (CapacityOut, fleet_pb2.Capacity),
        (EncoderOut, fleet_pb2.Encoder),
        (TurnupCheckOut, fleet_pb2.TurnupCheck),
    ],
)
def test_what_nodes_report_is_typed_field_for_field(
    typed: type[msgspec.Struct], message: Any
) -> None:
    reported = [f.name for f in message.DESCRIPTOR.fields]
    if message is fleet_pb2.TurnupCheck:
        reported.remove("name")  # the key it is stored under
    assert list(typed.__struct_fields__) == reported
    # Whatever a node sent comes back out as it was stored.
    stored = {name: getattr(message(), name) for name in reported}
    assert msgspec.to_builtins(msgspec.convert(stored, typed)) == stored
