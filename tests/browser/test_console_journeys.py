"""The journeys of issue 11, clicked through in Chromium: plans, Premium through sales, a refused ticket, webhook
subscribers and their delivery log, the engineers' queue and the due countdown, and organisations kept apart."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.async_api import Page, expect

from carekit_testing import eventually
from tests.browser.conftest import Stack, check_accessibility, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


# The innermost elements that reach past the right edge of the screen, to name them when the page overflows.
WIDER_THAN_THE_SCREEN = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
  .filter(e => ![...e.children].some(c => c.getBoundingClientRect().right > window.innerWidth + 1))
  .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : ''))"""


def column_of_current(page: Page) -> str:
    return "table.plans thead th:has([data-testid=current])"


async def test_owner_sees_current_on_basic_upgrades_to_enterprise_and_current_moves(stack: Stack, org: str) -> None:
    page = await stack.page(org, "org_owner")
    await page.goto("/support")
    current = page.locator(column_of_current(page))
    await expect(current).to_have_count(1)
    await expect(current).to_contain_text("Basic")
    await check_accessibility(page)
    await screenshot(page, "support-basic")

    await page.get_by_role("button", name="Upgrade to Enterprise").click()
    await expect(page.locator(".flash.ok")).to_contain_text("now on the Enterprise plan")
    await expect(page.locator(column_of_current(page))).to_contain_text("Enterprise")
    await expect(page.locator("#current-plan")).to_have_text("Enterprise")
    await expect(page.get_by_role("button", name="Downgrade to Basic")).to_be_visible()
    await page.context.close()


async def test_premium_request_is_pending_until_sales_approves_it_in_its_own_session(stack: Stack, org: str) -> None:
    owner = await stack.page(org, "org_owner")
    await owner.goto("/support")
    await owner.get_by_role("button", name="Contact sales to Premium").click()
    await expect(owner.locator(".flash.ok")).to_contain_text("pending")
    await expect(owner.locator("#sales-state")).to_contain_text("pending")
    await expect(owner.locator(column_of_current(owner))).to_contain_text("Basic")

    sales = await stack.page("vendor", "sales", "sam")
    assert sales.url.endswith("/staff/sales-requests")
    request = sales.locator("li.card", has_text=org)
    await expect(request).to_be_visible()
    await check_accessibility(sales)
    await screenshot(sales, "staff-sales-requests")
    await request.get_by_role("button", name="Approve").click()
    await expect(sales.locator(".flash.ok")).to_contain_text(f"{org} is now on Premium")
    await expect(sales.locator("li.card", has_text=org)).to_have_count(0)

    await owner.reload()
    await expect(owner.locator(column_of_current(owner))).to_contain_text("Premium")
    await expect(owner.locator("#sales-state")).to_have_count(0)
    await owner.context.close()
    await sales.context.close()


async def test_a_declined_premium_request_shows_the_customer_the_reason(stack: Stack, org: str) -> None:
    owner = await stack.page(org, "org_owner")
    await owner.goto("/support")
    await owner.get_by_role("button", name="Contact sales to Premium").click()
    await expect(owner.locator("#sales-state")).to_contain_text("pending")
    sales = await stack.page("vendor", "admin", "ada")
    await sales.goto("/staff/sales-requests")
    request = sales.locator("li.card", has_text=org)
    await request.get_by_label("Reason for declining").fill("Premium needs a signed order form first")
    await request.get_by_role("button", name="Decline").click()
    await expect(sales.locator(".flash.ok")).to_contain_text(f"Declined the request of {org}")
    await owner.reload()
    await expect(owner.locator("#sales-state")).to_contain_text("declined")
    await expect(owner.locator("#sales-state")).to_contain_text("Premium needs a signed order form first")
    await owner.context.close()
    await sales.context.close()


