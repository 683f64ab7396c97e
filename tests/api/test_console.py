"""The ops console's doors and lists (issue 22), over the real API app and a migrated SQLite read model, with no
Temporal: who may sign in, the session cookie, CSRF on every form, sign-out and revoked keys, and the lists' paging
and filters. The decisions themselves, against running workflows, are in tests/web/test_console_browser.py."""

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from babel.messages.extract import extract_from_dir
from sqlalchemy import text
from sqlmodel import Session, select

from infra.persistence.console_sessions import ConsoleSessionRow
from infra.persistence.db import ShipmentRow, make_engine, migrate
from infra.persistence.dead_letters import DeadLetterRow
from infra.persistence.reconciliation import ReconciliationRow
from infra.platform.settings import Settings
from starter.api import create_app
from starter.console import queries
from tradelane.connections import directory
from tradelane.keys import workflow_id

OPS, BACKEND = "dev-ops-key", "dev-backend-key"
AT = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
PAGES = ["/console", "/console/exceptions", "/console/shipments", "/console/shipments/S-1"]


def partner_key() -> str:
    from infra.platform.dev_secrets import dev_partner_key

    return dev_partner_key(next(iter(directory().connections)))


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'rm.db'}"
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def console(engine, environment: str = "test", **settings: Any) -> httpx.AsyncClient:
    app = create_app(Settings(environment=environment, **settings), engine=engine)
    # https, as outside development: the session cookie is Secure there and a browser sends it over https only.
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://ops.test")


async def login_token(client: httpx.AsyncClient) -> str:
    page = await client.get("/console/login")
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


async def sign_in(client: httpx.AsyncClient, key: str = OPS) -> httpx.Response:
    token = await login_token(client)
    return await client.post("/console/login", data={"key": key, "csrf_token": token, "next": "/console"})


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@pytest.fixture
async def signed_in(engine) -> AsyncIterator[httpx.AsyncClient]:
    async with console(engine) as client:
        response = await sign_in(client)
        assert response.status_code == 303, response.text
        yield client


async def test_an_ops_key_signs_in_with_a_strict_session_cookie(engine):
    async with console(engine) as client:
        response = await sign_in(client)
        assert (response.status_code, response.headers["location"]) == (303, "/console")
        cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("tradelane_console="))
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "secure", "samesite=strict", "path=/console"} <= flags
        inbox = await client.get("/console")
        assert inbox.status_code == 200 and "dev-ops" in inbox.text
        assert "frame-ancestors 'none'" in inbox.headers["content-security-policy"]
    with Session(engine) as session:
        (row,) = session.exec(select(ConsoleSessionRow)).all()
    # The table holds a digest, never the cookie's session id.
    assert row.key_name == "dev-ops" and row.session_digest not in cookie


async def test_in_development_the_cookie_is_not_secure_so_plain_http_on_localhost_works(engine):
    async with console(engine, environment="development") as client:
        response = await sign_in(client)
        cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("tradelane_console="))
        assert "secure" not in cookie.lower() and "httponly" in cookie.lower()


@pytest.mark.parametrize("key", [BACKEND, "partner"], ids=["backend", "partner"])
async def test_backend_and_partner_keys_cannot_sign_in(engine, key):
    async with console(engine) as client:
        response = await sign_in(client, partner_key() if key == "partner" else key)
        assert response.status_code == 403
        assert "the console is for ops keys only" in response.text
        assert "tradelane_console=" not in "".join(response.headers.get_list("set-cookie"))
        assert (await client.get("/console")).status_code == 303  # still not signed in


async def test_an_unknown_key_is_refused_and_named(engine):
    async with console(engine) as client:
        response = await sign_in(client, "not-a-key")
        assert response.status_code == 401 and "key: not a known key" in response.text


@pytest.mark.parametrize("key", [BACKEND, "partner"], ids=["backend", "partner"])
@pytest.mark.parametrize("path", PAGES)
async def test_backend_and_partner_keys_get_403_on_every_page(engine, key, path):
    async with console(engine) as client:
        presented = partner_key() if key == "partner" else key
        response = await client.get(path, headers={"Authorization": f"Bearer {presented}"})
        assert response.status_code == 403


@pytest.mark.parametrize("path", PAGES)
async def test_without_a_session_a_page_sends_the_browser_to_sign_in(engine, path):
    async with console(engine) as client:
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/console/login?next=")


FORMS = [
    ("/console/logout", {}),
    ("/console/shipments/S-1/decide", {"gate": "high_value", "decision": "approve", "comment": "ok"}),
    ("/console/replenishments/replenishment:r1/decide", {"suggestion_id": "s1", "decision": "approve"}),
]


