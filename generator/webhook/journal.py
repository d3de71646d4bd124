"""⚡ The deliveries the relay accepted, on disk: what is still to dispatch, and which ids a replay would reuse.

MLflow waits 30 s for an answer, GitHub can be slower than that, and MLflow's retry
of a delivery carries the same id. So the relay records a delivery here first, answers
at once, and dispatches in the background (`dispatcher.py`); the record makes sure
that a retry of it is answered without a second dispatch, and that a delivery
accepted before a restart is still dispatched after it.

One small JSON file per delivery id, written atomically (temporary file, fsync,
rename, fsync of the directory), so a crash leaves either the old record or the new
one. An id is kept while its dispatch is pending, and then until `ttl` seconds after
it was accepted: a delivery is only taken while its signed timestamp is within
`max_age` of our clock, either way, so an id accepted now can be replayed until
`2 * max_age` from now, and no later (`signature.fresh`). Times are wall-clock
seconds, which survive a restart.

The directory is per replica: route MLflow to one replica, or accept that a replay
may be acted on once per replica. A service holds its directory alone (`held_alone`): two
processes on one journal would each dispatch what it holds as pending, and each take a
retry the other accepted for new.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from generator.errors import EnvironmentProblem
from generator.repo_lock import holder_names

State = Literal["pending", "done", "failed"]
Claim = Literal["new", "pending", "seen", "full"]
Payload = Mapping[str, str | None]


@dataclass(frozen=True)
class Entry:
    delivery: str
    state: State
    accepted: float  # wall-clock seconds
    payload: dict[str, str | None] | None = None  # repository_dispatch's client_payload; None when nothing to send


class JournalUnwritable(Exception):
    """The journal's directory stopped taking changes after the service started (volume full, gone, read-only)."""

    def __init__(self, directory: Path, error: OSError) -> None:
        super().__init__(
            f"cannot write the delivery journal {directory}: {error.strerror or error}; check that the --state-dir"
            " volume is mounted, writable and not full"
        )


@contextlib.contextmanager
def held_alone(directory: Path) -> Iterator[None]:
    """An exclusive flock(2) on the journal's directory while the service runs; EnvironmentProblem naming the
    process that holds it when another does (a second replica given the same --state-dir volume)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise _unusable(directory, exc) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise EnvironmentProblem.simple(
                f"the delivery journal {directory} is in use by {holder_names(directory)}: two services on one journal "
                "would both dispatch what it holds",
                hint="give each replica a --state-dir of its own, or stop the other service first",
            ) from None
        except OSError as exc:
            raise _unusable(directory, exc) from None
        yield
    finally:
        os.close(fd)  # releases the lock


def _unusable(directory: Path, exc: OSError) -> EnvironmentProblem:
    return EnvironmentProblem.simple(
        f"cannot use the delivery journal {directory}: {exc.strerror or exc}",
        hint="give --state-dir a writable directory that outlives the process (a volume)",
    )


class Journal:
    """Thread-safe; every change is on disk before the call returns, or JournalUnwritable is raised."""

    def __init__(
        self, directory: Path, ttl: float, *, capacity: int = 10_000, clock: Callable[[], float] = time.time
    ) -> None:
        self.directory = directory
        self._ttl = ttl
        self._capacity = capacity
        self._clock = clock
        self._lock = threading.Lock()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            records = sorted(directory.glob("*.json"))
        except OSError as exc:
            raise _unusable(directory, exc) from None
        self._entries: dict[str, Entry] = {}
        for path in records:
            try:
                entry = _read(path)
            except OSError as exc:  # the directory is fine: name the record, or the operator looks in the wrong place
                raise EnvironmentProblem.simple(
                    f"cannot read {path} in the delivery journal: {exc.strerror or exc}",
                    hint="every *.json there is read as a record; move this one out of --state-dir if it is not one",
                ) from None
            if entry is not None:
                self._entries[entry.delivery] = entry

    def pending(self) -> list[Entry]:
        """Deliveries accepted but not yet dispatched, oldest first (what a restart must still send)."""
        with self._lock:
            return sorted((e for e in self._entries.values() if e.state == "pending"), key=lambda e: e.accepted)

    def entry(self, delivery: str) -> Entry | None:
        with self._lock:
            return self._entries.get(delivery)

    def claim(self, delivery: str, payload: Payload | None) -> Claim:
        """Record a delivery: "new" (recorded, pending when it has a payload), "pending" (known, its dispatch not
        done yet), "seen" (known and finished), or "full" when `capacity` live ids leave no room: forgetting one
        would let it be replayed, so the caller refuses the delivery instead (MLflow retries a 503)."""
        with self._lock:
            try:
                self._forget_expired()
            except OSError as e:
                raise JournalUnwritable(self.directory, e) from None
            known = self._entries.get(delivery)
            if known is not None:
                return "pending" if known.state == "pending" else "seen"
            if len(self._entries) >= self._capacity:
                return "full"
            entry = Entry(
                delivery,
                "pending" if payload is not None else "done",
                self._clock(),
                dict(payload) if payload is not None else None,
            )
            try:
                self._write(entry)
            except OSError as e:
                raise JournalUnwritable(self.directory, e) from None
            return "new"

    def finish(self, delivery: str, state: Literal["done", "failed"]) -> None:
        """Raises JournalUnwritable when the disk refuses; the id is finished in memory all the same (so it expires),
        and the record on disk stays pending: a restart would send that dispatch again, which is harmless."""
        with self._lock:
            entry = self._entries.get(delivery)
            if entry is None:
                return
            finished = Entry(entry.delivery, state, entry.accepted, entry.payload)
            try:
                self._write(finished)
            except OSError as e:
                self._entries[delivery] = finished
                raise JournalUnwritable(self.directory, e) from None

    def _forget_expired(self) -> None:
        now = self._clock()
        for entry in [e for e in self._entries.values() if e.state != "pending" and e.accepted + self._ttl <= now]:
            del self._entries[entry.delivery]
            with contextlib.suppress(FileNotFoundError):
                self._path(entry.delivery).unlink()

    def _write(self, entry: Entry) -> None:
        path = self._path(entry.delivery)
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(asdict(entry), out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        self._entries[entry.delivery] = entry

    def _path(self, delivery: str) -> Path:
        """Named by a hash: a delivery id is the sender's text, never a path."""
        return self.directory / f"{hashlib.sha256(delivery.encode()).hexdigest()[:40]}.json"


def _read(path: Path) -> Entry | None:
    """A record, or None for one that is not ours or not whole (never written: renames are atomic)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Entry(str(data["delivery"]), data["state"], float(data["accepted"]), data.get("payload"))
    except (ValueError, KeyError, TypeError):
        return None
