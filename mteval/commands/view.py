"""`mteval view`: build the leaderboard site from a results folder into a temporary
folder and serve it on 127.0.0.1 until Ctrl-C (what `inspect view` users expect).

Only the loopback interface by default: the site shows full transcripts. The temporary
folder is removed on exit; `mteval leaderboard build` is for a site to keep or publish.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
from pathlib import Path
from typing import Any

from mteval.cli_options import DEFAULT_OUTPUT_DIR

DEFAULT_PORT = 7575


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("view", help="build the leaderboard of a results folder and serve it on 127.0.0.1")
    parser.add_argument("--results", type=Path, default=DEFAULT_OUTPUT_DIR, help="folder of run directories (`results` for the committed runs)")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, help="TCP port; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on; anything but loopback exposes the transcripts")
    parser.add_argument("--title", default="mteval leaderboard", help="site title")
    parser.set_defaults(handler=cmd_view)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, got {text}")
    return value


def _quiet_handler(directory: Path) -> Any:
    """A static-file handler for `directory` that logs nothing (http.server is imported
    here, not at start-up: every `mteval` invocation imports this module)."""
    from http.server import SimpleHTTPRequestHandler

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
            pass

    return functools.partial(QuietHandler, directory=str(directory))


def cmd_view(args: argparse.Namespace) -> int:
    from http.server import ThreadingHTTPServer

    from mteval.errors import ConfigurationError
    from mteval.leaderboard import build_site

    if not Path(args.results).is_dir():
        raise ConfigurationError(
            f"--results {args.results}: not a directory (`mteval run` writes to {DEFAULT_OUTPUT_DIR}/; "
            "the repository's committed runs are in results/)"
        )
    with tempfile.TemporaryDirectory(prefix="mteval-view-") as tmp:
        site = Path(tmp) / "site"
        result = build_site(args.results, site, title=args.title)
        handler = _quiet_handler(site)
        try:
            server = ThreadingHTTPServer((args.host, args.port), handler)
        except OSError as exc:
            raise ConfigurationError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}; try --port 0") from exc
        server.daemon_threads = True
        host, port = str(server.server_address[0]), server.server_port  # an IPv4/IPv6 server: the host is a str
        print(f"leaderboard of {result.runs} runs from {args.results}: http://{host}:{port}/  (Ctrl-C to stop)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("stopped", file=sys.stderr)
        finally:
            server.server_close()
    return 0