async def test_owner_starts_the_developer_trial_once_and_reads_the_days_left(stack: Stack, org: str) -> None:
    page = await stack.page(org, "billing_manager", "bill")
    await page.goto("/support")
    await page.get_by_role("button", name="Start the free trial").click()
    await expect(page.locator(".flash.ok")).to_contain_text("Developer trial started")
    await expect(page.locator("#trial")).to_contain_text("30 days left")
    await expect(page.locator(column_of_current(page))).to_contain_text("Developer")
    await expect(page.get_by_role("button", name="Start the free trial")).to_have_count(0)
    await page.context.close()


async def test_basic_member_reads_the_refusal_naming_the_plan_for_a_technical_ticket(stack: Stack, org: str) -> None:
    page = await stack.page(org, "member", "mia")
    await page.goto("/tickets/new")
    await check_accessibility(page)
    await page.get_by_label("Technical (a problem with a cluster)").check()
    await page.fill("#summary", "TiKV store down")
    await page.fill("#description", "one store unreachable since 09:40")
    await page.get_by_role("button", name="Open the ticket").click()
    error = page.locator("#form-error")
    await expect(error).to_contain_text("Developer")
    await expect(error).to_contain_text("Basic")
    await expect(page.locator("#summary")).to_have_value("TiKV store down")  # what was typed is kept
    await screenshot(page, "ticket-refused-on-basic")
    assert "{" not in (await error.inner_text())  # a sentence, never raw JSON
    await page.context.close()


async def test_owner_adds_a_webhook_whose_test_fails_reads_the_answer_then_one_that_passes(
    stack: Stack, org: str
) -> None:
    await stack.on_plan(org, "enterprise")
    page = await stack.page(org, "org_owner")
    await page.goto("/alerts/subscribers/new")
    await expect(page.locator("#gate-email")).to_have_count(0)  # e-mail is in every plan
    await page.get_by_role("link", name="Webhook").click()
    await page.fill("#name", "ops-hook")
    await page.fill("#project_id", "proj-1")
    from tests.receivers import Answer

    stack.receiver.script(f"/broken-{org}", Answer(404, body="no route for this hook"))
    await page.fill("#config_url", f"{stack.receiver.url}/broken-{org}")
    await page.get_by_role("button", name="Send a test and save").click()
    answer = page.locator("#endpoint-answer")
    await expect(answer).to_contain_text("HTTP 404")
    await expect(answer).to_contain_text("no route for this hook")
    await check_accessibility(page)
    await screenshot(page, "subscriber-test-failed")

    await page.fill("#config_url", f"{stack.receiver.url}/hook-{org}")
    await page.get_by_role("button", name="Send a test and save").click()
    await expect(page.locator(".flash.ok")).to_contain_text("ops-hook saved")
    row = page.locator("tr", has_text="ops-hook")
    await expect(row.locator(".badge")).to_have_text("active")
    assert [r.json()["dryRun"] for r in stack.receiver.at(f"/hook-{org}")] == [True]

    await row.get_by_role("button", name="Send a test again").click()
    await expect(page.locator(".flash.ok")).to_contain_text("Test message accepted")
    await check_accessibility(page)
    await screenshot(page, "subscribers")
    stack.receiver.script(f"/hook-{org}", Answer(410, body="hook retired"))
    await page.locator("tr", has_text="ops-hook").get_by_role("button", name="Send a test again").click()
    await expect(page.locator(".flash.error")).to_have_text(
        "The test message was not accepted: hook retired (HTTP 410)."
    )
    await page.context.close()


