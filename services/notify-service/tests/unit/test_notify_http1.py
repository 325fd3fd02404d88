"""The delivery HTTP client against servers that answer byte for byte: kept-alive connections, answers framed every
way HTTP/1.1 allows, servers that misbehave, timeouts, TLS, and requests a header could split."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
import trustme
from notify_helpers import settings, target
from yarl import URL

from care_schemas.catalogue import ChannelType
from care_schemas.events.alert import Alert
from notify_service.adapters.channels import REGISTRY
from notify_service.adapters.channels.base import SendContext
from notify_service.adapters.http1 import MAX_ANSWER_BYTES, Http1Client, InvalidAnswer, ServerDisconnected
from notify_service.adapters.resolve import delivery_session
from notify_service.domain.classify import Verdict

pytestmark = [pytest.mark.unit, pytest.mark.asyncio(loop_scope="session")]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

Answerer = Callable[[int, bytes], Awaitable[bytes | None]]  # (request number, request) -> bytes to send, None: close


@dataclass
class Raw:
    """A server that reads whole requests (head and Content-Length body) and writes what `answer` returns."""

    answer: Answerer
    close_after_answer: bool = False
    port: int = 0
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> URL:
        return URL(f"http://127.0.0.1:{self.port}/hook?x=1")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                lines = head.lower().split(b"\r\n")
                length = next((int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length")), 0)
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                out = await self.answer(len(self.requests), request)
                if out is None:
                    return
                writer.write(out)
                await writer.drain()
                if self.close_after_answer:
                    return
        finally:
            writer.close()


@asynccontextmanager
async def raw(answer: Answerer, tls: ssl.SSLContext | None = None, *, close: bool = False) -> AsyncIterator[Raw]:
    server = Raw(answer, close)
    srv = await asyncio.start_server(server._serve, "127.0.0.1", 0, ssl=tls)
    server.port = srv.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        srv.close()


def always(data: bytes) -> Answerer:
    async def answer(_n: int, _request: bytes) -> bytes:
        return data

    return answer


def client(timeout_s: float = 5.0, max_idle: int = 128) -> Http1Client:
    return Http1Client(timeout_s=timeout_s, trusted=frozenset({"127.0.0.1"}), max_idle=max_idle)


async def test_requests_to_one_origin_share_a_kept_alive_connection() -> None:
    async with raw(always(OK)) as server, client() as http:
        for _ in range(5):
            answer = await http.post(server.url, b'{"a":1}')
            assert (answer.status, answer.body) == (200, b"ok")
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /hook?x=1 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}\r\n".encode() in first
    assert b'Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{"a":1}' in first
    assert b"Cookie" not in first
    assert b"Accept-Encoding" not in first


async def test_a_server_that_closes_after_answering_gets_a_new_connection_for_the_next_request() -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    async with raw(always(closing)) as server, client() as http:
        for _ in range(3):
            assert (await http.post(server.url, b"{}")).status == 200
    assert server.connections == 3


@pytest.mark.parametrize(
    ("wire", "body"),
    [
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", b"abcde"),
        (b"HTTP/1.0 200 OK\r\n\r\nuntil the connection closes", b"until the connection closes"),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone", b"done"),
    ],
    ids=["chunked", "read-until-close", "100-continue-first"],
)
async def test_answers_framed_every_way_are_read_whole(wire: bytes, body: bytes) -> None:
    close = wire.startswith(b"HTTP/1.0")  # no length: the body ends when the server closes the connection
    async with raw(always(wire), close=close) as server, client() as http:
        for _ in range(2):
            got = await http.post(server.url, b"{}")
            assert (got.status, got.body) in ((200, body), (201, body))
    assert server.connections == (2 if close else 1)


async def test_an_answer_larger_than_the_limit_is_cut_and_the_connection_still_serves() -> None:
    big = b"x" * (MAX_ANSWER_BYTES + 5000)
    wire = b"HTTP/1.1 500 Error\r\nContent-Length: %d\r\n\r\n%s" % (len(big), big)
    async with raw(always(wire)) as server, client() as http:
        first = await http.post(server.url, b"{}")
        second = await http.post(server.url, b"{}")
    assert first.status == second.status == 500
    assert len(first.body) == MAX_ANSWER_BYTES
    assert server.connections == 1


async def test_a_server_that_closes_without_answering_is_a_network_error_and_the_next_request_reconnects() -> None:
    async def answer(n: int, _request: bytes) -> bytes | None:
        return None if n == 1 else OK

    async with raw(answer) as server, client() as http:
        with pytest.raises(ServerDisconnected):
            await http.post(server.url, b"{}")
        assert (await http.post(server.url, b"{}")).status == 200
    assert server.connections == 2


async def test_an_answer_that_is_not_http_fails_the_request_and_its_connection() -> None:
    async with raw(always(b"SSH-2.0-OpenSSH_9.6\r\n")) as server, client() as http:
        with pytest.raises(InvalidAnswer, match="not HTTP"):
            await http.post(server.url, b"{}")


async def test_a_late_answer_after_a_timeout_is_never_taken_for_the_next_requests_answer() -> None:
    async def answer(n: int, _request: bytes) -> bytes:
        if n == 1:
            await asyncio.sleep(0.5)
            return b"HTTP/1.1 500 Late\r\nContent-Length: 4\r\n\r\nlate"
        return OK

    async with raw(answer) as server, client(timeout_s=0.2) as http:
        with pytest.raises(TimeoutError):
            await http.post(server.url, b"{}")
        fresh = await http.post(server.url, b"{}")
    assert (fresh.status, fresh.body) == (200, b"ok")
    assert server.connections == 2


async def test_a_tls_handshake_that_never_ends_times_out_within_the_delivery_timeout() -> None:
    """Connecting is bounded by the same timeout as the exchange (a server that takes the connection and says
    nothing: the client waits for its TLS hello)."""
    accepted = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        await reader.read()  # until the client gives up and closes
        writer.close()

    srv = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        async with client(timeout_s=0.2) as http:
            posting = asyncio.create_task(http.post(URL(f"https://127.0.0.1:{port}/hook"), b"{}"))
            done, _ = await asyncio.wait({posting}, timeout=5)
            assert done, "the post gave up by itself"
            with pytest.raises(TimeoutError):
                posting.result()
        assert accepted.is_set(), "the connection was made; its handshake is what never ended"
    finally:
        srv.close()


async def test_a_header_value_with_a_line_break_is_refused_before_anything_is_sent() -> None:
    async with raw(always(OK)) as server, client() as http:
        with pytest.raises(ValueError, match="line break"):
            await http.post(server.url, b"{}", {"X-Token": "abc\r\nX-Injected: 1"})
    assert server.requests == []


async def test_the_answers_charset_decodes_its_text() -> None:
    wire = "HTTP/1.1 400 Bad\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Length: 4\r\n\r\ncafé"
    async with raw(always(wire.encode("latin-1"))) as server, client() as http:
        got = await http.post(server.url, b"{}")
    assert got.body.decode(got.charset()) == "café"
    assert got.headers()["content-type"].startswith("text/plain")


async def test_https_verifies_the_certificate_and_the_name(alert: Alert) -> None:
    ca = trustme.CA()
    served = ca.issue_cert("localhost")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.configure_cert(tls)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    async with raw(always(OK), tls) as server:
        good = URL(f"https://localhost:{server.port}/hook")
        trusted = frozenset({"localhost", "127.0.0.1"})
        async with Http1Client(timeout_s=5, trusted=trusted, ssl_context=trusting) as http:
            assert (await http.post(good, b"{}")).status == 200
            with pytest.raises(ssl.SSLCertVerificationError):  # the certificate names another host
                await http.post(URL(f"https://127.0.0.1:{server.port}/hook"), b"{}")
        # the platform's default trust does not know this CA: the channel reports it and nothing is delivered
        cfg = settings(notify_url_allowlist="127.0.0.1,localhost")
        t = target(ChannelType.WEBHOOK, {"url": str(good)})
        async with delivery_session(cfg) as http:
            rendered = REGISTRY[ChannelType.WEBHOOK].render([alert], t, cfg, False)
            outcome = await REGISTRY[ChannelType.WEBHOOK].send(SendContext(http, cfg), t, rendered)
    assert outcome.verdict is Verdict.RETRY
    assert "SSLCertVerificationError" in outcome.reason
    assert len(server.requests) == 1  # only the request to the right name over a trusted certificate


async def test_idle_connections_beyond_the_limit_are_closed() -> None:
    async def slow(_n: int, _request: bytes) -> bytes:
        await asyncio.sleep(0.05)
        return OK

    async with raw(slow) as server:
        http = client(max_idle=2)
        await asyncio.gather(*(http.post(server.url, b"{}") for _ in range(6)))
        assert server.connections == 6
        assert len(http._open) == 2  # the other four were closed as they came back
        assert (await http.post(server.url, b"{}")).status == 200
        await http.close()
    assert server.connections == 6
