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
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from generator.webhook import DEFAULT_REQUEST_DEADLINE


def deadlined(seconds: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol (its `http=`), closing a connection whose request is not whole after `seconds`."""
    return type("RequestDeadlineProtocol", (_RequestDeadline,), {"deadline": seconds})


class _RequestDeadline(H11Protocol):
    deadline = DEFAULT_REQUEST_DEADLINE
    _timer: asyncio.TimerHandle | None = None
    _write_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn's
        super().connection_made(transport)
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