async def test_an_alert_sent_in_shows_up_in_the_subscribers_delivery_log(stack: Stack, org: str) -> None:
    await stack.on_plan(org, "enterprise")
    page = await stack.page(org, "org_owner")
    await page.goto("/alerts/subscribers/new?type=webhook")
    await page.fill("#name", "alerts-hook")
    await page.fill("#project_id", "proj-1")
    await page.fill("#config_url", f"{stack.receiver.url}/log-{org}")
    await page.get_by_role("button", name="Send a test and save").click()
    await expect(page.locator(".flash.ok")).to_be_visible()
    await page.locator("tr", has_text="alerts-hook").get_by_role("link", name="Delivery log").click()
    await expect(page.locator("h1")).to_contain_text("alerts-hook")
    await expect(page.locator("tr.attempt")).to_have_count(0)

    fingerprint = f"fp-{org}"
    alert = {
        "fingerprint": fingerprint,
        "org_id": org,
        "project_id": "proj-1",
        "cluster_id": "c-1",
        "rule": "node_memory_above_70pct_10m",
        "severity": "critical",
        "status": "firing",
        "starts_at": datetime.now(UTC).isoformat(),
        "summary": "TiKV node memory above 70% for 10 minutes",
    }
    sent = await stack.api("notify", "POST", "/v1/alerts", org, "org_owner", json=alert)
    assert sent.status_code == 202, sent.text
    attempt = page.locator("tr.attempt", has_text=fingerprint)  # htmx refreshes the log every 3 s
    await expect(attempt).to_have_count(1, timeout=30_000)
    await expect(attempt.locator(".badge")).to_have_text("delivered")
    await expect(page.locator("svg.chart rect")).not_to_have_count(0)
    await expect(page.locator("svg.chart title").first).to_contain_text("1 delivered")
    await check_accessibility(page)
    await screenshot(page, "delivery-log")
    await page.context.close()


async def test_engineer_answers_from_the_queue_and_the_due_countdown_stops(stack: Stack, org: str) -> None:
    await stack.on_plan(org, "enterprise")
    customer = await stack.page(org, "org_owner")
    await customer.goto("/tickets/new")
    await customer.get_by_label("Technical (a problem with a cluster)").check()
    await customer.select_option("#severity", "S2")
    await customer.fill("#summary", f"Replica lag on {org}")
    await customer.get_by_role("button", name="Open the ticket").click()
    await expect(customer.locator(".flash.ok")).to_contain_text("opened")
    ticket_url = customer.url
    due = customer.locator("#due [data-due-state]")
    await expect(due).to_have_attribute("data-due-state", "running")
    first = await due.inner_text()
    await expect(due).not_to_have_text(first, timeout=5_000)  # the countdown moves by itself
    await expect(due).to_contain_text("left")

    engineer = await stack.page("vendor", "support_engineer", "eve")
    assert engineer.url.endswith("/staff/tickets")
    row = engineer.locator("tr", has_text=f"Replica lag on {org}")
    await expect(row.locator("[data-due-state]")).to_have_attribute("data-due-state", "running")
    await check_accessibility(engineer)
    await screenshot(engineer, "staff-ticket-queue")
    await row.get_by_role("link", name=f"Replica lag on {org}").click()
    await engineer.fill("#reply", "We are looking at the replica now.")
    await engineer.get_by_role("button", name="Send").click()
    await expect(engineer.locator(".flash.ok")).to_contain_text("Reply sent")
    stopped = engineer.locator("#due [data-due-state]")
    await expect(stopped).to_have_attribute("data-due-state", "met")
    await expect(stopped).to_contain_text("before the due time")
    assert await stopped.get_attribute("data-countdown") is None
    await expect(engineer.locator("#status")).to_have_text("in progress")
    await check_accessibility(engineer)

    await customer.goto(ticket_url)
    await expect(customer.locator("#due [data-due-state]")).to_have_attribute("data-due-state", "met")
    await expect(customer.locator("ol.conversation")).to_contain_text("We are looking at the replica now.")
    await check_accessibility(customer)
    await screenshot(customer, "ticket")
    await customer.context.close()
    await engineer.context.close()


