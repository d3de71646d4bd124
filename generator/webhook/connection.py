"""How long a client may take to send its request: uvicorn's HTTP/1.1 protocol with a deadline.

uvicorn closes a connection left idle between two requests (`timeout_keep_alive`), but not
one that opens and sends nothing, or half a request head or body, which then holds a socket
for as long as the client likes (uvicorn 0.54, uvicorn/protocols/http/h11_impl.py: the only
timer is armed in `on_response_complete`). Enough of them and the service runs out of file
descriptors and cannot take MLflow's deliveries. A delivery is a few kilobytes sent at once,
so each request must arrive whole within a deadline of the connection's opening or of the
previous answer; a connection still waiting for its request then is closed. The time the
service takes to answer is not counted, but a client that stops reading its answers (pipelined
requests, a closed window) holds the socket just as well: once the answer waits on the client,
the client has the same deadline to take it, or the connection is dropped.

Deadlines bound how long a socket is held, not how many are: a client opening a hundred
connections a second still holds a thousand at once. So the service also holds at most
`capacity` connections; one beyond them is answered 503 at once and closed, before it can
send anything. The service keeps its file descriptors for what it must do (the journal, the
dispatches to GitHub), and MLflow retries a delivery answered 503.
"""

from __future__ import annotations

import asyncio
import time

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from generator.webhook import DEFAULT_MAX_CONNECTIONS, DEFAULT_REQUEST_DEADLINE
from generator.webhook.log import LOGGER

# All a refused client gets: no request of its is read, so nothing of it can be answered.
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 10\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 33\r\nConnection: close\r\n\r\ntoo many open connections; retry\n"
)
REFUSALS_LOGGED_EVERY = 60.0  # seconds: a flood of connections must not become a flood of log lines


def deadlined(seconds: float, capacity: int = DEFAULT_MAX_CONNECTIONS) -> type[H11Protocol]:
    """uvicorn's h11 protocol (its `http=`), closing a connection whose request is not whole after `seconds`, and
    refusing one that would make more than `capacity` open at once."""
    return type("RequestDeadlineProtocol", (_RequestDeadline,), {"deadline": seconds, "capacity": capacity})


class _Refusals:
    """Connections refused since the last log line, which says how many (one line a minute at most)."""

    count = 0
    logged_at = -REFUSALS_LOGGED_EVERY

    @classmethod
    def note(cls, capacity: int) -> None:
        cls.count += 1
        if time.monotonic() - cls.logged_at >= REFUSALS_LOGGED_EVERY:
            LOGGER.warning(
                f"refused {cls.count} connection(s): {capacity} already open",
                extra={"fields": {"action": "refused-connection", "refused": cls.count, "capacity": capacity}},
            )
            cls.count, cls.logged_at = 0, time.monotonic()


class _RequestDeadline(H11Protocol):
    deadline = DEFAULT_REQUEST_DEADLINE
    capacity = DEFAULT_MAX_CONNECTIONS
    _timer: asyncio.TimerHandle | None = None
    _write_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn's
        super().connection_made(transport)
        if len(self.connections) > self.capacity:  # this one counts: it was added above
            transport.write(_BUSY)  # a few bytes: the kernel takes them, so close does not wait on the client
            transport.close()
            _Refusals.note(self.capacity)
            return
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._taken()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        """The client is not taking what is written to it: it has `deadline` seconds to start again."""
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self.deadline, self._unread)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._taken()

    def _taken(self) -> None:
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _unread(self) -> None:
        """abort, not close: close would wait for the unread answers to be sent first, which is forever."""
        self._write_timer = None
        self.transport.abort()

    def _arm(self) -> None:
        self._disarm()
        self._timer = self.loop.call_later(self.deadline, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        """The client is still sending (or has not begun) its request: h11 waits for its head (IDLE) or body."""
        self._timer = None
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
            if self.transport.get_write_buffer_size():  # answers it has not taken: close would wait for them
                self.transport.abort()
            else:
                self.transport.close()
