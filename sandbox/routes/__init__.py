"""HTTP routes of the sandbox, one module per partner kind plus the control endpoints."""
