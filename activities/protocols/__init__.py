"""Partner protocols: one adapter per published format a partner speaks (Karrio's carriers, DCSA, Tradelane's own)."""