@pytest.mark.parametrize(("path", "fields"), FORMS, ids=["logout", "decide", "replenishment"])
@pytest.mark.parametrize("token", [None, "wrong"], ids=["missing", "wrong"])
async def test_every_form_refuses_a_missing_or_wrong_csrf_token(signed_in, path, fields, token):
    data = dict(fields) | ({"csrf_token": token} if token else {})
    response = await signed_in.post(path, data=data)
    # Refused before anything is asked of Temporal (the app here has no Temporal client at all).
    assert response.status_code == 403 and "csrf_token" in response.text
    assert (await signed_in.get("/console")).status_code == 200  # the session still stands: sign-out did not happen


@pytest.mark.parametrize("token", [None, "wrong"], ids=["missing", "wrong"])
async def test_the_sign_in_form_refuses_a_missing_or_wrong_csrf_token(engine, token):
    async with console(engine) as client:
        await login_token(client)
        response = await client.post("/console/login", data={"key": OPS} | ({"csrf_token": token} if token else {}))
        assert response.status_code == 403
        assert (await client.get("/console")).status_code == 303


async def test_a_form_without_a_session_is_answered_401(engine):
    async with console(engine) as client:
        response = await client.post("/console/shipments/S-1/decide", data={"gate": "high_value"})
        assert response.status_code == 401


async def test_sign_out_ends_the_session_everywhere(signed_in, engine):
    inbox = await signed_in.get("/console")
    cookie = signed_in.cookies.get("tradelane_console")
    response = await signed_in.post("/console/logout", data={"csrf_token": csrf_of(inbox.text)})
    assert (response.status_code, response.headers["location"]) == (303, "/console/login")
    with Session(engine) as session:
        assert session.exec(select(ConsoleSessionRow)).all() == []
    # Another API process, the old cookie presented again: not signed in.
    async with console(engine) as other:
        other.cookies.set("tradelane_console", cookie, domain="ops.test", path="/console")
        assert (await other.get("/console")).status_code == 303


async def test_a_session_lives_in_the_database_so_another_process_knows_it(signed_in, engine):
    cookie = signed_in.cookies.get("tradelane_console")
    async with console(engine) as other:
        other.cookies.set("tradelane_console", cookie, domain="ops.test", path="/console")
        assert (await other.get("/console")).status_code == 200


async def test_a_revoked_key_ends_its_sessions(signed_in, engine):
    cookie = signed_in.cookies.get("tradelane_console")
    keys = [{"name": "ops-anna", "role": "ops", "key": "anna-" + "k" * 40}]
    async with console(engine, api_keys=keys) as other:  # dev-ops is no longer configured
        other.cookies.set("tradelane_console", cookie, domain="ops.test", path="/console")
        assert (await other.get("/console")).status_code == 303


async def test_an_expired_session_signs_nobody_in(signed_in, engine):
    with Session(engine) as session:
        row = session.exec(select(ConsoleSessionRow)).one()
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.add(row)
        session.commit()
    assert (await signed_in.get("/console")).status_code == 303


async def test_after_sign_in_the_browser_returns_where_it_was_going_but_never_off_site(engine):
    async with console(engine) as client:
        token = await login_token(client)
        response = await client.post("/console/login", data={"key": OPS, "csrf_token": token,
                                                             "next": "/console/exceptions"})
        assert response.headers["location"] == "/console/exceptions"
    async with console(engine) as client:
        token = await login_token(client)
        response = await client.post("/console/login", data={"key": OPS, "csrf_token": token,
                                                             "next": "https://evil.example/"})
        assert response.headers["location"] == "/console"


# ---- lists ----------------------------------------------------------------------------------------------------


