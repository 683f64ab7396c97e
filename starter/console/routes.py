"""The ops console at `/console`: server-rendered pages over the same models and updates as the API.

Pages: sign-in, the approvals inbox, the exceptions board, shipment search, and a shipment's page. Each is plain
HTML that works without scripts; `static/console.js` adds live updates (it reloads the page's live region every
few seconds while nobody is typing in it). A decision goes through the very update the API uses
(`ShipmentWorkflow.decide`, `ReplenishmentWorkflow.decide`), validated by the same models, acted as the signed-in
key's holder; each is one audit log line (`console decision`) naming that key, the shipment, gate and outcome.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session
from temporalio.client import WorkflowUpdateFailedError

from infra.persistence.console_sessions import close_session, open_session
from infra.persistence.outbox import messages_of
from starter.auth import Caller, KeyDirectory, Role
from starter.console import queries
from starter.console.pages import render
from starter.console.session import (
    LIFETIME,
    LOGIN_CSRF_COOKIE,
    PATH,
    NotSignedIn,
    Operator,
    WrongRole,
    clear_session_cookie,
    csrf_ok,
    operator,
    secure_cookies,
    set_session_cookie,
)
from starter.errors import ApiError, not_found_as, refusal
from starter.routes import documents
from starter.routes.inventory import _run_handle
from starter.routes.shipments import ShipmentWorkflow, _update, get_shipment
from starter.routes.visibility import mask_email, tracking_events
from tradelane.enums import Stage, Status
from tradelane.inventory.models import SuggestionDecision
from tradelane.keys import workflow_id
from tradelane.models import ShipmentRequest
from tradelane.shipment.run import ShipmentInput
from tradelane.shipment.state import ApprovalDecision
from workflows.replenishment import ReplenishmentWorkflow

log = structlog.stdlib.get_logger(__name__)
audit = structlog.stdlib.get_logger("tradelane.audit")

router = APIRouter(prefix=PATH, include_in_schema=False)

MAX_FORM_BYTES = 16_384


async def _form(request: Request) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body (the console's forms post nothing else): first value per name."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise ApiError(413, "FORM_TOO_LARGE", f"a console form is at most {MAX_FORM_BYTES} bytes")
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True, strict_parsing=False, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "FORM_INVALID", "the form could not be read") from None
    return {name: values[0] for name, values in fields.items()}


def _caller(who: Operator) -> Caller:
    return Caller(name=who.key_name, role=Role.OPS, merchants=None)


def _refused(request: Request, err: Exception) -> Response:
    """The answer to a request without a live ops session."""
    if isinstance(err, WrongRole):
        return render(request, "refused.html.j2", {"message": str(err)}, status_code=403)
    if request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{PATH}/login?{urlencode({'next': target})}", status_code=303)
    return render(request, "refused.html.j2", {"message": "sign in first: your session has ended"},
                  status_code=401)


def _who(request: Request) -> Operator | Response:
    try:
        return operator(request)
    except (NotSignedIn, WrongRole) as err:
        return _refused(request, err)


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if target and target.startswith(f"{PATH}") and not target.startswith("//") and "\\" not in target:
        return target
    return PATH


# ---- sign-in ----------------------------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = PATH) -> Response:  # noqa: A002 - the query's name
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html.j2", {"csrf_token": token, "next": _safe_next(next)})
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=600, path=PATH, httponly=True,
                        secure=secure_cookies(request), samesite="strict")
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = await _form(request)
    target = _safe_next(form.get("next"))
    if not csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE, ""), form.get("csrf_token")):
        log.warning("console sign-in refused", problem="csrf")
        return render(request, "refused.html.j2", {"message": "the sign-in form expired or was not ours: "
                                                   "open the sign-in page again"}, status_code=403)
    keys: KeyDirectory = request.app.state.keys
    caller = keys.caller(form.get("key", "").strip())
    if caller is None:
        log.warning("console sign-in refused", problem="unknown key")
        return render(request, "login.html.j2", {"csrf_token": request.cookies.get(LOGIN_CSRF_COOKIE, ""),
                                                 "next": target, "error": "key: not a known key"},
                      status_code=401)
    if caller.role is not Role.OPS:
        log.warning("console sign-in refused", caller=caller.name, role=caller.role.value)
        return render(request, "refused.html.j2", {"message": f"the key {caller.name} is a {caller.role.value} "
                                                   "key; the console is for ops keys only"}, status_code=403)
    session_id, _ = await asyncio.to_thread(open_session, request.app.state.engine, caller.name,
                                            datetime.now(UTC), LIFETIME)
    audit.info("console sign-in", key_name=caller.name)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, session_id)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PATH)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    who = _who(request)
    if isinstance(who, Response):
        return who
    form = await _form(request)
    if not csrf_ok(who.csrf_token, form.get("csrf_token")):
        return render(request, "refused.html.j2", {"message": "csrf_token: missing or wrong"}, status_code=403)
    if who.session_id is not None:
        await asyncio.to_thread(close_session, request.app.state.engine, who.session_id)
    audit.info("console sign-out", key_name=who.key_name)
    response = RedirectResponse(f"{PATH}/login", status_code=303)
    clear_session_cookie(request, response)
    return response


# ---- the approvals inbox ------------------------------------------------------------------------------------------


INBOX_PAGE = 100
"""Gates per inbox page: escalated first, then the longest waiting; the rest are a click away."""


async def _inbox(request: Request, who: Operator, *, page: int = 1, done: str = "", error: str = "",
                 status_code: int = 200) -> Response:
    engine = request.app.state.engine
    total, suggestions = await asyncio.gather(asyncio.to_thread(queries.count_pending_gates, engine),
                                              asyncio.to_thread(queries.proposed_suggestions, engine))
    pages = max(1, -(-total // INBOX_PAGE))
    page = min(max(page, 1), pages)
    shown = await asyncio.to_thread(queries.pending_gates, engine, limit=INBOX_PAGE, offset=(page - 1) * INBOX_PAGE)
    return render(request, "inbox.html.j2", {
        "who": who, "gates": shown, "total": total, "page": page, "pages": pages,
        "first": (page - 1) * INBOX_PAGE + 1, "suggestions": suggestions, "now": datetime.now(UTC), "done": done,
        "error": error}, status_code=status_code)


@router.get("", response_class=HTMLResponse)
async def inbox(request: Request, done: str = "", page: int = 1) -> Response:
    who = _who(request)
    if isinstance(who, Response):
        return who
    return await _inbox(request, who, page=page, done=done[:200])


@router.post("/shipments/{shipment_id}/decide")
async def decide(request: Request, shipment_id: str) -> Response:
    who = _who(request)
    if isinstance(who, Response):
        return who
    form = await _form(request)
    back = _safe_next(form.get("back"))
    if not csrf_ok(who.csrf_token, form.get("csrf_token")):
        audit.warning("console decision", key_name=who.key_name, shipment_id=shipment_id, outcome="refused",
                      reason="csrf")
        return render(request, "refused.html.j2", {"message": "csrf_token: missing or wrong; nothing was changed"},
                      status_code=403)
    try:
        decision = ApprovalDecision.model_validate({
            "gate": form.get("gate", ""), "decision": form.get("decision", ""), "actor": who.key_name,
            "comment": form.get("comment", "")})
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        return await _decision_refused(request, who, shipment_id, back, problems, 422)
    try:
        await _update(request.app.state.client, shipment_id, ShipmentWorkflow.decide, decision, "GATE_NOT_PENDING")
    except ApiError as err:
        audit.warning("console decision", key_name=who.key_name, shipment_id=shipment_id, gate=decision.gate.value,
                      decision=decision.decision.value, outcome="refused", reason=err.code)
        return await _decision_refused(request, who, shipment_id, back, err.message, err.status)
    audit.info("console decision", key_name=who.key_name, shipment_id=shipment_id, gate=decision.gate.value,
               decision=decision.decision.value, comment=decision.comment, outcome="accepted")
    verb = "approved" if decision.decision.value == "approve" else "rejected"
    done = f"{shipment_id}: {decision.gate.value} {verb}"
    return RedirectResponse(f"{back}{'&' if '?' in back else '?'}{urlencode({'done': done})}", status_code=303)


async def _decision_refused(request: Request, who: Operator, shipment_id: str, back: str, message: str,
                            status_code: int) -> Response:
    """The page the decision came from, again, with the reason it was refused; nothing was changed."""
    error = f"{shipment_id}: {message}. Nothing was changed."
    if back.startswith(f"{PATH}/shipments/"):
        return await _shipment_page(request, who, shipment_id, error=error, status_code=status_code)
    return await _inbox(request, who, error=error, status_code=status_code)


@router.post("/replenishments/{run_id}/decide")
async def decide_suggestion(request: Request, run_id: str) -> Response:
    who = _who(request)
    if isinstance(who, Response):
        return who
    form = await _form(request)
    if not csrf_ok(who.csrf_token, form.get("csrf_token")):
        return render(request, "refused.html.j2", {"message": "csrf_token: missing or wrong; nothing was changed"},
                      status_code=403)
    suggestion, choice = form.get("suggestion_id", ""), form.get("decision", "")
    try:
        body = SuggestionDecision(actor=who.key_name, comment=form.get("comment", ""),
                                  approve=[suggestion] if choice == "approve" else [],
                                  reject=[suggestion] if choice == "reject" else [])
        if not suggestion or choice not in ("approve", "reject"):
            raise ValueError("suggestion_id and decision (approve or reject) are required")
        with_handle = _run_handle(request.app.state.client, run_id)
        try:
            await with_handle.execute_update(ReplenishmentWorkflow.decide, body)
        except WorkflowUpdateFailedError as err:
            raise refusal(err, "DECISION_REFUSED") from None
    except (ValueError, ApiError) as err:
        message = err.message if isinstance(err, ApiError) else str(err)
        audit.warning("console decision", key_name=who.key_name, run_id=run_id, suggestion_id=suggestion,
                      outcome="refused", reason=message)
        return await _inbox(request, who, error=f"{suggestion}: {message}. Nothing was changed.",
                            status_code=err.status if isinstance(err, ApiError) else 422)
    audit.info("console decision", key_name=who.key_name, run_id=run_id, suggestion_id=suggestion,
               decision=choice, outcome="accepted")
    return RedirectResponse(f"{PATH}?{urlencode({'done': f'{suggestion}: {choice}d'})}", status_code=303)


# ---- the exceptions board and search -------------------------------------------------------------------------------


@router.get("/exceptions", response_class=HTMLResponse)
async def exceptions(request: Request, kind: str = "") -> Response:
    who = _who(request)
    if isinstance(who, Response):
        return who
    chosen = kind if kind in queries.BOARD_KINDS else None
    items = await asyncio.to_thread(queries.exceptions_board, request.app.state.engine, chosen)
    return render(request, "exceptions.html.j2", {"who": who, "items": items, "kind": chosen or "",
                                                  "kinds": queries.BOARD_KINDS})


@router.get("/shipments", response_class=HTMLResponse)
async def shipments(request: Request, q: str = "", merchant: str = "", status: str = "", stage: str = "",
                    country: str = "", after: str = "") -> Response:
    who = _who(request)
    if isinstance(who, Response):
        return who
    criteria = queries.Search(q=q[:120], merchant=merchant[:64], status=status if status in Status.__members__.values()
                              else "", stage=stage if stage in Stage.__members__.values() else "",
                              country=country[:2], after=after[:300])
    page = await asyncio.to_thread(queries.search, request.app.state.engine, criteria)
    if q and len(page.rows) == 1 and not after:
        return RedirectResponse(f"{PATH}/shipments/{quote(page.rows[0].shipment_id)}", status_code=303)
    base = {k: v for k, v in (("q", criteria.q), ("merchant", criteria.merchant), ("status", criteria.status),
                              ("stage", criteria.stage), ("country", criteria.country)) if v}
    next_url = f"{PATH}/shipments?{urlencode({**base, 'after': page.next_cursor})}" if page.next_cursor else None
    return render(request, "shipments.html.j2", {"who": who, "page": page, "criteria": criteria, "next_url": next_url,
                                                 "statuses": list(Status), "stages": list(Stage)})


# ---- a shipment ---------------------------------------------------------------------------------------------------


@router.get("/shipments/{shipment_id}", response_class=HTMLResponse)
async def shipment(request: Request, shipment_id: str, done: str = "") -> Response:
    who = _who(request)
    if isinstance(who, Response):
        return who
    return await _shipment_page(request, who, shipment_id, done=done[:200])


async def _shipment_page(request: Request, who: Operator, shipment_id: str, *, done: str = "", error: str = "",
                         status_code: int = 200) -> Response:
    state = request.app.state
    try:
        view = await get_shipment(shipment_id, state.client, state.engine, state.settings, _caller(who))
    except ApiError as err:
        return render(request, "refused.html.j2", {"who": who, "message": err.message}, status_code=err.status)

    def read_model() -> tuple[list[Any], list[Any], str | None]:
        with Session(state.engine) as session:
            events = tracking_events(session, shipment_id)
        notices = [{"kind": m.kind, "channel": m.channel, "audience": m.audience, "recipient": mask_email(m.recipient),
                    "subject": m.subject, "state": m.state, "attempts": m.attempts, "last_error": m.last_error,
                    "sent_at": m.sent_at} for m in messages_of(state.engine, shipment_id)]
        return events, notices, None

    events, notices, _ = await asyncio.to_thread(read_model)
    settings = state.settings
    ui = (f"{settings.temporal_ui_url.rstrip('/')}/namespaces/{quote(settings.temporal_namespace)}/workflows/"
          f"{quote(view.workflow_id, safe='')}")
    return render(request, "shipment.html.j2", {
        "who": who, "s": view, "events": events, "notices": notices, "temporal_ui": ui, "done": done,
        "error": error, "assessment": view.assessment}, status_code=status_code)


@router.get("/shipments/{shipment_id}/documents/{document}")
async def shipment_document(request: Request, shipment_id: str, document: str) -> Response:
    """The started shipment's commercial invoice or packing list, from the request it was started with (read from
    the start of its workflow history), through the same code as `POST /v1/documents/{document}`."""
    who = _who(request)
    if isinstance(who, Response):
        return who
    if document not in ("commercial-invoice", "packing-list"):
        return render(request, "refused.html.j2", {"who": who, "message": f"document: no document {document}"},
                      status_code=404)
    state = request.app.state
    try:
        body = await started_request(state.client, shipment_id)
        return await documents.document(document, body, state.book, state.screening, state.gateway,  # type: ignore[arg-type]
                                        state.client, state.engine, state.settings, _caller(who))
    except ApiError as err:
        return render(request, "refused.html.j2", {"who": who, "message": err.message}, status_code=err.status)


async def started_request(client: Any, shipment_id: str) -> ShipmentRequest:
    """The request a shipment's workflow was started with: the input of its history's first event."""
    handle = client.get_workflow_handle(workflow_id(shipment_id))
    with not_found_as("SHIPMENT_NOT_FOUND", f"no shipment {shipment_id}"):
        async for event in handle.fetch_history_events(page_size=1):
            started = event.workflow_execution_started_event_attributes
            (inp,) = await client.data_converter.decode(started.input.payloads, [ShipmentInput])
            return inp.request  # type: ignore[no-any-return]
    raise ApiError(404, "SHIPMENT_NOT_FOUND", f"no shipment {shipment_id}")
