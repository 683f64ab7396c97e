"""The fault matrix's ops side of the reconciliation list (`reliability.ledgers.retry_reconciliation`): ops retry an
item until it is resolved, and an API that answers 503 (Temporal away) or 429 is asked again after its Retry-After
instead of being taken as a refusal (a 300-shipment run left an undo open, and its label live, that way)."""

import httpx

from reliability.ledgers import RECONCILIATION_PATH, retry_reconciliation

SID = "REL-1"


def ops_api(retry_answers: list[int]) -> tuple[httpx.AsyncClient, list[str]]:
    """An API whose retry route answers `retry_answers` in turn; the item is resolved once a retry was accepted."""
    calls: list[str] = []
    accepted = False

    def handle(request: httpx.Request) -> httpx.Response:
        nonlocal accepted
        calls.append(f"{request.method} {request.url.path}")
        if request.method == "GET" and request.url.path == RECONCILIATION_PATH:
            return httpx.Response(200, json={"items": [{"id": 5, "shipment_id": SID, "reason": "undo_failed",
                                                        "partner": "aerocargo", "state": "open"}]})
        if request.method == "POST":
            status = retry_answers.pop(0)
            accepted = accepted or status == 202
            return httpx.Response(status, headers={"Retry-After": "0"}, json={})
        return httpx.Response(200, json={"id": 5, "state": "resolved" if accepted else "open"})

    return httpx.AsyncClient(transport=httpx.MockTransport(handle), base_url="http://api"), calls


async def test_a_retry_answered_503_is_asked_again_until_the_item_is_resolved():
    ops, calls = ops_api([503, 429, 202])
    async with ops:
        notes = await retry_reconciliation(ops, SID, patience_s=20.0, pause_s=0.01)
    assert calls.count(f"POST {RECONCILIATION_PATH}/5/retry") == 3
    assert notes[-1] == "item 5 (undo_failed at aerocargo): 1 retries, resolved"


async def test_a_retry_refused_for_good_is_reported_and_left_open():
    ops, calls = ops_api([400])
    async with ops:
        notes = await retry_reconciliation(ops, SID, patience_s=5.0, pause_s=0.01)
    assert calls.count(f"POST {RECONCILIATION_PATH}/5/retry") == 1
    assert notes[0].startswith("item 5: retry refused: HTTP 400") and notes[-1].endswith("0 retries, open")
