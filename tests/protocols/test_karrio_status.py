"""The Karrio tracking table: each row's rule, named after it, and that nothing falls through to an error."""

import karrio.core.units as units
import pytest

from tradelane.enums import TrackingStatus
from tradelane.karrio_status import karrio_status, karrio_tracking


@pytest.mark.parametrize(("carrier", "status", "reason", "code", "expected"), [
    pytest.param("ups", "picked_up", None, "PU", TrackingStatus.PICKED_UP, id="picked_up"),
    pytest.param("ups", "in_transit", None, "DP", TrackingStatus.IN_TRANSIT, id="in_transit"),
    pytest.param("ups", "out_for_delivery", None, "OT", TrackingStatus.OUT_FOR_DELIVERY, id="out_for_delivery"),
    pytest.param("ups", "ready_for_pickup", None, "RP", TrackingStatus.AT_LOCAL_DEPOT, id="ready_for_pickup_at_depot"),
    pytest.param("ups", "delivered", None, "KB", TrackingStatus.DELIVERED, id="delivered"),
    pytest.param("ups", "delivery_failed", None, "RF", TrackingStatus.DELIVERY_FAILED, id="delivery_failed"),
    pytest.param("ups", "on_hold", None, "X", TrackingStatus.EXCEPTION, id="on_hold_without_reason_is_exception"),
    pytest.param("ups", "on_hold", "customs_documentation", "CM", TrackingStatus.CUSTOMS_HOLD,
                 id="customs_reason_on_a_hold_is_customs_hold"),
    pytest.param("ups", "delivery_delayed", "consignee_not_home", "NH", TrackingStatus.DELIVERY_FAILED,
                 id="consignee_reason_is_a_failed_delivery"),
    pytest.param("ups", "in_transit", "consignee_access_restricted", "AR", TrackingStatus.IN_TRANSIT,
                 id="reason_never_overrides_an_ordinary_scan"),
    pytest.param("ups", "pending", None, "MP", TrackingStatus.UNKNOWN, id="pending_has_no_tradelane_status"),
    pytest.param("ups", None, None, "ZZ9", TrackingStatus.UNKNOWN, id="no_karrio_status_is_unknown"),
    pytest.param("ups", "teleported", None, "T", TrackingStatus.UNKNOWN, id="a_new_karrio_status_is_unknown"),
    pytest.param("fedex", "in_transit", None, "CC", TrackingStatus.CUSTOMS_CLEARED, id="fedex_cleared_customs_code"),
    pytest.param("fedex", "delivery_delayed", None, "CD", TrackingStatus.CUSTOMS_HOLD, id="fedex_clearance_delay"),
    pytest.param("dhl_express", "in_transit", None, "CD", TrackingStatus.CUSTOMS_HOLD, id="dhl_clearance_delay"),
    pytest.param("dhl_express", None, None, "CR", TrackingStatus.CUSTOMS_CLEARED, id="dhl_clearance_release"),
    pytest.param("ups", "in_transit", None, "CC", TrackingStatus.IN_TRANSIT, id="raw_codes_are_per_carrier"),
    # An express carrier's leg ends at its destination facility, where the last-mile partner takes over.
    pytest.param("ups", "in_transit", None, "AF", TrackingStatus.ARRIVED_AT_DESTINATION,
                 id="ups_arrived_at_facility_ends_the_leg"),
    pytest.param("dhl_express", "in_transit", None, "AR", TrackingStatus.ARRIVED_AT_DESTINATION,
                 id="dhl_arrived_at_delivery_facility_ends_the_leg"),
    pytest.param("fedex", "in_transit", None, "FD", TrackingStatus.ARRIVED_AT_DESTINATION,
                 id="fedex_at_destination_facility_ends_the_leg"),
    pytest.param("fedex", "in_transit", None, "AF", TrackingStatus.IN_TRANSIT,
                 id="fedex_at_a_local_facility_is_not_ups_af"),
    pytest.param("dhl_express", None, None, "QQ", TrackingStatus.UNKNOWN, id="an_unknown_dhl_code_is_unknown"),
    pytest.param("roadie", "delivery_failed", "consignee_not_home", "delivery_attempted",
                 TrackingStatus.DELIVERY_FAILED, id="roadie_attempt"),
])
def test_rule(carrier, status, reason, code, expected):
    assert karrio_status(carrier, status, reason, code) == expected


def test_every_karrio_status_and_reason_has_a_row():
    table = karrio_tracking()
    assert {s.name for s in units.TrackingStatus} <= set(table.statuses)
    unmapped = {r.name for r in units.TrackingIncidentReason} - set(table.reasons)
    assert unmapped == {"unknown"}, "the reason `unknown` deliberately leaves the status to decide"


def test_the_table_names_its_source_and_only_refines_problem_statuses():
    table = karrio_tracking()
    assert "karrio" in table.source and "TrackingStatus" in table.source
    assert table.refined_by_reason <= set(table.statuses)
    assert not table.refined_by_reason & {"in_transit", "picked_up", "delivered", "out_for_delivery"}
