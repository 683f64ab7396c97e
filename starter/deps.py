"""FastAPI dependencies shared by every router: the Temporal client and the database engine the app was built with
(`create_app` puts them on `app.state`)."""

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from temporalio.client import Client


def temporal(request: Request) -> Client:
    return request.app.state.client


def database(request: Request) -> Engine:
    return request.app.state.engine


TemporalDep = Annotated[Client, Depends(temporal)]
EngineDep = Annotated[Engine, Depends(database)]
