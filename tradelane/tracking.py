"""Each partner's tracking codes mapped to one vocabulary, through a table rather than if-chains."""

from tradelane.enums import TrackingStatus as T

STATUS_MAP: dict[str, dict[str, T]] = {
    "skyexpress": {"PU": T.PICKED_UP, "DF": T.IN_TRANSIT, "AF": T.IN_TRANSIT, "CC": T.CUSTOMS_CLEARED,
                   "AD": T.ARRIVED_AT_DESTINATION},
    "bluewave": {"GATE_IN": T.PICKED_UP, "LOADED": T.IN_TRANSIT, "VESSEL_DEPARTED": T.IN_TRANSIT,
                 "TRANSSHIPMENT": T.IN_TRANSIT, "VESSEL_ARRIVED": T.IN_TRANSIT, "DISCHARGED": T.IN_TRANSIT,
                 "AVAILABLE": T.ARRIVED_AT_DESTINATION},
    "silkrail": {"RECEIVED": T.PICKED_UP, "TRAIN_DEPARTED": T.IN_TRANSIT, "BORDER_CROSSED": T.IN_TRANSIT,
                 "TRAIN_ARRIVED": T.IN_TRANSIT, "READY_FOR_HANDOVER": T.ARRIVED_AT_DESTINATION},
    "aerocargo": {"RCS": T.PICKED_UP, "DEP": T.IN_TRANSIT, "ARR": T.IN_TRANSIT, "NFD": T.ARRIVED_AT_DESTINATION},
    "roadlink": {"COLLECTED": T.PICKED_UP, "LINEHAUL": T.IN_TRANSIT, "ARRIVED_HUB": T.ARRIVED_AT_DESTINATION},
    "parcelnow": {"SORTED": T.AT_LOCAL_DEPOT, "OUT_FOR_DELIVERY": T.OUT_FOR_DELIVERY, "DELIVERED": T.DELIVERED},
    "doorstep": {"RECEIVED_AT_DEPOT": T.AT_LOCAL_DEPOT, "ON_VEHICLE": T.OUT_FOR_DELIVERY, "POD": T.DELIVERED},
}


def normalise(partner: str, code: str) -> T:
    """Tradelane's status for a partner's code; UNKNOWN (kept, never dropped) for a code not in the table."""
    return STATUS_MAP.get(partner, {}).get(code, T.UNKNOWN)
