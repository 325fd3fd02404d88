"""The HTTP/1.1 client every channel posts through: keep-alive connections per origin, requests framed here and
answers parsed by httptools (llhttp, the parser uvicorn serves with).

It does only what delivery needs: POST a ready body, never follow a redirect, keep no cookie, send no
`Accept-Encoding` (answers come unencoded), read at most MAX_ANSWER_BYTES of an answer. Each new connection resolves
its host and refuses private, loopback and link-local addresses (DNS rebinding), except for trusted hosts. The
whole exchange, connecting included, is bounded by the delivery timeout. aiohttp did this work before; per request
it cost about eight times the CPU (bench/README.md, "a lean HTTP client"), and delivery is most of what the
process does under load.
"""

from __future__ import annotations

import asyncio
import codecs
import errno
import functools
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

import httptools
from multidict import CIMultiDict
from yarl import URL

from notify_service.domain.urls import address_problem

MAX_ANSWER_BYTES = 1 << 20  # more of an answer is read and dropped: classifying needs its start
KEEPALIVE_S = 15.0  # an idle connection older than this is closed rather than reused (servers close theirs)
USER_AGENT = "connected-care-notify"
_FORBIDDEN = frozenset("\r\n\0")

Origin = tuple[str, str, int]  # scheme, host (as sent: IDNA), port


class HttpError(Exception):
    """The exchange failed in a way HTTP describes (the server closed the connection before answering, or answered
    something that is not HTTP)."""


class InvalidUrl(HttpError):
    """A URL this client cannot send to (not http or https, no host, unparseable)."""


class ServerDisconnected(HttpError):
    """The server closed the connection before its answer was complete."""


class InvalidAnswer(HttpError):
    """The server's answer is not HTTP/1.x."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    raw_headers: tuple[tuple[bytes, bytes], ...]
    body: bytes  # at most MAX_ANSWER_BYTES

    def headers(self) -> CIMultiDict[str]:
        return CIMultiDict((k.decode("latin-1"), v.decode("latin-1")) for k, v in self.raw_headers)

    def charset(self) -> str:
        """The Content-Type's charset when Python knows it, else UTF-8."""
        for name, value in self.raw_headers:
            if name.lower() == b"content-type":
                for param in value.decode("latin-1").split(";")[1:]:
                    key, _, charset = param.strip().partition("=")
                    if key.lower() == "charset":
                        try:
                            return codecs.lookup(charset.strip().strip('"')).name
                        except LookupError:
                            break
        return "utf-8"


