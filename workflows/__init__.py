"""Temporal workflows. Deterministic code only: no I/O, no clocks but workflow.now(), no randomness."""
