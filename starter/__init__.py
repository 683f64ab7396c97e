"""Ways to start and steer shipments: the HTTP API, the `tradelane` CLI, the Python client and the demo."""
