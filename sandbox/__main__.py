"""Runs the sandbox: ``python -m sandbox --host 127.0.0.1 --port 8100 --config path.yaml``."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from sandbox.app import create_app
from sandbox.config import ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    """Parses arguments, loads the config and serves the sandbox until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="Tradelane carrier sandbox")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--config", default=None, help="YAML config; default: the packaged default.yaml")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
