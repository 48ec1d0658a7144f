"""Entry point of the llama.cpp server child process: `python -m mteval.models._llama_child
PARENT_PID -- <llama_cpp.server arguments>`.

It runs `llama_cpp.server` unchanged, plus a watchdog thread that ends the process as
soon as its parent is gone. So even a SIGKILLed mteval (no `finally`, no atexit) leaves
no server behind, on Linux and macOS alike (PR_SET_PDEATHSIG is Linux-only and is also
set, for an immediate stop).
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import threading
import time

POLL_S = 0.2


def _parent_alive(parent: int) -> bool:
    if os.getppid() != parent:  # reparented to init/subreaper: the parent died
        return False
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _watch(parent: int) -> None:
    while True:
        if not _parent_alive(parent):
            os._exit(0)  # no cleanup to wait for: the model is read-only
        time.sleep(POLL_S)


def _die_with_parent() -> None:
    if sys.platform != "linux":
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main() -> None:
    parent = int(sys.argv[1])
    if len(sys.argv) < 3 or sys.argv[2] != "--":
        raise SystemExit("usage: python -m mteval.models._llama_child PARENT_PID -- <llama_cpp.server args>")
    _die_with_parent()
    if not _parent_alive(parent):
        raise SystemExit(0)
    threading.Thread(target=_watch, args=(parent,), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    sys.argv = ["llama_cpp.server", *sys.argv[3:]]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
