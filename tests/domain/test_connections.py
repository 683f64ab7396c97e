"""Partner connections are data: the file validates at import, and a bad row fails naming its partner and field."""

import pytest
from pydantic import ValidationError

from sandbox.partners import PARTNERS as SANDBOX_PARTNERS
from tradelane.connections import EventDelivery, PartnerProtocol, connection, directory, parse_directory
from tradelane.enums import Aircraft, Mode, PartnerKind


def row(**fields: object) -> dict:
    return {"kind": "carrier", "display_name": "Test carrier", "protocol": "tradelane", "tracking": "poll",
            "modes": ["road"], **fields}


def test_the_shipped_directory_names_every_partner_once_with_a_protocol() -> None:
    connections = directory().connections
    assert {c.kind for c in connections.values()} == set(PartnerKind)
    assert all(c.name == name for name, c in connections.items())
    assert connection("clearpath").protocol is PartnerProtocol.TRADELANE


def test_regions_expand_and_norway_stays_a_country() -> None:
    # YAML 1.1 reads a bare NO as false: the file quotes it, and the region keeps it.
    europe_road = directory().regions["EUROPE_ROAD"]
    assert "NO" in europe_road and "DE" in europe_road and False not in europe_road
    assert len(directory().regions["EU"]) == 27
    assert connection("roadlink").lanes[0].serves("NO", "DE")


def test_a_row_with_a_credential_value_instead_of_a_reference_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"credentials.client_secret: name the environment variable"):
        parse_directory({"connections": {"acme": row(credentials={"client_secret": "s3cr3t-value"})}})


def test_a_karrio_row_must_name_an_installed_carrier() -> None:
    with pytest.raises(ValidationError, match=r"options.carrier"):
        parse_directory({"connections": {"acme": row(protocol="karrio", options={"carrier": "acme_post"})}})


def test_a_carrier_runs_a_mode_and_only_last_mile_rows_serve_countries() -> None:
    with pytest.raises(ValidationError, match="modes"):
        parse_directory({"connections": {"acme": row(modes=[])}})
    with pytest.raises(ValidationError, match="serves"):
        parse_directory({"connections": {"acme": row(serves=["DE"])}})


def test_unknown_fields_and_bad_names_are_refused() -> None:
    with pytest.raises(ValidationError, match="colour"):
        parse_directory({"connections": {"acme": row(colour="red")}})
    with pytest.raises(ValidationError, match="name"):
        parse_directory({"connections": {"Acme Freight": row()}})


def test_the_address_is_absolute_or_below_the_partners_base_url() -> None:
    parsed = parse_directory({"connections": {
        "ups": row(protocol="karrio", options={"carrier": "ups"}, modes=["air_express"]),
        "line": row(protocol="dcsa", modes=["ocean_lcl"]),
        "live": row(protocol="karrio", options={"carrier": "fedex"}, modes=["air_express"],
                    base_url="https://carrier.example/"),
        "own": row(),
    }}).connections
    assert parsed["ups"].url("http://127.0.0.1:8100/") == "http://127.0.0.1:8100/ups"
    assert parsed["line"].url("http://127.0.0.1:8100") == "http://127.0.0.1:8100/dcsa/line"
    assert parsed["live"].url("http://127.0.0.1:8100") == "https://carrier.example"
    assert parsed["own"].url("http://127.0.0.1:8100") == "http://127.0.0.1:8100/partners/own"
    assert parsed["ups"].modes == frozenset({Mode.AIR_EXPRESS})


def test_delivery_says_whether_a_partner_pushes_and_whether_it_is_polled() -> None:
    assert (EventDelivery.BOTH.pushes, EventDelivery.BOTH.polled) == (True, True)
    assert (EventDelivery.POLL.pushes, EventDelivery.WEBHOOK.polled) == (False, False)


def test_the_express_carriers_are_karrio_connections_that_tradelane_polls() -> None:
    for name in ("ups", "dhl_express", "fedex"):
        row = connection(name)
        assert (row.kind, row.protocol, row.options["carrier"], row.tracking) == (
            PartnerKind.CARRIER, PartnerProtocol.KARRIO, name, EventDelivery.POLL)
        assert row.modes == {Mode.AIR_EXPRESS} and row.aircraft is Aircraft.CARGO
        assert all(variable.startswith(f"TRADELANE_{name.upper()}_") for variable in row.credentials.values())
        # The planner checks the same limits the carrier's emulator enforces.
        limits = SANDBOX_PARTNERS[name].carrier_terms().limits
        assert (row.max_parcel_kg, row.max_parcel_length_cm) == (limits.max_weight_kg, limits.max_length_cm)


def test_roadie_is_a_polled_karrio_courier_delivering_in_the_us() -> None:
    roadie = connection("roadie")
    assert (roadie.kind, roadie.protocol, roadie.options, roadie.tracking) == (
        PartnerKind.LAST_MILE, PartnerProtocol.KARRIO, {"carrier": "roadie"}, EventDelivery.POLL)
    assert roadie.serves == {"US"} and roadie.credentials == {"api_key": "TRADELANE_ROADIE_API_KEY"}
