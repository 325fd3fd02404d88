"""The shared events: golden fixtures round-trip, the committed JSON Schema matches the models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from care_schemas import asyncapi, cli
from care_schemas.catalogue import ChannelType, PlanCode, Severity, catalogue
from care_schemas.envelope import ENVELOPE_MAX_BYTES
from care_schemas.events.alert import AlertFiring, alert_event_adapter
from care_schemas.topics import ADAPTERS, ALL_TOPICS

pytestmark = pytest.mark.unit
GOLDEN = Path(__file__).parent / "golden"
TOPIC_OF_TYPE = {
    "care.plan": "plan.events.v1",
    "care.ticket": "ticket.events.v1",
    "care.alert": "alert.events.v1",
    "care.notify": "notify.deadletter.v1",
    "care.chat": "chat.events.v1",
    "care.action": "alert.actions.v1",
}


def golden_files() -> list[Path]:
    return sorted(GOLDEN.glob("*.json"))


def adapter_for(event_type: str):  # type: ignore[no-untyped-def]
    prefix = ".".join(event_type.split(".")[:2])
    return ADAPTERS[TOPIC_OF_TYPE[prefix]]


def test_every_event_type_has_a_golden_fixture() -> None:
    types = set()
    for adapter in ADAPTERS.values():
        schema = adapter.json_schema()
        for definition in schema.get("$defs", {}).values():
            const = definition.get("properties", {}).get("type", {}).get("const")
            if const:
                types.add(const)
    assert types == {p.stem for p in golden_files()}
    assert len(types) == 19


@pytest.mark.parametrize("path", golden_files(), ids=lambda p: p.stem)
def test_golden_fixture_round_trips_unchanged(path: Path) -> None:
    raw = path.read_text(encoding="utf-8")
    event = adapter_for(path.stem).validate_json(raw)
    assert event.type == path.stem
    assert event.specversion == "1.0"
    assert json.loads(event.model_dump_json()) == json.loads(raw)


def test_committed_json_schema_matches_the_models() -> None:
    assert cli.stale(cli.DEFAULT_DIR) == [], "run `make schemas` and commit schemas/jsonschema/"


def test_stale_json_schema_is_detected(tmp_path: Path) -> None:
    assert cli.main(["export", "--dir", str(tmp_path)]) == 0
    target = tmp_path / "alert.events.v1.schema.json"
    target.write_text(target.read_text().replace('"critical"', '"urgent"'))
    assert cli.stale(tmp_path) == ["alert.events.v1.schema.json"]
    assert cli.main(["export", "--dir", str(tmp_path), "--check"]) == 1


def test_events_are_frozen() -> None:
    event = alert_event_adapter.validate_json((GOLDEN / "care.alert.firing.v1.json").read_text())
    with pytest.raises(ValidationError):
        event.subject = "changed"  # type: ignore[misc]


def test_firing_event_with_resolved_status_is_rejected() -> None:
    doc = json.loads((GOLDEN / "care.alert.firing.v1.json").read_text())
    doc["data"]["status"] = "resolved"
    with pytest.raises(ValidationError, match="must be 'firing'"):
        AlertFiring.model_validate(doc)


def test_unknown_event_type_is_rejected_with_the_allowed_tags() -> None:
    doc = json.loads((GOLDEN / "care.alert.firing.v1.json").read_text())
    doc["type"] = "care.alert.exploded.v1"
    with pytest.raises(ValidationError, match=r"care\.alert\.firing\.v1"):
        alert_event_adapter.validate_python(doc)


def test_naive_timestamps_are_rejected() -> None:
    doc = json.loads((GOLDEN / "care.alert.firing.v1.json").read_text())
    doc["time"] = "2026-03-02T09:30:00"
    with pytest.raises(ValidationError, match="time"):
        alert_event_adapter.validate_python(doc)


def test_topic_catalogue_names_every_topic_once() -> None:
    names = [t.name for t in ALL_TOPICS]
    assert names == [
        "plan.events.v1",
        "ticket.events.v1",
        "alert.events.v1",
        "notify.deadletter.v1",
        "chat.events.v1",
        "alert.actions.v1",
    ]
    assert set(ADAPTERS) == set(names)


def test_catalogue_response_targets_match_domain_table() -> None:
    c = catalogue()
    table = {
        PlanCode.DEVELOPER: {
            "S1": (4, "business_hours"),
            "S2": (8, "business_hours"),
            "S3": (12, "business_hours"),
            "S4": (24, "business_hours"),
        },
        PlanCode.ENTERPRISE: {
            "S1": (1, "wall_clock"),
            "S2": (2, "wall_clock"),
            "S3": (8, "business_hours"),
            "S4": (24, "business_hours"),
        },
        PlanCode.PREMIUM: {
            "S1": (0.5, "wall_clock"),
            "S2": (1, "wall_clock"),
            "S3": (4, "business_hours"),
            "S4": (24, "business_hours"),
        },
    }
    for code, targets in table.items():
        got = {s.value: (t.hours, t.clock.value) for s, t in c.get(code).entitlements.response_targets.items()}
        assert got == targets, code
    assert c.get(PlanCode.BASIC).entitlements.response_targets == {}
    assert c.get(PlanCode.PREMIUM).entitlements.response_targets[Severity.S1].minutes == 30


def test_catalogue_gates_im_channels_from_enterprise_up() -> None:
    c = catalogue()
    assert c.get(PlanCode.BASIC).entitlements.alert_channels == frozenset({ChannelType.EMAIL})
    assert c.cheapest_with_channel(ChannelType.SLACK) == c.get(PlanCode.ENTERPRISE)
    assert c.cheapest_with("technical_tickets") == c.get(PlanCode.DEVELOPER)
    assert c.cheapest_with("im_ticket_interaction") == c.get(PlanCode.PREMIUM)


def test_legacy_retirement_schedule() -> None:
    c = catalogue()
    dates = {p.code: p.retires_at.isoformat() for p in c.legacy() if p.retires_at}
    assert dates == {
        "legacy_basic": "2025-02-17T00:00:00+00:00",
        "legacy_standard": "2025-02-17T00:00:00+00:00",
        "legacy_enterprise": "2026-01-15T00:00:00+00:00",
        "legacy_premium": "2026-01-15T00:00:00+00:00",
    }
    assert c.retirement_target is PlanCode.BASIC
    assert c.get(PlanCode.LEGACY_PREMIUM).entitlements.tam
    assert not c.get(PlanCode.LEGACY_PREMIUM).entitlements.im_alert_subscription


def test_unknown_plan_code_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known plans: basic, developer"):
        catalogue().get("gold")


def test_committed_asyncapi_documents_match_the_models() -> None:
    assert cli.stale(cli.ASYNCAPI_DIR, asyncapi.rendered(), "*.asyncapi.json") == [], "run `make schemas`"


@pytest.mark.parametrize("service", sorted(asyncapi.SERVICES))
def test_every_asyncapi_payload_points_at_a_model_in_the_json_schema(service: str) -> None:
    doc = json.loads((cli.ASYNCAPI_DIR / f"{service}.asyncapi.json").read_text())
    assert doc["asyncapi"] == "3.0.0"
    for event_type, message in doc["components"]["messages"].items():
        path, _, pointer = message["payload"]["$ref"].partition("#")
        schema = json.loads((cli.ASYNCAPI_DIR / path).resolve().read_text())
        model = schema["$defs"][pointer.rsplit("/", 1)[1]]
        assert model["properties"]["type"]["const"] == event_type


def test_every_topic_has_a_sender_and_every_event_type_is_described() -> None:
    sent = {t.name for spec in asyncapi.SERVICES.values() for t in spec["send"]}
    assert sent == {t.name for t in ALL_TOPICS}
    described = set()
    for service in asyncapi.SERVICES:
        described |= set(asyncapi.document(service)["components"]["messages"])
    assert described == {p.stem for p in golden_files()}


@pytest.mark.parametrize("path", golden_files(), ids=lambda p: p.stem)
def test_an_event_holds_at_most_envelope_max_bytes_beyond_its_data(path: Path) -> None:
    """Every field but `data` at its longest, of the character JSON escapes longest: the bytes beyond the data's
    JSON stay within ENVELOPE_MAX_BYTES, which the notify intake relies on to skip encoding small alerts."""
    document = json.loads(path.read_text())
    worst = "\x01"  # escaped as \u0001: six bytes a character
    longest = {**document, "id": worst * 256, "source": worst * 1024, "subject": worst * 512}
    event = adapter_for(document["type"]).validate_python(longest)
    beyond = len(event.to_json_bytes()) - len(event.data.model_dump_json().encode())
    assert beyond > 10_000  # the worst case was built
    assert beyond <= ENVELOPE_MAX_BYTES