class _Connection(asyncio.Protocol):
    """One connection: one request at a time, the answer parsed as it arrives."""

    def __init__(self, origin: Origin, loop: asyncio.AbstractEventLoop) -> None:
        self.origin, self._loop = origin, loop
        self.transport: asyncio.Transport | None = None
        self.reusable = True
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Answer] | None = None
        self._reset()

    def _reset(self) -> None:
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._size = 0
        self._framed = False  # the answer says where its body ends (Content-Length or chunked)
        self._head_done = False

    # --- asyncio.Protocol ----------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # nothing was asked: not a server to keep talking to
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(InvalidAnswer(f"the answer is not HTTP/1.x: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        if self._head_done and not self._framed and self._waiter is not None:
            self._answer()  # its body ended with the connection
        else:
            self._fail(ServerDisconnected("the server closed the connection before answering"))

    # --- httptools callbacks -------------------------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        lowered = name.lower()
        if lowered in (b"content-length", b"transfer-encoding"):
            self._framed = True

    def on_headers_complete(self) -> None:
        self._head_done = True

    def on_body(self, body: bytes) -> None:
        room = MAX_ANSWER_BYTES - self._size
        if room > 0:
            self._body.append(body[:room])
        self._size += len(body)

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # informational: the answer follows
            self._reset()
            return
        if not self._parser.should_keep_alive():
            self.reusable = False
        self._answer()

    # --- use -----------------------------------------------------------------------------------------------------

    def usable(self, idle_after: float) -> bool:
        return (
            self.reusable
            and self.transport is not None
            and not self.transport.is_closing()
            and (self.idle_since >= idle_after)
        )

    def exchange(self, request: bytes) -> asyncio.Future[Answer]:
        assert self.transport is not None
        self._reset()
        self._waiter = waiter = self._loop.create_future()
        self.transport.write(request)
        return waiter

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.close()

    def time_out(self, seconds: float) -> None:
        """The delivery timeout passed before the answer was complete: the exchange fails, the connection closes."""
        self._fail(TimeoutError(f"no complete answer within {seconds:g}s"))

    def _answer(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(Answer(self._parser.get_status_code(), tuple(self._headers), b"".join(self._body)))

    def _fail(self, exc: Exception) -> None:
        self.close()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)


class Http1Client:
    """POSTs over kept-alive connections (at most `max_idle` kept while idle)."""

    def __init__(
        self,
        *,
        timeout_s: float,
        trusted: frozenset[str] = frozenset(),
        max_idle: int = 128,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._timeout_s, self._trusted, self._max_idle = timeout_s, trusted, max_idle
        self._ssl = ssl_context or ssl.create_default_context()
        self._idle: dict[Origin, list[_Connection]] = {}
        self._parked = 0
        self._swept = 0.0
        self._open: set[_Connection] = set()

    async def post(self, url: URL, body: bytes, headers: Mapping[str, str] | None = None) -> Answer:
        """POST a JSON `body`; the answer, whatever its status. Raises TimeoutError, OSError (connecting, refused
        addresses, TLS) or HttpError; ValueError for a header that would split the request."""
        origin, head = _framing(url)
        request = head + _extra(headers) + b"Content-Length: %d\r\n\r\n" % len(body) + body
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_s
        conn = self._take(origin, loop)
        if conn is None:
            async with asyncio.timeout_at(deadline):
                conn = await self._connect(origin, loop)
        # the exchange's bound is a timer of the loop rather than `asyncio.timeout` (a task's cancellation machinery):
        # 2.3 against 4.2 us a request, timed alone on uvloop
        answering = conn.exchange(request)
        timer = loop.call_at(deadline, conn.time_out, self._timeout_s)
        try:
            answer = await answering
        except BaseException:
            self._drop(conn)
            raise
        finally:
            timer.cancel()
        if conn.reusable:
            self._park(conn, loop)
        else:
            self._drop(conn)
        return answer

    async def close(self) -> None:
        for conn in list(self._open):
            self._drop(conn)
        self._idle.clear()
        self._parked = 0

    async def __aenter__(self) -> Http1Client:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    # --- connections ---------------------------------------------------------------------------------------------

    def _take(self, origin: Origin, loop: asyncio.AbstractEventLoop) -> _Connection | None:
        idle = self._idle.get(origin)
        fresh_after = loop.time() - KEEPALIVE_S
        while idle:
            conn = idle.pop()  # the most recently used: the least likely to have been closed by the server
            self._parked -= 1
            if conn.usable(fresh_after):
                return conn
            self._drop(conn)
        return None

    def _park(self, conn: _Connection, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        if now - self._swept > KEEPALIVE_S:
            self._sweep(now - KEEPALIVE_S)
        if self._parked >= self._max_idle:
            self._drop(conn)
            return
        conn.idle_since = now
        self._idle.setdefault(conn.origin, []).append(conn)
        self._parked += 1

    def _sweep(self, fresh_after: float) -> None:
        """Close idle connections nobody took for KEEPALIVE_S (origins no longer sent to)."""
        self._swept = fresh_after + KEEPALIVE_S
        for origin, idle in list(self._idle.items()):
            keep = []
            for conn in idle:
                if conn.usable(fresh_after):
                    keep.append(conn)
                else:
                    self._drop(conn)
            self._parked -= len(idle) - len(keep)
            if keep:
                self._idle[origin] = keep
            else:
                del self._idle[origin]

    def _drop(self, conn: _Connection) -> None:
        conn.close()
        self._open.discard(conn)

    async def _connect(self, origin: Origin, loop: asyncio.AbstractEventLoop) -> _Connection:
        scheme, host, port = origin
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        if host.lower() not in self._trusted:
            problem = address_problem(host, [str(info[4][0]) for info in infos], frozenset())
            if problem is not None:
                raise OSError(errno.EACCES, f"{host} {problem}; not sent")
        tls = scheme == "https"
        failure: OSError | None = None
        for family, _, _, _, address in infos:
            conn = _Connection(origin, loop)
            try:
                await loop.create_connection(
                    lambda conn=conn: conn,
                    host=str(address[0]),
                    port=port,
                    family=family,
                    ssl=self._ssl if tls else None,
                    server_hostname=host if tls else None,
                )
            except OSError as exc:
                failure = exc
                continue
            self._open.add(conn)
            return conn
        raise failure or OSError(errno.EHOSTUNREACH, f"{host} has no address")


@functools.lru_cache(maxsize=4096)
def _framing(url: URL) -> tuple[Origin, bytes]:
    """A URL's origin and the start of every request to it, built once."""
    if url.scheme not in ("http", "https") or not url.raw_host or url.port is None:
        raise InvalidUrl(f"cannot send to {url.scheme or 'a URL without a scheme'}:// URLs without a host")
    target = url.raw_path_qs or "/"
    _refuse_breaks("URL", target)
    head = (
        f"POST {target} HTTP/1.1\r\nHost: {url.host_port_subcomponent}\r\nUser-Agent: {USER_AGENT}\r\n"
        "Accept: */*\r\nContent-Type: application/json\r\n"
    )
    return (url.scheme, url.raw_host, url.port), head.encode("latin-1")


def _extra(headers: Mapping[str, str] | None) -> bytes:
    if not headers:
        return b""
    lines = []
    for name, value in headers.items():
        _refuse_breaks(f"header {name!r}", name + value)
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode("latin-1")


def _refuse_breaks(what: str, text: str) -> None:
    if not _FORBIDDEN.isdisjoint(text):
        raise ValueError(f"{what} contains a line break or NUL; not sent")
