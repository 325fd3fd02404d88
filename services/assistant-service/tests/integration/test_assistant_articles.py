"""Staff manage the knowledge base through the API: changes are stored in Postgres, searchable at once on the
instance that made them and within seconds on every other instance; customers cannot touch it; bad Markdown or
front matter is 422 naming the field."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from assistant_harness import Running, fresh_settings, in_process

from care_schemas.catalogue import PlanCode
from carekit_testing import TEST_JWT_SECRET, bearer, eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
ENGINEER = bearer(TEST_JWT_SECRET, "vendor", "support_engineer", sub="eng-1")
ORG = f"org-{uuid.uuid4().hex[:8]}"
CUSTOMER = bearer(TEST_JWT_SECRET, ORG, "member")
QUESTION = "How do I rotate the flux capacitor of a gizmotron cluster?"
ARTICLE = {
    "id": "gizmotron-flux",
    "language": "en",
    "title": "Rotating the flux capacitor of a gizmotron cluster",
    "tags": ["gizmotron", "flux capacitor", "rotate"],
    "body": "How to rotate it.\n\n## Steps\n\nOpen the gizmotron console, choose Flux, press Rotate capacitor.\n",
}


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def instances(kafka_bootstrap: str, database_url: str) -> AsyncIterator[tuple[Running, Running]]:
    """Two instances of assistant-service on one database, as a scaled-out deployment runs."""
    # woken by NOTIFY, not polls
    settings = await fresh_settings(kafka_bootstrap, database_url, "assistant-kb", articles_poll_interval_s=30.0)
    async with in_process(settings) as first, in_process(settings) as second:
        await first.set_plan(ORG, PlanCode.ENTERPRISE)
        yield first, second


async def ask(instance: Running, question: str = QUESTION) -> dict[str, object]:
    answer = await instance.client.post("/v1/assistant/ask", json={"question": question}, headers=CUSTOMER)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_an_article_created_on_one_instance_is_answered_from_on_the_other_within_seconds(
    instances: tuple[Running, Running],
) -> None:
    first, second = instances
    assert (await ask(second))["could_help"] is False, "nothing about gizmotrons yet"
    created = await first.client.post("/v1/assistant/articles", json=ARTICLE, headers=ENGINEER)
    assert created.status_code == 201, created.text
    assert created.json()["url"] == "/docs/support/gizmotron-flux"
    assert (await ask(first))["could_help"] is True, "searchable at once where it was made"
    started = time.monotonic()

    async def answered_elsewhere() -> dict[str, object] | None:
        body = await ask(second)
        return body if body["could_help"] else None

    body = await eventually(answered_elsewhere, timeout_s=10)
    assert time.monotonic() - started < 5
    assert "Rotate capacitor" in str(body["answer"])

    changed = ARTICLE | {"body": "How to rotate it.\n\n## Steps\n\nUse the new Spin button on the Flux page.\n"}
    del changed["id"], changed["language"]
    replaced = await second.client.put("/v1/assistant/articles/en/gizmotron-flux", json=changed, headers=ENGINEER)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["origin"] == "staff"

    async def changed_on_first() -> bool:
        return "Spin button" in str((await ask(first))["answer"])

    await eventually(changed_on_first, timeout_s=10)
    assert (await second.client.delete("/v1/assistant/articles/en/gizmotron-flux", headers=ENGINEER)).status_code == 204

    async def gone_on_first() -> bool:
        return (await ask(first))["could_help"] is False

    await eventually(gone_on_first, timeout_s=10)
    gone = await first.client.get("/v1/assistant/articles/en/gizmotron-flux", headers=ENGINEER)
    assert gone.status_code == 404


async def test_the_shipped_articles_are_seeded_once_and_listed_for_staff(instances: tuple[Running, Running]) -> None:
    first, _ = instances
    page = await first.client.get("/v1/assistant/articles", params={"language": "zh", "limit": 500}, headers=ENGINEER)
    body = page.json()
    assert body["total"] == 41 == len(body["articles"])
    assert {a["origin"] for a in body["articles"]} == {"shipped"}
    assert body["next_offset"] is None
    one = await first.client.get("/v1/assistant/articles/zh/alerts-lark", headers=ENGINEER)
    assert one.status_code == 200
    assert one.json()["url"] == "/zh/docs/support/alerts-lark"
    assert "##" in one.json()["body"]


async def test_a_markdown_document_with_front_matter_is_accepted_and_bad_front_matter_names_the_field(
    instances: tuple[Running, Running],
) -> None:
    first, _ = instances
    doc = "---\nid: gizmo-zh\ntitle: 旋转磁通电容\nlanguage: zh\ntags: [gizmotron]\n---\n"
    doc += "介绍。\n\n## 步骤\n\n打开控制台。\n"
    created = await first.client.post("/v1/assistant/articles", json={"markdown": doc}, headers=ENGINEER)
    assert created.status_code == 201, created.text
    assert created.json()["url"] == "/zh/docs/support/gizmo-zh"
    again = await first.client.post("/v1/assistant/articles", json={"markdown": doc}, headers=ENGINEER)
    assert again.status_code == 409
    cases = [
        ({"markdown": "---\ntitle: x\nlanguage: en\n---\nbody\n"}, "body.markdown", "missing id"),
        ({"markdown": "---\nid: a\ntitle: x\nlanguage: fr\n---\nbody\n"}, "body.markdown", "language"),
        ({"markdown": "---\nid: [a\n---\nbody\n"}, "body.markdown", "front matter"),
        ({"markdown": "---\nid: a\ntitle: x\nlanguage: en\n---\n## Only a heading\n"}, "body.markdown.body", "no"),
        ({"markdown": doc, "title": "both"}, "body.markdown", "not both"),
        (ARTICLE | {"language": "fr"}, "body.language", "'en' or 'zh'"),
        (ARTICLE | {"id": "Not An Id"}, "body.id", "pattern"),
        ({k: v for k, v in ARTICLE.items() if k != "title"}, "body.title", "required"),
        (ARTICLE | {"body": "x" * 20_001}, "body.body", "at most 20000 characters"),
    ]
    for body, field, words in cases:
        answer = await first.client.post("/v1/assistant/articles", json=body, headers=ENGINEER)
        assert answer.status_code == 422, (body, answer.text)
        problem = answer.json()
        assert field in [e["field"] for e in problem.get("errors", [])], problem
        assert words in problem["detail"], problem
    huge = await first.client.post("/v1/assistant/articles", json=ARTICLE | {"body": "x" * 140_000}, headers=ENGINEER)
    assert huge.status_code == 413
    assert "20,000 characters" in huge.json()["detail"]
    renamed = ARTICLE | {"id": "other-id"}
    mismatch = await first.client.put("/v1/assistant/articles/en/gizmotron-flux", json=renamed, headers=ENGINEER)
    assert mismatch.status_code == 422
    assert "path names gizmotron-flux" in mismatch.json()["detail"]


async def test_only_staff_read_and_only_engineers_and_admins_change_articles(
    instances: tuple[Running, Running],
) -> None:
    first, _ = instances
    sales = bearer(TEST_JWT_SECRET, "vendor", "sales")
    assert (await first.client.get("/v1/assistant/articles", headers=CUSTOMER)).status_code == 403
    assert (await first.client.get("/v1/assistant/articles", headers=sales)).status_code == 200
    for headers in (CUSTOMER, sales):
        refused = await first.client.post("/v1/assistant/articles", json=ARTICLE | {"id": "x1"}, headers=headers)
        assert refused.status_code == 403
        assert "support_engineer" in refused.json()["detail"]
    assert (await first.client.delete("/v1/assistant/articles/en/alerts-lark", headers=CUSTOMER)).status_code == 403
    assert (await first.client.get("/v1/assistant/articles/en/alerts-lark", headers=ENGINEER)).status_code == 200
