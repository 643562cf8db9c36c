"""The ``siptm`` command line."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="siptm", description="transaction-stateful SIP proxy")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the proxy")
    run.add_argument("--config", help="TOML configuration file")
    run.add_argument("--script", help="Python routing script")
    args = parser.parse_args(argv)
    if args.command == "run":
        print("siptm run: the proxy runtime is not implemented yet", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