async def test_a_customer_cannot_see_another_organisations_ticket_by_changing_the_url(stack: Stack, org: str) -> None:
    secret = f"Secret outage of {org}"
    opened = await stack.api(
        "ticket", "POST", "/v1/tickets", org, "org_owner", json={"summary": secret, "severity": "S3", "kind": "billing"}
    )
    assert opened.status_code == 201, opened.text
    ticket_id = opened.json()["id"]
    owner = await stack.page(org, "org_owner")
    await owner.goto(f"/tickets/{ticket_id}")
    await expect(owner.locator("h1")).to_have_text(secret)

    stranger = await stack.page(f"other-{org}", "org_owner", "oscar")
    answer = await stranger.goto(f"/tickets/{ticket_id}")
    assert answer is not None
    assert answer.status == 404
    await expect(stranger.locator("h1")).to_have_text("Not found")
    assert secret not in await stranger.content()
    await stranger.goto("/tickets")
    assert secret not in await stranger.content()
    await stranger.goto(f"/tickets?q={ticket_id}")
    await expect(stranger.get_by_text("No tickets match.")).to_be_visible()
    await owner.context.close()
    await stranger.context.close()


async def test_a_form_post_without_its_csrf_token_is_refused_and_changes_nothing(stack: Stack, org: str) -> None:
    page = await stack.page(org, "org_owner")
    await page.goto("/support")
    without = await page.request.post("/support/plan", form={"plan": "enterprise"}, max_redirects=0)
    forged = await page.request.post(
        "/support/plan", form={"plan": "enterprise", "csrf_token": "forged.token.value"}, max_redirects=0
    )
    assert (without.status, forged.status) == (403, 403)
    assert "Form refused" in await without.text()
    await page.reload()
    await expect(page.locator(column_of_current(page))).to_contain_text("Basic")
    token = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    other = await stack.page(f"x-{org}", "org_owner")
    replayed = await other.request.post(
        "/support/plan", form={"plan": "enterprise", "csrf_token": token or ""}, max_redirects=0
    )
    assert replayed.status == 403  # a token from another browser's session is refused too
    await page.context.close()
    await other.context.close()


async def test_plain_forms_work_without_javascript(stack: Stack, org: str) -> None:
    page = await stack.page(org, "org_owner", javascript=False)
    await page.goto("/tickets/new")
    await page.get_by_label("Billing and account").check()
    await page.select_option("#severity", "S3")
    await page.fill("#summary", "Invoice shows the wrong plan")
    await page.get_by_role("button", name="Open the ticket").click()
    await expect(page.locator("h1")).to_have_text("Invoice shows the wrong plan")
    await expect(page.locator("#due")).to_contain_text("no response target")
    await page.goto("/support")
    await page.get_by_role("button", name="Upgrade to Developer").click()
    await expect(page.locator(column_of_current(page))).to_contain_text("Developer")
    await page.context.close()


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("org_owner", "/support"),
        ("org_owner", "/tickets"),
        ("org_owner", "/tickets/new"),
        ("org_owner", "/alerts/subscribers"),
        ("org_owner", "/alerts/subscribers/new?type=pagerduty"),
        ("org_owner", "/settings"),
        ("support_engineer", "/staff/tickets"),
        ("support_engineer", "/staff/dead-letters"),
        ("sales", "/staff/sales-requests"),
    ],
)
async def test_pages_fit_a_phone_width_screen(stack: Stack, org: str, role: str, path: str) -> None:
    page = await stack.page(org if role == "org_owner" else "vendor", role, phone=True)
    await page.goto(path)
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    wide = await page.evaluate(WIDER_THAN_THE_SCREEN)
    assert overflow <= 0, f"{path} is {overflow}px wider than a 390px screen: {wide}"
    if path == "/support":
        await screenshot(page, "support-phone")
    await page.context.close()


async def test_staff_and_customer_pages_pass_the_accessibility_check(stack: Stack, org: str) -> None:
    await stack.on_plan(org, "premium")
    customer = await stack.page(org, "org_owner")
    for path in ("/tickets", "/settings", "/alerts/subscribers"):
        await customer.goto(path)
        await check_accessibility(customer)
    await screenshot(customer, "settings")
    await customer.goto("/alerts/subscribers/new?type=lark")
    await check_accessibility(customer)

    engineer = await stack.page("vendor", "admin", "ada")
    for path in ("/staff/dead-letters", "/staff/orgs", f"/staff/orgs/{org}"):
        await engineer.goto(path)
        await check_accessibility(engineer)
    await engineer.fill("#tam-name", "Tia Tam")
    await engineer.fill("#tam-email", "tia@vendor.example")
    await engineer.get_by_role("button", name="Assign the TAM").click()
    await expect(engineer.locator("#tam")).to_contain_text("Tia Tam")
    await screenshot(engineer, "staff-organisation")

    await engineer.context.clear_cookies()
    await engineer.goto("/login")
    await check_accessibility(engineer)
    await engineer.goto("/dev-login")
    await check_accessibility(engineer)
    await screenshot(engineer, "dev-login")
    await customer.context.close()
    await engineer.context.close()


