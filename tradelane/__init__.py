"""Tradelane's domain: the shipment contract, its states and the pure rules that decide it.

Nothing in this package does I/O or talks to Temporal, so every rule here is tested on its own and can be imported
into workflow code, which must stay deterministic.
"""
