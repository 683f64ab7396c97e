"""Activities: every side effect of a shipment (partner HTTP calls, read-model writes) lives here."""