async def test_staff_pages_are_refused_to_customers_with_a_readable_message(stack: Stack, org: str) -> None:
    page = await stack.page(org, "org_owner")
    answer = await page.goto("/staff/tickets")
    assert answer is not None
    assert answer.status == 403
    await expect(page.locator(".flash.error")).to_contain_text(re.compile("for admin, support engineer"))
    await page.context.close()


async def test_the_accessibility_check_fails_a_page_with_a_serious_violation(stack: Stack) -> None:
    """The axe-core check is real: a page with a nameless button and an image without alt text does not pass."""
    page = await stack.browser.new_page()
    await page.set_content(
        '<!doctype html><html lang="en"><head><title>bad</title></head>'
        '<body><main><button></button><img src="data:,"></main></body></html>'
    )
    with pytest.raises(AssertionError) as failed:
        await check_accessibility(page)
    await page.close()
    assert "button-name (critical)" in str(failed.value)
    assert "image-alt (critical)" in str(failed.value)


async def test_owner_withdraws_a_pending_premium_request_and_sales_no_longer_sees_it(stack: Stack, org: str) -> None:
    owner = await stack.page(org, "org_owner")
    await owner.goto("/support")
    await owner.get_by_role("button", name="Contact sales to Premium").click()
    await expect(owner.locator("#sales-state")).to_contain_text("pending")
    await owner.get_by_role("button", name="Withdraw the request").click()
    await expect(owner.locator(".flash.ok")).to_contain_text("Premium request withdrawn")
    await expect(owner.locator("#sales-state")).to_have_count(0)
    await expect(owner.locator("#sales-requests")).to_contain_text("withdrawn")
    await expect(owner.get_by_role("button", name="Contact sales to Premium")).to_be_visible()  # may ask again
    await expect(owner.locator(column_of_current(owner))).to_contain_text("Basic")
    await check_accessibility(owner)

    sales = await stack.page("vendor", "sales", "sam")
    await expect(sales.locator("h1")).to_have_text("Sales requests")
    await expect(sales.locator("li.card", has_text=org)).to_have_count(0)
    await owner.context.close()
    await sales.context.close()


async def test_owner_sets_notification_contacts_and_a_member_reads_them(stack: Stack, org: str) -> None:
    owner = await stack.page(org, "org_owner")
    await owner.goto("/settings")
    await owner.fill("#owner_email", "ops@localhost")  # the browser takes it; plan-service wants a domain with a dot
    await owner.get_by_role("button", name="Save the contacts").click()
    await expect(owner.locator("#owner_email-error")).to_contain_text("email address")
    await expect(owner.locator("#owner_email")).to_have_value("ops@localhost")  # what was typed is kept
    assert "{" not in await owner.locator("#contacts-error").inner_text()

    await owner.fill("#owner_email", f"ops@{org}.example")
    await owner.fill("#technical_email", f"oncall@{org}.example")
    await owner.get_by_label("Developer trial started and ending").uncheck()
    await owner.get_by_role("button", name="Save the contacts").click()
    await expect(owner.locator(".flash.ok")).to_contain_text("Notification contacts saved")
    await expect(owner.locator("#owner_email")).to_have_value(f"ops@{org}.example")
    await expect(owner.locator("#technical_email")).to_have_value(f"oncall@{org}.example")
    await expect(owner.get_by_label("Developer trial started and ending")).not_to_be_checked()
    retirement = owner.get_by_label("Legacy plan retirement warnings and the move (always sent)")
    await expect(retirement).to_be_checked()
    await expect(retirement).to_be_disabled()
    await check_accessibility(owner)
    await screenshot(owner, "settings-contacts")

    member = await stack.page(org, "member", "mia")
    await member.goto("/settings")
    contacts = member.locator("#contacts")
    await expect(contacts).to_contain_text(f"ops@{org}.example")
    await expect(contacts).to_contain_text("trial")
    await expect(member.get_by_role("button", name="Save the contacts")).to_have_count(0)
    await owner.context.close()
    await member.context.close()


