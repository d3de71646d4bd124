"""Wall-clock phases and memory high-water marks, from the standard library only.

Benchmarks report; they never assert on timings (2-core CI machines vary too much).
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

_PROC = Path("/proc")


@dataclass
class Phases:
    """Seconds per named phase, in the order they ran, plus this process's RSS peak after each."""

    seconds: dict[str, float] = field(default_factory=dict)
    rss_after: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def time(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = time.perf_counter() - start
            self.rss_after[name] = peak_rss_mib()

    def total(self, *names: str) -> float:
        return sum(self.seconds[n] for n in names or self.seconds)


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    """ru_maxrss (KiB on Linux): the high-water mark since start, so it only grows."""
    return resource.getrusage(who).ru_maxrss / 1024


@dataclass(frozen=True)
class ProcessPeak:
    """VmHWM of one process tree (a server and its workers): the sum of each process's own peak."""

    label: str
    processes: int
    peak_mib: float


def child_trees(pid: int | None = None) -> list[ProcessPeak]:
    """Each direct child of `pid` (default: this process) with its descendants, labelled by command.

    The stack's servers are children of the benchmark process; their peaks are read
    from /proc before the stack stops. Summing per-process peaks over-counts a little
    (they need not peak together), which is the safe side for sizing a server.
    """
    parents = _parents()
    peaks = []
    for child in sorted(p for p, parent in parents.items() if parent == (pid or os.getpid())):
        tree = [child, *_descendants(child, parents)]
        peaks.append(ProcessPeak(_label(child), len(tree), sum(_vm_hwm_mib(p) for p in tree)))
    return peaks


class ChildPeaks:
    """The highest VmHWM of any one process per command label, among this process's descendants.

    Polled from a thread, because a child's own ru_maxrss is useless here: a
    child started by vfork+exec (subprocess does so) inherits the parent's peak
    in ru_maxrss, so every kubectl would "use" as much as the benchmark itself.
    VmHWM belongs to the current address space only. Polling misses growth in the
    last interval of a process's life, so figures are slight underestimates.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.peaks: dict[str, float] = {}
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="bench-child-peaks", daemon=True)

    def __enter__(self) -> ChildPeaks:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        me = os.getpid()
        while not self._stop.wait(self._interval):
            for pid in _descendants(me, _parents()):
                label, peak = _label(pid), _vm_hwm_mib(pid)
                self.peaks[label] = max(self.peaks.get(label, 0.0), peak)


def _parents() -> dict[int, int]:
    found = {}
    for stat in _PROC.glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # The command name (field 2) may contain spaces and parentheses; ppid follows the last ')'.
            found[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    return found


def _descendants(pid: int, parents: dict[int, int]) -> list[int]:
    children = [p for p, parent in parents.items() if parent == pid]
    return children + [d for c in children for d in _descendants(c, parents)]


def _vm_hwm_mib(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in (_PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _label(pid: int) -> str:
    try:
        argv = (_PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return str(pid)
    words = [a.decode(errors="replace") for a in argv if a]
    module = words[words.index("-m") + 1] if "-m" in words[:-1] else Path(words[0]).name if words else "?"
    return module.split(".")[0]
