"""The one way every Tradelane process talks to Temporal."""

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from workflows.visibility import SEARCH_ATTRIBUTES

__all__ = ["SEARCH_ATTRIBUTES", "connect"]


async def connect(address: str, namespace: str = "default") -> Client:
    """A client with the pydantic data converter, so models never come back as bare dicts."""
    return await Client.connect(address, namespace=namespace, data_converter=pydantic_data_converter)
