"""The ops console in a real headless Chromium (Debian's package, driven by Playwright), served by the real API on
loopback, deciding shipments that really wait at their approval gate in workflows on the dev server (issue 22).

An operator signs in with the ops key, approves one held shipment and rejects another from the inbox, sees a
decision refused on a gate someone else decided meanwhile (nothing changes), watches a new held shipment appear in
the inbox without reloading, and finds a shipment by its order reference. Screenshots of each page go to
`$TRADELANE_SCREENSHOTS` (`make screenshots` writes them to docs/console/), otherwise to the test's temp folder.
"""

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright
from sqlmodel import Session, select

from infra.persistence.db import ApprovalRow
from tests.support import load_example, unique_id
from tests.web.test_tracking_page_browser import chromium_path
from tradelane.enums import Decision, Status

pytestmark = pytest.mark.temporal

DESKTOP = {"width": 1440, "height": 900}


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(),
                                                   args=["--no-sandbox", "--disable-gpu"])
        yield browser
        await browser.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("TRADELANE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def held(harness, tag: str) -> tuple[str, str]:
    """Start a high-value shipment (it waits at the `high_value` gate); returns its id and order reference."""
    shipment_id = unique_id(tag)
    body = load_example("high-value-us-jp.json", shipment_id)
    body["order_ref"] = f"NW-{shipment_id[-10:]}"
    await harness.start(body)
    await harness.until_held(shipment_id)
    return shipment_id, body["order_ref"]


async def in_inbox(harness, *shipment_ids: str) -> None:
    """Until the read model (which the inbox reads) has each shipment's open gate."""
    for _ in range(200):
        with Session(harness.engine) as session:
            found = {row.shipment_id for row in session.exec(select(ApprovalRow).where(
                ApprovalRow.decision.is_(None)))}  # type: ignore[union-attr]
        if set(shipment_ids) <= found:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not in the read model: {set(shipment_ids) - found}")


def gate_of(state):
    return next(gate for gate in state.gates if gate.kind.value == "high_value")


async def sign_in(page: Page, base: str, shots: Path) -> None:
    await page.goto(f"{base}/console")
    assert page.url.startswith(f"{base}/console/login"), page.url
    await page.screenshot(path=str(shots / "sign-in.png"))
    await page.fill("#key", "dev-ops-key")
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/console")


async def decide(page: Page, shipment_id: str, button: str, comment: str) -> None:
    row = page.locator(f'tr[data-shipment="{shipment_id}"]')
    await row.locator("textarea").fill(comment)
    await row.get_by_role("button", name=button).click()


async def test_an_operator_approves_rejects_is_refused_and_finds_a_shipment(harness, webhook_api, browser, shots,
                                                                               caplog):
    caplog.set_level(logging.INFO)
    base = webhook_api.url.replace("127.0.0.1", "localhost")  # a secure context: the cookie is Secure outside dev
    approve_id, _ = await held(harness, "con-ok")
    reject_id, reject_ref = await held(harness, "con-no")
    raced_id, _ = await held(harness, "con-race")
    await in_inbox(harness, approve_id, reject_id, raced_id)

    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    await sign_in(page, base, shots)
    for shipment_id in (approve_id, reject_id, raced_id):
        await page.locator(f'tr[data-shipment="{shipment_id}"]').wait_for()
    await page.screenshot(path=str(shots / "inbox.png"), full_page=True)

    # Approve: through the workflow's own update, acted as the signed-in key's holder.
    await decide(page, approve_id, "Approve", "invoice checked against order")
    await page.get_by_role("status").filter(has_text=f"{approve_id}: high_value approved").wait_for()
    gate = gate_of(await harness.wait_until(approve_id, lambda s: gate_of(s).decision is not None))
    assert (gate.decision, gate.actor, gate.comment) == (Decision.APPROVE, "dev-ops", "invoice checked against order")

    # Reject: the shipment is rejected and what was done is undone.
    await decide(page, reject_id, "Reject", "declared value does not match the order")
    await page.get_by_role("status").filter(has_text=f"{reject_id}: high_value rejected").wait_for()
    rejected = await harness.result(reject_id)
    assert rejected.status is Status.REJECTED and gate_of(rejected).actor == "dev-ops"

    # Someone decides the third through the API while the page still offers it: the console's decision is refused,
    # the reason is shown, and the gate keeps the first decision.
    await harness.approve(raced_id, actor="ops@api", comment="approved by phone")
    await decide(page, raced_id, "Reject", "too late")
    alert = page.get_by_role("alert")
    await alert.wait_for()
    assert "is not pending for this shipment" in await alert.inner_text()
    assert "Nothing was changed" in await alert.inner_text()
    await page.screenshot(path=str(shots / "decision-refused.png"), full_page=True)
    gate = gate_of(await harness.state(raced_id))
    assert (gate.decision, gate.actor) == (Decision.APPROVE, "ops@api")

    # One audit line per decision, accepted or refused, naming the key's holder (never the key).
    audit = [r.msg for r in caplog.records if r.name == "tradelane.audit" and isinstance(r.msg, dict)
             and r.msg.get("event") == "console decision"]
    assert [(e["shipment_id"], e["decision"], e["outcome"], e["key_name"]) for e in audit] == [
        (approve_id, "approve", "accepted", "dev-ops"), (reject_id, "reject", "accepted", "dev-ops"),
        (raced_id, "reject", "refused", "dev-ops")]
    assert "dev-ops-key" not in str(audit)

    # A new shipment waiting for a decision appears in the open inbox, without a reload.
    await page.goto(f"{base}/console")
    await page.evaluate("window.__stillThisPage = true")
    late_id, _ = await held(harness, "con-live")
    await page.locator(f'tr[data-shipment="{late_id}"]').wait_for(timeout=30_000)
    assert await page.evaluate("window.__stillThisPage === true")
    await harness.approve(late_id, actor="ops@api")

    # Find the rejected shipment by its order reference: its page, with the decision trail.
    await page.fill("#find-q", reject_ref)
    await page.press("#find-q", "Enter")
    await page.wait_for_url(f"{base}/console/shipments/{reject_id}")
    heading = await page.locator("h1").inner_text()
    assert reject_id in heading and "rejected" in heading
    body = await page.locator("main").inner_text()
    assert "declared value does not match the order" in body and "dev-ops" in body
    assert "haruto.sato@example.jp" not in await page.content()  # e-mail addresses are masked
    await page.screenshot(path=str(shots / "shipment.png"), full_page=True)

    # The approved shipment went on: its page shows the plan, landed cost by line and payer, and CO2e per leg.
    await harness.wait_until(approve_id, lambda s: s.assessment is not None and s.plan is not None)
    await page.goto(f"{base}/console/shipments/{approve_id}")
    body = await page.locator("main").inner_text()
    assert "seller pays" in body and "kg CO2e" in body and "invoice checked against order" in body
    await page.screenshot(path=str(shots / "shipment-approved.png"), full_page=True)

    await page.goto(f"{base}/console/exceptions")
    assert reject_id in await page.locator("main").inner_text()
    await page.screenshot(path=str(shots / "exceptions.png"), full_page=True)
    await page.goto(f"{base}/console/shipments")
    await page.screenshot(path=str(shots / "shipments.png"), full_page=True)
    await context.close()