async def test_a_notice_the_mail_server_refused_is_listed_beside_dead_letters_and_re_driven(
    stack: Stack, org: str
) -> None:
    refused = f"bounce@{org}.example"
    stack.refuse.add(refused)  # the organisation's mailbox refuses mail (550) until it is fixed
    owner = await stack.page(org, "org_owner")
    await owner.goto("/settings")
    await owner.fill("#owner_email", refused)
    await owner.get_by_role("button", name="Save the contacts").click()
    await expect(owner.locator(".flash.ok")).to_contain_text("Notification contacts saved")
    await owner.goto("/support")
    await owner.get_by_role("button", name="Start the free trial").click()
    await expect(owner.locator("#trial")).to_contain_text("days left")

    engineer = await stack.page("vendor", "support_engineer", "eve")
    row = engineer.locator("tr.failed-message", has_text=org)

    async def listed() -> bool:  # notify-service sends the notice on its own time: look until it has failed
        await engineer.goto(f"/staff/dead-letters?org_id={org}")
        return await row.count() > 0

    await eventually(listed, timeout_s=60, interval_s=0.5)
    await expect(row).to_contain_text("550")
    await expect(row).to_contain_text("trial")
    await check_accessibility(engineer)
    await screenshot(engineer, "staff-dead-letters")

    stack.refuse.discard(refused)  # the mailbox is fixed
    await row.get_by_role("button", name=re.compile("Re-drive")).click()
    await expect(engineer.locator(".flash.ok")).to_contain_text("sent again")

    async def delivered() -> bool:
        return any(refused in str(m["To"]) for m in stack.mail)

    await eventually(delivered, timeout_s=60, interval_s=0.2)
    await owner.context.close()
    await engineer.context.close()


async def test_a_customer_cannot_open_or_change_another_organisations_subscriber_by_changing_the_url(
    stack: Stack, org: str
) -> None:
    await stack.on_plan(org, "enterprise")
    hook = {"type": "webhook", "name": f"private-hook-{org}", "project_id": "proj-1"}
    saved = await stack.api(
        "notify",
        "POST",
        "/v1/subscribers",
        org,
        "org_owner",
        json=hook | {"config": {"url": f"{stack.receiver.url}/p"}},
    )
    assert saved.status_code == 201, saved.text
    subscriber_id = saved.json()["id"]

    stranger = await stack.page(f"other-{org}", "org_owner", "oscar")
    for path in (f"/alerts/subscribers/{subscriber_id}/edit", f"/alerts/subscribers/{subscriber_id}/deliveries"):
        answer = await stranger.goto(path)
        assert answer is not None
        assert answer.status == 404, path
        await expect(stranger.locator("h1")).to_have_text("Not found")
        assert hook["name"] not in await stranger.content()
    await stranger.goto("/alerts/subscribers")
    assert hook["name"] not in await stranger.content()
    token = await stranger.locator("input[name=csrf_token]").first.get_attribute("value")
    deleted = await stranger.request.post(
        f"/alerts/subscribers/{subscriber_id}/delete", form={"csrf_token": token or ""}, max_redirects=0
    )
    assert deleted.status == 303  # back to the list with the refusal; the subscriber is still there
    kept = await stack.api("notify", "GET", f"/v1/subscribers/{subscriber_id}", org, "org_owner")
    assert kept.status_code == 200
    await stranger.context.close()
