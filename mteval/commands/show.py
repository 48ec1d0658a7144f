"""`mteval show RUN_DIR`: print a finished run's metrics (or its manifest as JSON)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add `mteval show`."""
    show = sub.add_parser("show", help="print a run's metrics")
    show.add_argument("run_dir", type=Path, help="a run directory (holds run.json)")
    show.add_argument("--json", action="store_true", help="print the manifest as JSON instead of the table")
    show.set_defaults(handler=cmd_show)


def cmd_show(args: argparse.Namespace) -> int:
    from mteval.redact import Redactor
    from mteval.report import print_report
    from mteval.results import read_manifest

    manifest = Redactor().deep(read_manifest(args.run_dir))  # older runs may hold URL passwords
    if args.json:
        print(json.dumps(manifest, indent=2))
    else:
        print_report(manifest, str(args.run_dir))
    return 0
