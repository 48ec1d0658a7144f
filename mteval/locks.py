"""One process per run directory: a second `mteval run` (or `judge`) on the same directory
refuses at once with a clear message instead of asking every prompt again and writing
duplicate sample lines. Refusing (rather than waiting) is deliberate: the first process
will finish the run, and a waiting copy would then only find nothing left to do."""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock, Timeout

from mteval.errors import ConfigurationError

LOCK_NAME = ".mteval.lock"


class RunDirectoryBusy(ConfigurationError):
    pass


def lock_run_dir(run_dir: Path) -> FileLock:
    """Acquire the run directory's lock (released by `.release()` or at process exit)."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigurationError(f"{run_dir}: exists and is not a directory")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise ConfigurationError(f"{run_dir}: cannot create the run directory (a parent is a file: {exc.filename})") from None
    except OSError as exc:
        raise ConfigurationError(f"{run_dir}: cannot create the run directory ({exc.strerror})") from None
    lock = FileLock(str(run_dir / LOCK_NAME), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RunDirectoryBusy(
            f"{run_dir} is in use by another mteval process (lock {run_dir / LOCK_NAME}). "
            "Wait for it to finish, then run the same command again to resume; or choose another --output-dir "
            "(or, for mteval run, another --run-id)."
        ) from None
    return lock
