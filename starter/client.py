"""A small Python client of Tradelane's HTTP API, for backends and the CLI.

    from starter.client import TradelaneClient
    with TradelaneClient("http://127.0.0.1:8000", api_key="dev-backend-key") as tl:
        tl.create_shipment(json.load(open("examples/basic-cn-de.json")))
        tl.approve("SHP-2026-000207", gate="high_value", actor="ops@acme", comment="verified")
"""

import re
from typing import Any

import httpx


class TradelaneError(Exception):
    """The API refused a call; `code` and `message` come from its error body, `fields` from a 422."""

    def __init__(self, status: int, code: str, message: str, fields: list[dict[str, str]] | None = None) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status, self.code, self.message, self.fields = status, code, message, fields or []


class TradelaneUnreachable(TradelaneError):
    """No answer from the API at all (nothing listens there, the name does not resolve, the call timed out): the
    call may not have reached it, so `status` is 0."""

    def __init__(self, base_url: str, cause: httpx.TransportError) -> None:
        # httpx's text is the OS's ("[Errno 111] Connection refused"); a timeout may have none.
        reason = re.sub(r"^\[Errno -?\d+\] ", "", str(cause)).lower() or type(cause).__name__
        super().__init__(0, "API_UNREACHABLE", f"cannot reach the Tradelane API at {base_url} ({reason})")
        self.base_url = base_url


class TradelaneClient:
    def __init__(self, base_url: str = "http://127.0.0.1:8000", timeout: float = 30.0,
                 http: httpx.Client | None = None, api_key: str | None = None) -> None:
        """`api_key` is sent as `Authorization: Bearer <key>`; its role decides what the calls may do."""
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout, headers=headers)

    def __enter__(self) -> "TradelaneClient":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as err:
            raise TradelaneUnreachable(str(self._http.base_url).rstrip("/"), err) from err
        if response.is_success:
            return response
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {"code": "HTTP_ERROR", "message": response.text}
        raise TradelaneError(response.status_code, error.get("code", "HTTP_ERROR"), error.get("message", ""),
                             error.get("fields"))

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._send(method, path, **kwargs).json()

    def create_shipment(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/v1/shipments", json=request)

    def quote(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/v1/quotes", json=request)

    def document(self, name: str, request: dict[str, Any]) -> bytes:
        """A trade document of a request as PDF (`commercial-invoice`, `packing-list`); the invoice's freight is
        the booked plan's (the started shipment's, else the plan a quote chooses now)."""
        return self._send("POST", f"/v1/documents/{name}", json=request).content

    def get_shipment(self, shipment_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/shipments/{shipment_id}")

    def list_shipments(self, status: str | None = None, stage: str | None = None,
                       destination: str | None = None, exception: str | None = None,
                       limit: int = 100) -> list[dict[str, Any]]:
        params = {k: v for k, v in {"status": status, "stage": stage, "destination": destination,
                                    "exception": exception, "limit": limit}.items() if v is not None}
        return self._call("GET", "/v1/shipments", params=params)

    def events(self, shipment_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/shipments/{shipment_id}/events")

    def notifications(self, shipment_id: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/v1/shipments/{shipment_id}/notifications")

    def decide(self, shipment_id: str, gate: str, decision: str, actor: str, comment: str = "") -> dict[str, Any]:
        return self._call("POST", f"/v1/shipments/{shipment_id}/approvals",
                          json={"gate": gate, "decision": decision, "actor": actor, "comment": comment})

    def approve(self, shipment_id: str, gate: str, actor: str, comment: str = "") -> dict[str, Any]:
        return self.decide(shipment_id, gate, "approve", actor, comment)

    def reject(self, shipment_id: str, gate: str, actor: str, comment: str = "") -> dict[str, Any]:
        return self.decide(shipment_id, gate, "reject", actor, comment)

    def cancel(self, shipment_id: str, actor: str, reason: str = "") -> dict[str, Any]:
        return self._call("POST", f"/v1/shipments/{shipment_id}/cancel", json={"actor": actor, "reason": reason})

    # ---- inventory --------------------------------------------------------------------------------------------

    def stock(self, sku: str | None = None, warehouse: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in {"sku": sku, "warehouse": warehouse}.items() if v is not None}
        return self._call("GET", "/v1/inventory", params=params)

    def put_network(self, network: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", "/v1/inventory/network", json=network)

    def post_movement(self, movement: dict[str, Any]) -> list[dict[str, Any]]:
        return self._call("POST", "/v1/inventory/movements", json=movement)

    def import_sales(self, body: str | dict[str, Any], *, csv: bool) -> dict[str, Any]:
        if csv:
            return self._call("POST", "/v1/inventory/sales", content=str(body).encode(),
                              headers={"Content-Type": "text/csv"})
        return self._call("POST", "/v1/inventory/sales", json=body)

    def suggestions(self, state: str | None = None, run: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in {"state": state, "run": run}.items() if v is not None}
        return self._call("GET", "/v1/inventory/suggestions", params=params)

    def forecast(self, sku: str, warehouse: str, as_of: str | None = None) -> dict[str, Any]:
        params = {k: v for k, v in {"sku": sku, "warehouse": warehouse, "as_of": as_of}.items() if v is not None}
        return self._call("GET", "/v1/inventory/forecast", params=params)

    def start_replenishment(self) -> dict[str, Any]:
        return self._call("POST", "/v1/inventory/replenishments")

    def replenishment(self, run_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/inventory/replenishments/{run_id}")

    def decide_replenishment(self, run_id: str, actor: str, approve: list[str] | None = None,
                             reject: list[str] | None = None, approve_all: bool = False,
                             comment: str = "") -> dict[str, Any]:
        return self._call("POST", f"/v1/inventory/replenishments/{run_id}/decisions", json={
            "actor": actor, "approve": approve or [], "reject": reject or [], "approve_all": approve_all,
            "comment": comment})

    def healthy(self) -> bool:
        try:
            return self._http.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False
