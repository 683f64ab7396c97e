"""FastAPI dependencies shared by every router: what `create_app` puts on `app.state` (the Temporal client, the
database engine, the settings, the rule book and screening list, the partners' gateway)."""

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from temporalio.client import Client

from activities.http import PartnerGateway
from infra.platform.settings import Settings
from tradelane.decisions.screening import ScreeningList
from tradelane.rules import RuleBook


def temporal(request: Request) -> Client:
    return request.app.state.client


def database(request: Request) -> Engine:
    return request.app.state.engine


def settings(request: Request) -> Settings:
    return request.app.state.settings


def rule_book(request: Request) -> RuleBook:
    return request.app.state.book


def screening_list(request: Request) -> ScreeningList | None:
    return request.app.state.screening


def gateway(request: Request) -> PartnerGateway:
    return request.app.state.gateway


TemporalDep = Annotated[Client, Depends(temporal)]
EngineDep = Annotated[Engine, Depends(database)]
SettingsDep = Annotated[Settings, Depends(settings)]
BookDep = Annotated[RuleBook, Depends(rule_book)]
ScreeningDep = Annotated[ScreeningList | None, Depends(screening_list)]
"""The denied-party list of `TRADELANE_SCREENING_LIST`, or None when the built-in screening is used."""
GatewayDep = Annotated[PartnerGateway, Depends(gateway)]
"""The partners' HTTP API, for quotes asked outside any workflow."""
