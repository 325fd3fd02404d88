"""Issue 8 against a running notify-service: what any member of any organisation can send never stops the intake,
and input that can never succeed is a 4xx naming the field, never a 503 or a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from care_schemas.events.alert import alert_event
from care_schemas.events.deadletter import EventRejected, deadletter_event_adapter
from care_schemas.topics import ALERT_EVENTS, NOTIFY_DEADLETTER
from carekit_testing import TopicReader, eventually
from tests.receivers import Notify, sample_alert, token

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
OUT_OF_RANGE = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:00-01:00", "1969-12-31T23:59:59Z"]


def _native(org: str, fingerprint: str, **changes: Any) -> dict[str, Any]:
    return sample_alert(org, fingerprint).model_dump(mode="json") | changes


async def _stored(notify: Notify, org: str, fingerprint: str) -> bool:
    return bool(await notify.fetch("SELECT 1 FROM alerts WHERE org_id = $1 AND fingerprint = $2", org, fingerprint))


@pytest.mark.parametrize("when", OUT_OF_RANGE)
@pytest.mark.parametrize("field", ["starts_at", "ends_at"])
async def test_an_alert_time_postgres_cannot_store_is_refused_naming_the_field(
    notify: Notify, org: str, unique: str, field: str, when: str
) -> None:
    async with notify.client() as client:
        answer = await client.post("/v1/alerts", headers=token(org), json=_native(org, f"t-{unique}", **{field: when}))
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"].startswith(f"{field}: must be between 1970")
        good = await client.post("/v1/alerts", headers=token(org), json=_native(org, f"after-{unique}"))
        assert good.status_code == 202
    await eventually(lambda: _stored(notify, org, f"after-{unique}"), timeout_s=20)


async def test_an_event_on_the_topic_with_a_time_postgres_cannot_store_is_dead_lettered_and_the_next_is_stored(
    notify: Notify, org: str, unique: str
) -> None:
    """The issue's first case: before, the intake counted asyncpg's DataError as an outage and retried forever."""
    async with TopicReader(notify.kafka, NOTIFY_DEADLETTER, deadletter_event_adapter) as dead:
        bad = json.loads(alert_event(sample_alert(org, f"year0-{unique}"), source="/tests").to_json_bytes())
        bad["data"]["starts_at"] = "0001-01-01T00:00:00+01:00"
        producer = AIOKafkaProducer(bootstrap_servers=notify.kafka, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(ALERT_EVENTS.name, json.dumps(bad).encode(), key=org.encode())
        finally:
            await producer.stop()
        await notify.alerts(sample_alert(org, f"behind-{unique}"))
        await eventually(lambda: _stored(notify, org, f"behind-{unique}"), timeout_s=20)
        intake = f"{notify.service.env['CONSUMER_GROUP_PREFIX']}.intake"

        async def ours() -> list[EventRejected]:  # other consumers of the shared topic dead-letter it too
            found = await dead.events(org, 1_000, timeout_s=1)  # read on: another group's dead letter may come first
            return [e for e in found if isinstance(e, EventRejected) and e.data.consumer == intake]

        [rejected] = await eventually(ours, timeout_s=20)
        assert "data.starts_at: must be between 1970" in rejected.data.reason
        assert not await _stored(notify, org, f"year0-{unique}")


NUL = "a%00b"


@pytest.mark.parametrize(
    ("method", "path", "names"),
    [
        ("GET", f"/v1/subscribers/{NUL}", "subscriber_id"),
        ("PATCH", f"/v1/subscribers/{NUL}", "subscriber_id"),
        ("DELETE", f"/v1/subscribers/{NUL}", "subscriber_id"),
        ("GET", f"/v1/subscribers?project_id={NUL}", "project_id"),
        ("GET", f"/v1/deliveries?subscriber_id={NUL}", "subscriber_id"),
        ("GET", f"/v1/deliveries?fingerprint={NUL}", "fingerprint"),
        ("GET", f"/v1/deliveries?limit={2**63}", "limit"),
        ("GET", f"/v1/dead-letters?org_id={NUL}", "org_id"),
        ("POST", f"/v1/dead-letters/{2**63}/redrive", "dead_letter_id"),
        ("POST", f"/v1/dead-letters/{-(2**63) - 1}/redrive", "dead_letter_id"),
        ("GET", f"/v1/intake-rejections?limit={2**63}", "limit"),
        ("GET", f"/v1/ops/parked?loop={NUL}", "loop"),
        ("POST", f"/v1/ops/parked/{2**63}/redrive", "parked_id"),
    ],
)
async def test_a_path_or_query_value_that_can_never_be_stored_is_a_422_naming_the_parameter(
    notify: Notify, org: str, method: str, path: str, names: str
) -> None:
    role = "admin" if "dead-letters" in path or "/ops/" in path else "org_owner"
    async with notify.client() as client:
        answer = await client.request(method, path, headers=token(org, role), json={} if method == "PATCH" else None)
    assert answer.status_code == 422, answer.text
    assert names in {err["field"].rsplit(".", 1)[-1] for err in answer.json()["errors"]}


async def test_a_lone_surrogate_in_a_label_is_a_422_naming_the_label_not_a_500(
    notify: Notify, org: str, unique: str
) -> None:
    body = json.dumps(_native(org, f"s-{unique}", labels={"team": "PLACEHOLDER"})).replace("PLACEHOLDER", "\\ud800")
    async with notify.client() as client:
        answer = await client.post(
            "/v1/alerts", headers=token(org) | {"content-type": "application/json"}, content=body.encode()
        )
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == "labels.team: must be valid Unicode text (no lone surrogates)"


async def test_labels_are_bounded_in_count_and_size(notify: Notify, org: str, unique: str) -> None:
    many = {f"k{i}": "v" for i in range(30_000)}  # about 0.4 MB: under the body limit, over the label count
    async with notify.client() as client:
        too_many = await client.post("/v1/alerts", headers=token(org), json=_native(org, f"l-{unique}", labels=many))
        too_long = await client.post(
            "/v1/alerts", headers=token(org), json=_native(org, f"l-{unique}", labels={"k": "v" * 5000})
        )
    assert too_many.status_code == 422
    assert too_many.json()["detail"].startswith("labels: Dictionary should have at most 64 items")
    assert too_long.status_code == 422
    assert too_long.json()["detail"].startswith("labels.k: String should have at most 1024 characters")


async def test_a_body_over_the_limit_is_refused_before_it_is_parsed(notify: Notify, org: str, unique: str) -> None:
    alerts = [_native(org, f"b-{unique}-{i}") for i in range(49_000)]  # about 20 MB, Content-Length known
    big = json.dumps(alerts).encode()
    labels = json.dumps(_native(org, f"m-{unique}", labels={f"k{i}": "v" * 300 for i in range(33_000)})).encode()

    async def chunks() -> Any:  # no Content-Length: refused as it streams past the limit
        for start in range(0, len(big), 256 * 1024):
            yield big[start : start + 256 * 1024]

    headers = token(org) | {"content-type": "application/json"}
    async with notify.client() as client:
        for sent in ({"content": big}, {"content": chunks()}, {"content": labels}):
            answer = await client.post("/v1/alerts", headers=headers, **sent)
            assert answer.status_code == 413, answer.text
            assert answer.json()["detail"] == "request body is larger than 4096 KiB; send less"


async def test_an_over_long_id_or_a_huge_integer_is_a_422_never_a_503(notify: Notify, org: str) -> None:
    """Input the service can never accept is never answered 503 (which tells callers to retry)."""
    probes: list[httpx.Response] = []
    async with notify.client() as client:
        probes.append(await client.get(f"/v1/subscribers/{'x' * 300}", headers=token(org)))
        probes.append(await client.post(f"/v1/dead-letters/{2**70}/redrive", headers=token(org, "admin")))
    assert [p.status_code for p in probes] == [422, 422]


def _am(org: str | None, name: str, **labels: str) -> dict[str, Any]:
    base = {"alertname": name, "project_id": "proj-1"} | ({"org_id": org} if org else {}) | labels
    return {
        "status": "firing",
        "labels": base,
        "annotations": {"summary": f"{name} summary", "runbook_url": "https://runbooks.example/r", "team": "db"},
        "startsAt": "2026-11-26T08:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
    }


async def test_an_alertmanager_group_is_taken_alert_by_alert_and_refusals_are_kept_for_the_organisation(
    notify: Notify, org: str, unique: str
) -> None:
    """The issue's seventh case: one alert with severity=page made the whole group 422, and Alertmanager does not
    retry a 4xx, so the group's good alerts were lost without a trace."""
    bad_time = _am(None, f"Late-{unique}") | {"startsAt": "9999-12-31T23:59:00-01:00"}
    group = {
        "version": "4",
        "status": "firing",
        "alerts": [
            _am(None, f"Paged-{unique}", severity="page"),
            _am(None, f"NoProject-{unique}") | {"labels": {"alertname": f"NoProject-{unique}"}},
            bad_time,
            _am(None, f"Low-{unique}", severity="low"),
        ],
    }
    async with notify.client() as client:
        answer = await client.post("/v1/alerts/alertmanager", headers=token(org, "member"), json=group)
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert body["accepted"] == 2
        assert [(r["index"], r["reason"].split(":")[0]) for r in body["rejected"]] == [
            (1, "alerts[1].labels.project_id"),
            (2, "alerts[2].startsAt"),
        ]
        listed = await client.get("/v1/intake-rejections", headers=token(org, "member"))
        others = await client.get("/v1/intake-rejections", headers=token(f"other-{unique}", "member"))
        none_good = {"version": "4", "alerts": [bad_time]}
        all_bad = await client.post("/v1/alerts/alertmanager", headers=token(org), json=none_good)
    assert {r["alertname"] for r in listed.json()["rejections"]} >= {f"NoProject-{unique}", f"Late-{unique}"}
    assert others.json()["rejections"] == [], "an organisation reads only its own rejections"
    assert all_bad.status_code == 422
    assert all_bad.json()["detail"].startswith("alerts[0].startsAt: must be between 1970")

    async def stored() -> list[Any]:
        sql = "SELECT alert FROM alerts WHERE org_id = $1 AND alert->>'rule' = ANY($2::text[]) ORDER BY alert->>'rule'"
        rows = await notify.fetch(sql, org, [f"Paged-{unique}", f"Low-{unique}"])
        return rows if len(rows) == 2 else []

    low, paged = [
        json.loads(r["alert"]) if isinstance(r["alert"], str) else r["alert"] for r in await eventually(stored)
    ]
    assert (paged["severity"], paged["labels"]["severity"]) == ("critical", "page")
    assert (low["severity"], low["labels"]["severity"]) == ("info", "low")
    assert paged["annotations"] == {"runbook_url": "https://runbooks.example/r", "team": "db"}
