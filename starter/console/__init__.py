"""The ops console: pages for the people who approve, unblock and inspect shipments (`starter.console.routes`)."""
