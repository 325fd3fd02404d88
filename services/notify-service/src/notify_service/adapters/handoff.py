"""The intake's rows, handed to a dispatcher in another process of this machine over a Unix socket
(`DELIVERY_HANDOFF_SOCKET`): an API process (`NOTIFY_ROLE=api`) inserts notifications as being sent by that
dispatcher and passes them over, as a process that delivers itself hands them to its own dispatcher, so that the
HTTP API and intake use one core and delivery another without a claim in Postgres between them.

Frames are a 4-byte length and a typed JSON body (`Frame`), validated on arrival. The dispatcher tells the API what
it may hand (`Handing`: its name, the partitions it holds, the targets whose backlog is full; None when it takes
nothing) on connecting, whenever that changes, and in the acknowledgement of each batch. Rows of a batch the
dispatcher has not acknowledged when the connection breaks are queued again by the API (`queue.release`, only while
they are still being sent by that dispatcher); if the dispatcher died, its leases run out and its partitions'
rows are sent again by whoever takes them (the crash bound of the dispatcher in one process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, TypeAdapter

from carekit.faults import is_outage
from notify_service.adapters import metrics, queue
from notify_service.adapters.queue import Claimed, Handing

log = logging.getLogger(__name__)
_LENGTH = struct.Struct("!I")
MAX_FRAME = 256 * 1024 * 1024  # a batch is at most one request or poll of alerts times a few subscribers
STATE_EVERY_S = 0.05  # how often the dispatcher looks whether what it may take changed
IN_USE_CHECK_S = 5.0  # how often a dispatcher whose path another one serves looks whether that one is gone
_HANDED, _REQUEUED = metrics.HANDOFF.labels("handed"), metrics.HANDOFF.labels("requeued")


class Frame(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["rows", "ack", "state"]
    seq: int = 0
    rows: list[Claimed] = []
    state: Handing | None = None


_FRAME = TypeAdapter(Frame)


def _encode(frame: Frame) -> bytes:
    body = _FRAME.dump_json(frame)
    return _LENGTH.pack(len(body)) + body


async def _read(reader: asyncio.StreamReader) -> Frame:
    (size,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    if size > MAX_FRAME:
        raise ValueError(f"a hand-off frame of {size} bytes (at most {MAX_FRAME})")
    return _FRAME.validate_json(await reader.readexactly(size))


# --- the dispatcher's end ----------------------------------------------------------------------------------------


class HandoffServer:
    """Takes rows from API processes for a dispatcher: `take` sends them (or queues again those it will not send),
    `state` says what it may take now."""

    def __init__(
        self, path: str, take: Callable[[Sequence[Claimed]], Awaitable[None]], state: Callable[[], Handing | None]
    ) -> None:
        self._path, self._take, self._state = path, take, state
        self._clients: set[asyncio.StreamWriter] = set()

    async def run(self) -> None:
        """Serve on the socket until cancelled. Another live dispatcher on the same path keeps it (this one only
        claims meanwhile, and takes the path over when that one is gone); a socket file left by a dead process is
        replaced."""
        if await _in_use(self._path):
            log.warning("another dispatcher serves %s; this one takes its notifications by claims only", self._path)
            while await _in_use(self._path):  # noqa: ASYNC110 (another process; no event to wait on)
                await asyncio.sleep(IN_USE_CHECK_S)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path)
        server = await asyncio.start_unix_server(self._client, self._path)
        os.chmod(self._path, 0o600)
        try:
            async with server:
                await server.serve_forever()
        finally:
            for writer in self._clients:  # the API processes queue again what was sent and not taken
                writer.close()
            with contextlib.suppress(OSError):
                os.unlink(self._path)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        told = self._state()
        writer.write(_encode(Frame(kind="state", state=told)))
        ticks = asyncio.create_task(self._tell_changes(writer, told))
        self._clients.add(writer)
        try:
            while True:
                frame = await _read(reader)
                if frame.kind != "rows":
                    continue
                await self._take(frame.rows)
                writer.write(_encode(Frame(kind="ack", seq=frame.seq, state=self._state())))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the API process went away; every batch it sent was taken
        except ValueError as exc:  # a frame that is not one: nothing of it can be taken; the API requeues its rows
            log.error("closing a hand-off connection: %s", exc)
        except asyncio.CancelledError:
            pass  # this process stops (the connection is closed either way)
        except Exception:  # taking a batch failed (a bug): this connection ends, the API queues its rows again
            log.exception("a hand-off connection failed")
        finally:
            self._clients.discard(writer)
            ticks.cancel()
            writer.close()

    async def _tell_changes(self, writer: asyncio.StreamWriter, told: Handing | None) -> None:
        while not writer.is_closing():
            await asyncio.sleep(STATE_EVERY_S)
            now = self._state()
            if now != told:
                writer.write(_encode(Frame(kind="state", state=now)))
                told = now


async def _in_use(path: str) -> bool:
    try:
        _reader, writer = await asyncio.open_unix_connection(path)
    except OSError:
        return False
    writer.close()
    return True


# --- the API's end -----------------------------------------------------------------------------------------------


class RemoteDispatcher:
    """A dispatcher in another process, as the intake sees one (`handing`, `hand`, `release`, `take`)."""

    def __init__(self, path: str, pool: asyncpg.Pool) -> None:
        self._path, self._pool = path, pool
        self._writer: asyncio.StreamWriter | None = None
        self._state: Handing | None = None
        self._me: str | None = None  # the dispatcher the rows were inserted for (one name per process)
        self._seq = 0
        self._unacked: dict[int, Sequence[Claimed]] = {}
        self.connected = asyncio.Event()

    def handing(self) -> list[Handing]:
        state = self.state()
        return [state] if state is not None else []

    def state(self) -> Handing | None:
        """What the dispatcher said it may take (None: nothing, or not connected)."""
        return self._state if self._writer is not None else None

    def hand(self, rows: Sequence[Claimed]) -> list[Claimed]:
        """Pass the rows over at once; returns them all when not connected (for `release`)."""
        if self._writer is None or self._writer.is_closing():
            return list(rows)
        self._seq += 1
        self._unacked[self._seq] = rows
        self._writer.write(_encode(Frame(kind="rows", seq=self._seq, rows=list(rows))))
        _HANDED.inc(len(rows))
        return []

    async def release(self, rows: Sequence[Claimed]) -> None:
        """Queue again rows inserted as being sent by the dispatcher that it will not get, each as the dispatcher it
        was inserted for (a restarted dispatcher has a new name); an outage is waited out (until then they stay with
        a dispatcher that does not know them, or is gone and loses its leases)."""
        by: dict[str | None, list[int]] = {}
        for r in rows:
            by.setdefault(r.by or self._me, []).append(r.id)
        while by:
            try:
                for me in list(by):
                    await queue.release(self._pool, by[me], me)
                    del by[me]
                return
            except Exception as exc:
                if not is_outage(exc):
                    raise
                log.warning("queueing again %d notifications failed, will retry: %s", len(rows), exc)
                await asyncio.sleep(1.0)

    async def run(self) -> None:
        """Stay connected to the dispatcher, forever: reconnect after it restarts; until then `handing` is None and
        the intake queues its rows for claims."""
        while True:
            try:
                reader, writer = await asyncio.open_unix_connection(self._path)
            except OSError:
                await asyncio.sleep(0.5)
                continue
            try:
                await self._listen(reader, writer)
            finally:
                self._writer, self._state = None, None
                self.connected.clear()
                metrics.HANDOFF_CONNECTED.set(0)
                metrics.HANDOFF_PARTITIONS.set(0)
                writer.close()
            # the connection broke (when this process stops instead, the dispatcher reads what was sent first)
            left = [row for rows in self._unacked.values() for row in rows]
            self._unacked.clear()
            if left:
                log.warning("the dispatcher's connection broke; %d notifications are queued again", len(left))
                await self.release(left)
                _REQUEUED.inc(len(left))
            await asyncio.sleep(0.1)

    async def _listen(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        try:
            while True:
                frame = await _read(reader)
                if frame.state is not None:
                    self._me = frame.state.me
                self._state = frame.state
                metrics.HANDOFF_PARTITIONS.set(len(frame.state.parts) if frame.state is not None else 0)
                if not self.connected.is_set():
                    self.connected.set()
                    metrics.HANDOFF_CONNECTED.set(1)
                if frame.kind == "ack":
                    self._unacked.pop(frame.seq, None)
        except (asyncio.IncompleteReadError, ConnectionError):
            log.warning("the dispatcher at %s closed the hand-off connection", self._path)
        except ValueError as exc:
            log.error("closing the hand-off connection: %s", exc)