def shipment_row(i: int, **fields: Any) -> ShipmentRow:
    values: dict[str, Any] = dict(
        shipment_id=f"S-{i:05d}", workflow_id=workflow_id(f"S-{i:05d}"), merchant_id=f"m{i % 3}",
        origin_country="CN", destination_country="DE" if i % 2 else "US", stage="transit", status="in_progress",
        declared_value="100.00", currency="EUR", created_at=AT, updated_at=AT + timedelta(minutes=i // 2),
        order_ref=f"ORD-{i:05d}", tracking_number=f"1Z{i:08d}")
    values.update(fields)
    return ShipmentRow(**values)


def seed(engine, rows: list[ShipmentRow]) -> None:
    with Session(engine) as session:
        session.add_all(rows)
        session.commit()


def test_search_pages_through_every_shipment_once_newest_first(engine):
    seed(engine, [shipment_row(i) for i in range(137)])  # two rows share each updated_at: the id breaks the tie
    seen, after = [], ""
    while True:
        page = queries.search(engine, queries.Search(after=after), limit=50)
        seen += [row.shipment_id for row in page.rows]
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert len(seen) == 137 and len(set(seen)) == 137
    expected = sorted((shipment_row(i) for i in range(137)), key=lambda r: (r.updated_at, r.shipment_id), reverse=True)
    assert seen == [r.shipment_id for r in expected]


@pytest.mark.parametrize(("criteria", "expected"), [
    (queries.Search(q="ORD-00042"), ["S-00042"]),
    (queries.Search(q="1Z00000007"), ["S-00007"]),
    (queries.Search(q="S-00011"), ["S-00011"]),
    (queries.Search(merchant="m1", country="de"), ["S-00007", "S-00001"]),
    (queries.Search(status="delayed"), ["S-00005"]),
    (queries.Search(stage="last_mile"), ["S-00003"]),
    (queries.Search(q="nothing"), []),
], ids=["order-ref", "tracking-number", "shipment-id", "merchant-and-country", "status", "stage", "no-match"])
def test_search_finds_by_id_order_ref_and_tracking_number_and_filters(engine, criteria, expected):
    rows = [shipment_row(i) for i in range(60)]
    rows[5].status, rows[3].stage = "delayed", "last_mile"
    seed(engine, rows)
    found = [r.shipment_id for r in queries.search(engine, criteria).rows]
    if criteria.merchant:
        found = found[-2:]  # the oldest two of merchant m1 to DE
    assert found == expected


def test_a_broken_cursor_is_ignored_not_an_error(engine):
    seed(engine, [shipment_row(i) for i in range(3)])
    assert len(queries.search(engine, queries.Search(after="%%%not-a-cursor")).rows) == 3


def test_the_list_and_the_inbox_read_by_index_not_by_scanning(engine):
    """What keeps a page as fast at 100,000 shipments (measured by `make bench-console`): the plan SQLite chooses."""
    with engine.connect() as connection:
        listing = " ".join(str(r) for r in connection.execute(text(
            "EXPLAIN QUERY PLAN SELECT * FROM shipments WHERE updated_at < '2026-12-07' "
            "ORDER BY updated_at DESC, shipment_id DESC LIMIT 51")))
        order_ref = " ".join(str(r) for r in connection.execute(text(
            "EXPLAIN QUERY PLAN SELECT * FROM shipments WHERE order_ref = 'ORD-1'")))
        inbox = " ".join(str(r) for r in connection.execute(text(
            "EXPLAIN QUERY PLAN SELECT * FROM shipments WHERE pending_gates > ''")))
    assert "SEARCH shipments USING INDEX ix_shipments_updated_at_shipment_id" in listing
    assert "TEMP B-TREE" not in listing  # the index gives the order: no sort
    assert "ix_shipments_order_ref" in order_ref
    assert "SEARCH shipments USING INDEX ix_shipments_pending_gates" in inbox


def test_the_exceptions_board_lists_every_kind_newest_first_and_filters(engine):
    seed(engine, [shipment_row(1, open_exceptions="late,stalled"), shipment_row(2, status="delayed"),
                  shipment_row(4, status="compensated", failure="booking refused"), shipment_row(6)])
    with Session(engine) as session:
        session.add(DeadLetterRow(kind="outbox", shipment_id="S-00006", message_key="n1", error_type="SMTPError",
                                  error="mailbox full", created_at=AT, last_failed_at=AT + timedelta(hours=2)))
        session.add(DeadLetterRow(kind="outbox", shipment_id="S-00006", message_key="n2", error_type="X",
                                  error="resolved", created_at=AT, last_failed_at=AT, resolved_at=AT))
        session.add(ReconciliationRow(shipment_id="S-00004", partner="swiftair", operation="carrier.cancel_booking",
                                      idempotency_key="k", reason="undo_failed", created_at=AT,
                                      updated_at=AT + timedelta(hours=1)))
        session.commit()
    board = queries.exceptions_board(engine)
    assert [(i.kind, i.shipment_id) for i in board] == [
        ("dead_letter", "S-00006"), ("reconciliation", "S-00004"), ("failed", "S-00004"), ("delayed", "S-00002"),
        ("late", "S-00001"), ("stalled", "S-00001")]
    assert [i.shipment_id for i in queries.exceptions_board(engine, "late")] == ["S-00001"]
    assert [i.summary for i in queries.exceptions_board(engine, "failed")] == ["transit / compensated: booking refused"]
    assert [i.kind for i in queries.exceptions_board(engine, "dead_letter")] == ["dead_letter"]


async def test_the_shipments_page_shows_a_next_link_and_finds_one_by_order_ref(signed_in, engine):
    seed(engine, [shipment_row(i) for i in range(60)])
    page = await signed_in.get("/console/shipments")
    assert page.status_code == 200 and page.text.count('href="/console/shipments/S-') == 50
    next_url = re.search(r'href="([^"]+)" rel="next"', page.text).group(1).replace("&amp;", "&")
    rest = await signed_in.get(next_url)
    assert rest.text.count('href="/console/shipments/S-') == 10
    found = await signed_in.get("/console/shipments", params={"q": "ORD-00042"})
    assert (found.status_code, found.headers["location"]) == (303, "/console/shipments/S-00042")


async def test_the_exceptions_page_filters_by_kind(signed_in, engine):
    seed(engine, [shipment_row(1, open_exceptions="late"), shipment_row(2, status="delayed")])
    page = await signed_in.get("/console/exceptions", params={"kind": "delayed"})
    assert "S-00002" in page.text and "S-00001" not in page.text


PRODUCT_NAMES = {"Tradelane"}
"""Not translated."""


def test_every_text_of_the_console_is_marked_for_translation():
    """`pybabel extract` finds the pages' text, and no template holds English outside `_()` between its tags."""
    from pathlib import Path

    import starter.console

    folder = Path(starter.console.__file__).parent
    found = {message for _, _, message, _, _ in (
        entry[:5] for entry in extract_from_dir(str(folder), method_map=[("templates/**.j2", "jinja2")],
                                                options_map={"templates/**.j2": {"extensions": "jinja2.ext.i18n"}}))}
    assert {"Approvals waiting for you", "Sign in", "Exceptions", "Landed cost", "Next page"} <= found
    for template in (folder / "templates").glob("*.j2"):
        source = re.sub(r"{#.*?#}|{%.*?%}|{{.*?}}", "", template.read_text(), flags=re.S)
        words = [w for w in re.findall(r">\s*([A-Za-z][A-Za-z ,.'()]{2,})\s*<", source)
                 if w.strip() not in PRODUCT_NAMES]
        assert words == [], f"{template.name}: text outside _(): {words}"


def seed_gates(engine, count: int) -> None:
    seed(engine, [shipment_row(i, status="on_hold", pending_gates="high_value") for i in range(count)])
    from infra.persistence.db import ApprovalRow

    with Session(engine) as session:
        for i in range(count):
            session.add(ApprovalRow(shipment_id=f"S-{i:05d}", gate_index=0, gate="high_value", stage="booking",
                                    reason=f"value {i}", opened_at=AT + timedelta(minutes=i),
                                    escalated_at=AT + timedelta(hours=1) if i == 40 else None))
        session.commit()


def test_the_inbox_lists_pending_gates_escalated_first_then_the_longest_waiting(engine):
    seed_gates(engine, 5)
    from infra.persistence.db import ApprovalRow

    with Session(engine) as session:
        decided = session.exec(select(ApprovalRow).where(ApprovalRow.shipment_id == "S-00001")).one()
        decided.decision = "approve"  # decided: no longer waiting
        other = ApprovalRow(shipment_id="S-00002", gate_index=1, gate="packaging", stage="packaging_check",
                            reason="not pending on the row", opened_at=AT)
        session.add_all([decided, other])
        escalated = session.exec(select(ApprovalRow).where(ApprovalRow.shipment_id == "S-00004")).one()
        escalated.escalated_at = AT + timedelta(hours=2)
        session.add(escalated)
        session.commit()
    gates = queries.pending_gates(engine)
    assert [(g.shipment_id, g.gate) for g in gates] == [
        ("S-00004", "high_value"), ("S-00000", "high_value"), ("S-00002", "high_value"), ("S-00003", "high_value")]
    assert queries.count_pending_gates(engine) == 4


async def test_the_inbox_shows_a_hundred_gates_a_page(signed_in, engine):
    seed_gates(engine, 130)
    first = await signed_in.get("/console")
    assert first.text.count("<tr class=") == 100 and "Showing 1–100 of 130" in first.text
    second = await signed_in.get("/console", params={"page": 2})
    assert second.text.count("<tr class=") == 30 and "Showing 101–130 of 130" in second.text
    # The escalated gate leads the first page.
    assert first.text.index('data-shipment="S-00040"') < first.text.index('data-shipment="S-00000"')
