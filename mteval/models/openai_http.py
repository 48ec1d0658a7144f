"""The lean transport for OpenAI-compatible chat completions: aiohttp and orjson, no SDK.

Why: profiled at concurrency 256 against a 50 ms local server, ~95% of the harness's CPU
went into the openai SDK (re-validating and re-serialising every message of the
history on each request) and its HTTP pool (scanning every connection per request).
A POST of orjson bytes over one aiohttp connection pool costs a fraction of that.

It keeps every guarantee of the SDK path: the same request body, the same reply parsing
(`parse_chat_completion`), the same provider-neutral errors (status -> `from_status`
with Retry-After, timeouts -> `RequestTimeout`, refused or dropped connections ->
`ConnectionFailed`, unreadable bodies -> `MalformedResponse`). Retries, cache and
redaction live in `ModelClient`, which calls both transports the same way.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import TYPE_CHECKING, Any, Mapping

import orjson

from mteval.errors import BadRequest, ConnectionFailed, MalformedResponse, RequestTimeout, from_status

if TYPE_CHECKING:
    import aiohttp
# aiohttp itself is imported when the first request goes out: importing it (and the TLS
# context it builds at import) costs ~0.2 s, which a run answered from the cache never needs.

DEFAULT_BASE_URL = "https://api.openai.com/v1"
ERROR_BODY_CHARS = 2000


class ChatCompletionsHTTP:
    """One connection pool per event loop, posting chat-completions bodies to `base_url`."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        timeout: float = 600.0,
        default_headers: Mapping[str, str] | None = None,
    ):
        base = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        base, basic_auth = _split_userinfo(base)
        self.url = base.rstrip("/") + "/chat/completions"
        headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json", "Accept": "application/json"}
        if basic_auth is not None:  # user:password@ in the URL wins, as with the SDK's httpx client
            headers["Authorization"] = basic_auth
        organization = organization or os.environ.get("OPENAI_ORG_ID")
        project = project or os.environ.get("OPENAI_PROJECT_ID")
        if organization:
            headers["OpenAI-Organization"] = organization
        if project:
            headers["OpenAI-Project"] = project
        headers.update(default_headers or {})
        self.headers = headers
        self.proxy = env_proxy(self.url)
        self.timeout_s = timeout
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            import aiohttp

            # A session belongs to the loop it was made on; a new asyncio.run needs a new one.
            # limit=0: the runner's worker pool already bounds how many requests are in flight.
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
            timeout = aiohttp.ClientTimeout(total=self.timeout_s)
            self._session = aiohttp.ClientSession(connector=connector, headers=self.headers, timeout=timeout)
            self._loop = loop
        return self._session

    async def create(self, body: Mapping[str, Any]) -> Any:
        """POST one request; the decoded JSON reply, or a `ModelError`."""
        try:
            data = orjson.dumps(body)
        except TypeError as exc:  # orjson.JSONEncodeError: a model arg or text that JSON cannot carry
            raise BadRequest(f"request body is not JSON-serialisable: {exc}") from exc
        session = self._get_session()
        import aiohttp  # imported by _get_session: a dictionary lookup here

        try:
            async with session.post(self.url, data=data, proxy=self.proxy) as response:
                raw = await response.read()
                status = response.status
                headers = response.headers
        except (asyncio.TimeoutError, TimeoutError) as exc:  # aiohttp's ServerTimeoutError is one too
            raise RequestTimeout(f"request timed out after {self.timeout_s:g} s") from exc
        except aiohttp.ClientPayloadError as exc:
            raise MalformedResponse(f"truncated response body: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise ConnectionFailed(f"connection error: {type(exc).__name__}: {exc}") from exc
        if status >= 400:
            text = raw[:ERROR_BODY_CHARS].decode("utf-8", errors="replace")
            raise from_status(status, f"Error code: {status} - {text}", headers)
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            try:  # orjson refuses lone surrogates ("\ud800") that the json module and the SDK accept;
                return json.loads(raw)  # ModelClient then stores them with the documented replacement
            except ValueError:
                raise MalformedResponse(f"unreadable response body: {exc}: {raw[:200]!r}") from exc

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            try:
                await self._session.close()
            except RuntimeError:  # its event loop is gone already
                pass
        self._session = None



def _split_userinfo(url: str) -> tuple[str, str | None]:
    """`url` without `user:password@`, and the Basic Authorization value they stand for
    (None without userinfo). aiohttp refuses a URL with credentials next to an
    Authorization header; the SDK's httpx client sends them as Basic auth."""
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    login, password = unquote(parts.username), unquote(parts.password or "")
    import aiohttp

    encode = getattr(aiohttp, "encode_basic_auth", None)  # aiohttp >= 3.14; BasicAuth is deprecated there
    auth = encode(login, password) if encode else aiohttp.BasicAuth(login, password).encode()
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), auth


def env_proxy(url: str) -> str | None:
    """The HTTP(S)_PROXY that applies to `url` (NO_PROXY honoured), as the SDK's httpx
    client would use it; looked up once rather than on every request."""
    import urllib.request
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy
