"""Make the repository match the desired files, all or nothing, even across Ctrl-C, SIGTERM and kill -9.

`plan` compares desired bytes with the disk (pip-sync's diff); `apply` stages
every file, writes a journal, then swaps the files in. Only files that start
with our generated marker are ever replaced or pruned, so hand-written files
beside them are safe, and nothing is ever written or deleted through a
symbolic link (a link in the output would send our writes outside the
repository).

The staging area and the journal live in `.kserve-gitops/` at the root of the
tree being written: on the same filesystem as the outputs (so every move is
an atomic rename), present only while a write is under way or after one was
killed, ignored by git through its own `.gitignore`, and outside every
directory the tool renders or prunes. A journal that is not marked committed
means "undo": old files come back from hard-linked copies, new ones go. A
committed journal means "finish": only the copies remain to delete. Both are
idempotent, so a recovery that is itself killed simply runs again.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import hashlib
import json
import os
import posixpath
import re
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from types import FrameType
from typing import Any

from generator import repo_lock
from generator.diagnostics import Diagnostic, printable
from generator.errors import FILE_SIZE_LIMIT_HINT, EnvironmentProblem, Interrupted, UserError
from generator.generated import is_generated
from generator.util.files import MAX_YAML_BYTES, Refused, create_new, read_regular

STATE_DIR = ".kserve-gitops"
JOURNAL = "journal"
_RUN_PREFIX = "run-"
_IGNORE = b"# kserve-gitops' write journal and staging area; never commit them\n*\n"  # the state directory's .gitignore
# what writes leave in the state directory: the journal, a run's staging area, a journal not yet renamed into place
_DEBRIS = re.compile(rf"{JOURNAL}|{_RUN_PREFIX}\w+|{JOURNAL}\.{_RUN_PREFIX}\w+\.tmp")


@dataclass(frozen=True)
class Plan:
    writes: dict[str, bytes] = field(default_factory=dict)
    deletes: tuple[str, ...] = ()
    before: dict[str, bytes] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.writes and not self.deletes

    def summary(self) -> list[str]:
        """`create|update|delete PATH` lines, each name as text shows it (`printable`): names are the tree's."""
        lines = [f"{'update' if p in self.before else 'create'} {printable(p)}" for p in self.writes]
        return sorted(lines + [f"delete {printable(p)}" for p in self.deletes], key=lambda line: line.split(" ", 1)[1])

    def diff(self) -> str:
        chunks: list[str] = []
        for path in sorted({*self.writes, *self.deletes}):
            old = self.before.get(path, b"").decode("utf-8", "replace").splitlines(keepends=True)
            new = self.writes.get(path, b"").decode("utf-8", "replace").splitlines(keepends=True)
            chunks.extend(difflib.unified_diff(old, new, f"a/{printable(path)}", f"b/{printable(path)}"))
        return "".join(chunks)


def plan(root: Path, desired: Mapping[str, bytes], pruned: Iterable[str] = (), edited: Iterable[str] = ()) -> Plan:
    """What to write and delete. `pruned`: directories whose stale generated files are removed;
    `edited`: files people own that this run deliberately changes (models.yaml for pin/unpin)."""
    edited = set(edited)
    pruned = list(pruned)
    listings = _Listings(root)  # the link check and the search for stale files list the same directories
    _refuse_symlinks(root, [*desired, *pruned], listings)
    writes: dict[str, bytes] = {}
    before: dict[str, bytes] = {}
    foreign: dict[str, str] = {}  # what is in the way of an output: a file, or a directory
    top = str(root)
    for path, content in sorted(desired.items()):
        try:
            current: bytes | None = read_regular(os.path.join(top, path), MAX_YAML_BYTES)
        except FileNotFoundError:
            current = None
        except Refused:
            foreign[path] = "file"
            continue
        except IsADirectoryError:
            foreign[path] = "directory"
            continue
        except NotADirectoryError:  # a file where one of its directories goes
            foreign[_file_above(root, path)] = "file"
            continue
        except PermissionError as exc:  # it cannot be compared, so it cannot be written either
            hint = "make it readable for this user (and its directories searchable); nothing was written"
            raise _failed(exc, root, "cannot read", hint) from None
        if current == content:
            continue
        if current is not None and not is_generated(current) and path not in edited:
            foreign[path] = "file"
        if current is not None:
            before[path] = current
        writes[path] = content
    if foreign:
        raise UserError(
            Diagnostic(
                file=p,
                message=_IN_THE_WAY[kind],
                hint=f"move the {kind} away, or rename the model or environment that renders to it",
            )
            for p, kind in sorted(foreign.items())
        )
    generated = _generated_files(root, pruned, listings, wanted=desired)
    deletes = tuple(sorted(p for p, _ in generated))
    before.update(generated)
    return Plan(writes=writes, deletes=deletes, before=before)


_IN_THE_WAY = {
    "file": "exists and was not generated by kserve-gitops; refusing to overwrite it",
    "directory": "is a directory where kserve-gitops writes a file; refusing to replace it",
}


@contextlib.contextmanager
def session(
    repo: Path, *, write_tree: bool, lock_timeout: float, outputs: Callable[[], Collection[str]]
) -> Iterator[list[Diagnostic]]:
    """Every command that reads or writes the tree runs inside one, from its first read to its last write.

    Writers hold the repository lock exclusively, so two never interleave; readers hold it shared, so
    they never see a half-swapped tree. Before anything reads the tree, a write that a killed run left
    half done is finished or undone (that needs the lock exclusively, even for a reader). Yields what
    was recovered, as warnings. `outputs`: what commands write in this tree (`recover`), asked only when
    a journal was left, since the list comes from modules a command that only reads need not import.
    """
    recovered: list[Diagnostic] = []
    with repo_lock.held(repo, lock_timeout) as lock:
        lock.acquire(exclusive=write_tree)
        while interrupted(repo):
            lock.acquire(exclusive=True)
            recovered.extend(recover(repo, outputs()))
            if not write_tree:
                lock.acquire(exclusive=False)
        yield recovered


def apply(root: Path, planned: Plan) -> None:
    """Stage, journal, swap in. On any failure, Ctrl-C or SIGTERM the tree is left exactly as it was;
    after kill -9 the journal lets the next run (`recover`) finish or undo it."""
    repo_lock.ensure_in_place(root)
    _refuse_symlinks(root, [*planned.writes, *planned.deletes])
    changes = [*planned.writes.items(), *((path, None) for path in planned.deletes)]
    made = [directory for directory in (root, *root.absolute().parents) if not directory.exists()]  # by `init`
    with _deferred_signals() as received:
        try:
            root.mkdir(parents=True, exist_ok=True)
            run = Path(tempfile.mkdtemp(prefix=_RUN_PREFIX, dir=_state_dir(root)))
            _refuse_other_file_systems(root, run, [path for path, _ in changes])
        except OSError as exc:
            with contextlib.suppress(OSError):  # what cannot be removed is the error's own cause: it says which
                _clear_state(root)
            _remove_empty(made)
            raise _cannot_write(exc, root) from None
        # Paths as strings in the loops below: building 3,000 Path objects three times took longer than the writes.
        targets = [f"{os.fspath(root)}/{path}" for path, _ in changes]
        staging = os.fspath(run)
        journal = _Journal(
            run=run.name,
            files=[(path, _digest(content)) for path, content in changes],
            existed=[os.path.exists(target) for target in targets],
            dirs=_missing_dirs(root, planned.writes),
        )
        try:
            _save(root, journal)
            (run / "new").mkdir()
            (run / "old").mkdir()
            for index, (_, content) in enumerate(changes):
                if content is not None:
                    create_new(f"{staging}/new/{index}", content, _permissions(targets[index]))
            for directory in journal.dirs:
                (root / directory).mkdir()
            for index, (path, content) in enumerate(changes):
                _stop_if_signalled(received)
                was, existed = planned.before.get(path), journal.existed[index]
                if not _swap_one(targets[index], staging, index, content is not None, existed=existed, was=was):
                    raise _ChangedMeanwhile(path)
            _stop_if_signalled(received)
            journal = replace(journal, committed=True)
            _save(root, journal)
        except BaseException as exc:
            try:
                left = _undo(root, journal)
            except OSError as stuck:  # the journal stays: the next run (`recover`) tries again
                raise _failed(
                    stuck,
                    root,
                    f"cannot put back every file after {_what_failed(exc)}",
                    f"{_remedy(stuck)}, then run any kserve-gitops command here: it finishes putting them back",
                ) from None
            _finish(root, journal)
            _remove_empty(made)
            outcome = _undone(left)
            if isinstance(exc, OSError):
                raise _cannot_write(exc, root, outcome) from None
            if isinstance(exc, _ChangedMeanwhile):
                raise _changed_meanwhile(exc.path, outcome) from None
            if isinstance(exc, Interrupted) and received:
                raise Interrupted(received[0], outcome) from None
            raise
        _finish(root, journal)
    if received:
        raise Interrupted(received[0], "every file had already been written; the tree is complete")


def _remove_empty(directories: Iterable[Path]) -> None:
    """The directories a write made for the repository (`init` into a new one), removed again, deepest first, when
    it is undone: a failed command leaves nothing behind. One that is not empty is someone else's since: kept."""
    for directory in directories:
        with contextlib.suppress(OSError):
            directory.rmdir()


_RECOVERY_HINT = (
    "make the repository writable for this user, and what is in it readable (a run as another user, root, may have "
    "left files only it can read: check their owner and permissions, `ls -la`), then run again: the next run "
    "retries, nothing is lost"
)


class _ChangedMeanwhile(Exception):
    """The swap found `path` changed since the plan: the write stops, is undone, and says so (`_changed_meanwhile`)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def _undone(left: Sequence[str]) -> str:
    """What undoing a stopped write did: every file put back, but those someone changed after the swap wrote them
    (`_undo` leaves them alone; saying "every file" then would be untrue)."""
    if not left:
        return "every file was put back as it was; nothing changed"
    shown = ", ".join(printable(path) for path in left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
    return (
        f"every file was put back as it was but {len(left)}, which someone or something else changed after this run "
        f"wrote them, left as they are: {shown} (check them with `git diff`)"
    )


def _changed_meanwhile(path: str, outcome: str) -> EnvironmentProblem:
    return EnvironmentProblem(
        Diagnostic(
            file=path,
            message=f"changed while kserve-gitops was writing the tree (by someone or something else); {outcome}",
            hint="run the command again once nothing else writes there",
        )
    )


def _failed(exc: OSError, root: Path, doing: str, hint: str) -> EnvironmentProblem:
    """What the system refused, named after the repository file it concerns (`_concerned`)."""
    message = f"{doing}: {exc.strerror or exc}"
    return EnvironmentProblem(Diagnostic(file=_concerned(exc, root), message=message, hint=hint))


def _cannot_write(exc: OSError, root: Path, outcome: str = "nothing was changed") -> EnvironmentProblem:
    return EnvironmentProblem(
        Diagnostic(
            file=_concerned(exc, root, staged=True),
            message=f"cannot write: {exc.strerror or exc}",
            hint=f"{_remedy(exc)}; {outcome}",
        )
    )


def _concerned(exc: OSError, root: Path, *, staged: bool = False) -> str:
    """The repository file an error concerns, not our copy of it in the state directory (a rename names both). Where
    it names only such a copy: that path (what cannot be read or removed), or with `staged` (a copy being written,
    no concern of the user's) the state directory. Where it names nothing (a full disk refuses a write to a file
    already open: only writes to the state directory are made that way), the state directory."""
    names = [name for name in (_relative(exc.filename, root), _relative(exc.filename2, root)) if name]
    fallback = names[0] if names and not staged else STATE_DIR
    return next((n for n in names if not n.startswith(f"{STATE_DIR}/")), fallback)


def _remedy(exc: OSError) -> str:
    """What to do about what the system refused."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "free space on the repository's file system"
    if exc.errno == errno.EFBIG:
        return FILE_SIZE_LIMIT_HINT
    if exc.errno == errno.EACCES:
        return (
            "check its owner and permissions: this user may not write there (a run as another user, root, may have "
            "made it)"
        )
    if exc.errno == errno.EXDEV:
        return (
            f"keep the generated directories on the file system of the repository's root, where {STATE_DIR}/ stages "
            "the files (they are renamed into place, which cannot cross file systems)"
        )
    return "check that the repository is writable (and that no file in it is immutable: lsattr)"


def _what_failed(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"a write failed ({exc.strerror or exc})"
    return "an interruption" if isinstance(exc, (Interrupted, KeyboardInterrupt)) else "an error"


def interrupted(root: Path) -> bool:
    """Whether a write was cut short (killed) and its journal or staging area is still there."""
    state = root / STATE_DIR
    if not state.is_dir() or state.is_symlink():
        return False
    try:
        return any(p.name == JOURNAL or p.name.startswith(_RUN_PREFIX) for p in state.iterdir())
    except OSError as exc:
        raise _failed(exc, root, "cannot look for a write an earlier run left half done", _RECOVERY_HINT) from None


def recover(root: Path, outputs: Collection[str]) -> list[Diagnostic]:
    """Finish or undo the write a killed run left half done, and remove everything it left behind; say so in
    warnings, one more for each file someone changed since (left as it is). `outputs`: every path a command
    writes below `root`, a directory for everything in it; a journal naming anything else is refused. Run it
    only while holding the repository lock exclusively."""
    changed: list[str] = []
    try:
        journal = _load(root, outputs)
        if journal is not None and not journal.committed:
            changed = _undo(root, journal)
        if journal is not None:
            _finish(root, journal)
        _clear_state(root)
    except OSError as exc:
        raise _failed(
            exc, root, "cannot finish or undo the write an earlier run left half done", _RECOVERY_HINT
        ) from None
    if journal is None:
        outcome = "it had not started changing files; removed what it had staged"
    elif journal.committed:
        outcome = "it had written every file; removed its leftover copies"
    elif changed:
        outcome = f"put every file back as it was before it, but {len(changed)} changed since, left as they are"
    else:
        outcome = "put every file back as it was before it"
    return [
        Diagnostic(
            file=f"{STATE_DIR}/{JOURNAL}",
            severity="warning",
            message=f"an earlier run was killed while writing: {outcome}",
        ),
        *(
            Diagnostic(
                file=path,
                severity="warning",
                message="changed since an earlier run was killed while writing it: left as it is, not put back as it "
                "was before that run",
                hint="check that it holds what it should (`git diff`); a run writes what it generates anew",
            )
            for path in changed
        ),
    ]


@dataclass(frozen=True)
class _Journal:
    """Everything needed to undo or finish a swap: file i is staged as run/new/i, its old version
    kept as run/old/i; `digest` (None: a delete) identifies the new content when there was no old one."""

    run: str
    files: list[tuple[str, str | None]]
    existed: list[bool]
    dirs: list[str]
    committed: bool = False


def _permissions(target: str) -> int:
    """Those of the file a write replaces, kept (a private models.yaml stays private); 0644 for a new file."""
    try:
        return os.lstat(target).st_mode & 0o777
    except FileNotFoundError:
        return 0o644


def _swap_one(target: str, run: str, index: int, write: bool, *, existed: bool, was: bytes | None) -> bool:
    """Keep the old file (a hard link, so the target never disappears), then rename the new one over it. `was`: what
    the plan found there (None: nothing). False, and nothing done, for a file written, created or removed by someone
    else since, in the seconds a large plan takes to check: it is not written over."""
    kept = f"{run}/old/{index}"
    if existed:
        _keep(target, kept)
    if (read_regular(kept) if existed else None) != was or (not existed and os.path.lexists(target)):
        return False
    if write:
        os.replace(f"{run}/new/{index}", target)
    else:
        os.unlink(target)
    return True


def _keep(target: str, copy: str) -> None:
    """The old file kept as `copy`, which `_undo` puts back: a hard link, else (a file system without them, a file
    the system will not link) a copy, named `copy` only once it is whole. A copy cut short (a full disk) must never
    be put back over the file it was copied from."""
    try:
        os.link(target, copy, follow_symlinks=False)
    except OSError:
        partial = f"{copy}.partial"
        try:
            shutil.copy2(target, partial, follow_symlinks=False)
            os.replace(partial, copy)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)


def _refuse_other_file_systems(root: Path, staging: Path, paths: Iterable[str]) -> None:
    """Raise EXDEV naming the first directory of `paths` (or, for one yet to be made, the directory it goes in) that is
    on another file system than `staging`: a write renames its staged file into place and a delete keeps the old file
    as a hard link there, which `_undo` renames back; neither crosses file systems. A delete there would go through
    and could not be undone."""
    device = os.stat(staging).st_dev
    checked: set[str] = set()
    for path in paths:
        directory = posixpath.dirname(path)
        while directory not in checked:
            checked.add(directory)
            full = os.path.join(root, directory)
            try:
                if os.stat(full).st_dev != device:
                    raise OSError(errno.EXDEV, "on another file system than the repository's root", full)
                break
            except FileNotFoundError:
                directory = posixpath.dirname(directory)


def _undo(root: Path, journal: _Journal) -> list[str]:
    """Put old files back and remove new ones; safe to repeat, whatever point the swap reached. A file the swap never
    reached (still its kept copy's file) is left as it is, and so is one that no longer holds what the swap left there
    (someone wrote, created or deleted it since the run was killed): nothing this tool did not write is replaced or
    removed. Returns those files. One that cannot be put back does not stop the others: the first such error is raised
    once all were tried, and the journal stays for the next run to try again."""
    run = root / STATE_DIR / journal.run
    failed: OSError | None = None
    changed: list[str] = []
    for index in reversed(range(len(journal.files))):
        path, digest = journal.files[index]
        old, target = run / "old" / str(index), root / path
        try:
            if journal.existed[index]:
                if not old.exists():  # never reached, or already put back by an earlier undo
                    continue
                if _same_file(old, target):
                    old.unlink()
                elif _holds(target, digest):
                    os.replace(old, target)
                else:
                    changed.append(path)
            elif digest is not None and os.path.lexists(target):
                if _holds(target, digest):
                    target.unlink()
                else:
                    changed.append(path)
        except OSError as exc:
            failed = failed or exc
    for directory in reversed(journal.dirs):
        _rmdir_if_empty(root / directory)
    if failed is not None:
        raise failed
    return sorted(changed)


def _holds(target: Path, digest: str | None) -> bool:
    """Whether `target` still is what the swap left there: the content of `digest`, or (a delete) nothing at all."""
    if digest is None:
        return not os.path.lexists(target)
    try:
        return _digest(_read(target)) == digest
    except (Refused, NotADirectoryError):
        return False


def _same_file(kept: Path, target: Path) -> bool:
    """Whether `target` still is the file kept as `kept`: its hard link, or (a copy) bytes for bytes the same."""
    try:
        one, other = os.lstat(kept), os.lstat(target)
    except OSError:
        return False
    if (one.st_dev, one.st_ino) == (other.st_dev, other.st_ino):
        return True
    if one.st_size != other.st_size:
        return False
    try:
        copied = _read(kept)
        return copied is not None and copied == _read(target)
    except OSError:  # not a file this run kept, or no longer one it can read: put back as it was
        return False


def _finish(root: Path, journal: _Journal) -> None:
    """Drop the staging area and journal; after a commit, also the directories deletes emptied. Debris it cannot
    remove is left for the next run's `recover`, which says what stops it."""
    shutil.rmtree(root / STATE_DIR / journal.run, ignore_errors=True)
    (root / STATE_DIR / JOURNAL).unlink(missing_ok=True)
    if journal.committed:
        for path, digest in journal.files:
            if digest is None:
                _rmdir_if_empty((root / path).parent)
    with contextlib.suppress(OSError):
        _clear_state(root)


def _clear_state(root: Path) -> None:
    """Remove what writes leave in the state directory (only debris, under the exclusive lock), then it unless it holds
    something else, which is left as it is: nothing this tool did not make is removed. Raises what stops it: debris
    left behind would have every later command recover again, and again."""
    state = root / STATE_DIR
    if not state.is_dir() or state.is_symlink():
        return
    for entry in state.iterdir():
        if not _DEBRIS.fullmatch(entry.name) and not (entry.name == ".gitignore" and _read_ignore(entry) == _IGNORE):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink(missing_ok=True)
    _rmdir_if_empty(state)


def _read_ignore(path: Path) -> bytes | None:
    try:
        return read_regular(path, len(_IGNORE), follow=False)
    except OSError:  # Refused too: a link, a FIFO, a larger file are not the one this tool writes
        return None


def _state_dir(root: Path) -> Path:
    state = root / STATE_DIR
    with contextlib.suppress(FileExistsError):
        state.mkdir()
    if not stat.S_ISDIR(os.lstat(state).st_mode):
        raise (
            _symlink_error(root, [STATE_DIR])
            if state.is_symlink()
            else EnvironmentProblem(
                Diagnostic(
                    file=STATE_DIR,
                    message="must be a directory: kserve-gitops keeps its write journal there",
                    hint=f"remove the file {STATE_DIR}",
                )
            )
        )
    with contextlib.suppress(FileExistsError):
        create_new(state / ".gitignore", _IGNORE)
    return state


def _save(root: Path, journal: _Journal) -> None:
    """Atomically: a reader sees the old journal or the new one, never half of one. Not fsynced: the
    guarantee is against killed processes, not power loss (the files it describes are not fsynced either)."""
    state = root / STATE_DIR
    temp = state / f"{JOURNAL}.{journal.run}.tmp"
    data = {
        "run": journal.run,
        "files": journal.files,
        "existed": journal.existed,
        "dirs": journal.dirs,
        "committed": journal.committed,
    }
    temp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(temp, state / JOURNAL)


def _load(root: Path, outputs: Collection[str]) -> _Journal | None:
    """The journal a killed run left, checked before anything is done by it: it is a file in the repository, and one
    this tool did not write (committed, or planted) must not steer a recovery's deletes and renames outside the
    tree, nor put its own files in place of the tree's. Every path relative, below the root, one of the `outputs`
    (no other file of the tree can be put back, whether git answers or not), through no symbolic link; the run's
    directory one of ours."""
    try:
        data = json.loads(read_regular(root / STATE_DIR / JOURNAL, MAX_YAML_BYTES).decode("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise _unusable_journal(f"cannot read it: {exc}") from None
    journal = _journal_of(data)
    if journal is None:
        raise _unusable_journal("it is not a journal this tool writes")
    if foreign := [path for path, _ in journal.files if not _below(path, outputs)]:
        raise _unusable_journal(f"it names {printable(foreign[0])}, which no kserve-gitops command writes")
    if foreign := [d for d in journal.dirs if not _below(d, outputs) and not any(_below(o, [d]) for o in outputs)]:
        raise _unusable_journal(f"it names the directory {printable(foreign[0])}, which no kserve-gitops command makes")
    if _tracked(root):
        raise _unusable_journal(f"git tracks {STATE_DIR}/, where this tool never commits anything")
    _refuse_symlinks(root, [*(path for path, _ in journal.files), *journal.dirs])
    run = f"{STATE_DIR}/{journal.run}"
    staged = [f"{run}/{part}" for part in ("old", "new")] + [f"{run}/old/{i}" for i in range(len(journal.files))]
    if links := [path for path in (run, *staged) if (root / path).is_symlink()]:
        raise _symlink_error(root, links)
    if any(_kind(os.fspath(root / path)) not in (None, "file") for path in staged[2:]):
        raise _unusable_journal("a kept copy in it is not a file")
    return journal


def _tracked(root: Path) -> bool:
    """Whether git tracks anything in the state directory: then the journal came with a commit (a pull request's,
    checked out in CI), not from a run killed here, and it must not put its files in place of the tree's. Outside
    any git checkout nothing is tracked (`outputs` is what limits such a journal). Inside one, a git that cannot
    answer (not installed; or its refusal of a checkout another user owns, common in CI containers) is no answer:
    the journal is refused rather than obeyed."""
    from generator.util.proc import GIT_TIMEOUT, CommandError, run_cmd  # noqa: PLC0415 -- only where a journal was left

    try:
        return bool(run_cmd(["git", "ls-files", "-z", "--", STATE_DIR], cwd=root, timeout=GIT_TIMEOUT))
    except CommandError as exc:
        if not any((directory / ".git").exists() for directory in (root, *root.parents)):
            return False
        said = next((line for line in exc.stderr.splitlines() if line.strip()), f"exit code {exc.rc}")
        raise _unusable_journal(
            f"git cannot say whether it tracks {STATE_DIR}/ (git: {said.strip()})",
            hint="run the command where git answers (as the checkout's owner, or after `git config --global --add "
            f"safe.directory {root}`); or, {_DELETE_STATE}",
        ) from None


def _journal_of(data: Any) -> _Journal | None:
    """`data` as a journal, or None unless it is exactly what `_save` writes, with paths a plan can hold."""

    def inside(path: Any) -> bool:
        """A path a run writes: below the root, in the tree (not git's own files, not this tool's state)."""
        if not isinstance(path, str) or path != "/".join(parts := _parts(path)) or not parts:
            return False
        return ".." not in parts and ".git" not in (p.lower() for p in parts) and parts[0] != STATE_DIR

    def digest(value: Any) -> bool:
        return value is None or (isinstance(value, str) and re.fullmatch("[0-9a-f]{64}", value) is not None)

    if not isinstance(data, dict) or set(data) != {"run", "files", "existed", "dirs", "committed"}:
        return None
    run, files, existed, dirs, committed = (data[k] for k in ("run", "files", "existed", "dirs", "committed"))
    if not (
        isinstance(run, str)
        and re.fullmatch(rf"{_RUN_PREFIX}[A-Za-z0-9_]+", run)
        and isinstance(files, list)
        and all(isinstance(f, list) and len(f) == 2 and inside(f[0]) and digest(f[1]) for f in files)
        and isinstance(existed, list)
        and len(existed) == len(files)
        and all(isinstance(e, bool) for e in existed)
        and isinstance(dirs, list)
        and all(inside(d) for d in dirs)
        and isinstance(committed, bool)
    ):
        return None
    return _Journal(run, [(path, value) for path, value in files], existed, dirs, committed)


_DELETE_STATE = (
    f"if no kserve-gitops run was killed while writing here, delete {STATE_DIR}/ (it is never committed: check that "
    "git does not track it); if one was, restore the tree with `git checkout -- . && git clean -fd` first"
)


def _unusable_journal(why: str, hint: str = _DELETE_STATE) -> EnvironmentProblem:
    return EnvironmentProblem(
        Diagnostic(
            file=f"{STATE_DIR}/{JOURNAL}",
            message=f"a write journal was left here, but {why}: nothing was done by it",
            hint=hint,
        )
    )


def _below(path: str, outputs: Iterable[str]) -> bool:
    """Whether `path` is one of `outputs` or inside one."""
    return any(path == output or path.startswith(f"{output}/") for output in outputs)


def _missing_dirs(root: Path, paths: Iterable[str]) -> list[str]:
    """Directories below root that the writes need and that do not exist yet, parents first."""
    parents: set[str] = set()  # thousands of files share a few: each is looked at once
    for path in paths:
        parts = _parts(path)
        parents.update("/".join(parts[:depth]) for depth in range(1, len(parts)))
    return sorted((p for p in parents if not (root / p).exists()), key=lambda p: (p.count("/"), p))


@contextlib.contextmanager
def _deferred_signals() -> Iterator[list[int]]:
    """SIGINT and SIGTERM only recorded while files move; the swap stops at the next file and rolls back,
    and a signal during the rollback cannot cut it short. Signals reach only the main thread."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def record(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    previous = {signum: signal.signal(signum, record) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _stop_if_signalled(received: list[int]) -> None:
    if received:
        raise Interrupted(received[0])  # `apply` raises it again saying what undoing the write did


def _refuse_symlinks(root: Path, paths: Iterable[str], listings: _Listings | None = None) -> None:
    """Every component of every path below root, and everything inside the directories, must be real. Each
    directory is looked at once, however many paths go through it (thousands of files share a few)."""
    listings = listings or _Listings(root)
    links: set[str] = set()
    real: dict[str, bool] = {"": True}  # a directory (from the root) -> whether it and all above it are directories

    def kind(directory: str, name: str) -> str | None:
        found = listings.kind(directory, name)
        if found == "link":
            links.add(_joined(directory, name))
        return found

    def is_real(directory: str) -> bool:
        if (known := real.get(directory)) is None:
            parent, _, name = directory.rpartition("/")
            known = real[directory] = is_real(parent) and kind(parent, name) == "directory"
        return known

    for path in paths:
        if not (parts := _parts(path)):
            continue
        directory, name = "/".join(parts[:-1]), parts[-1]
        if is_real(directory) and kind(directory, name) == "directory":  # a directory named itself (pruned)
            links.update(_links_inside(_joined(directory, name), listings))
    if links:
        raise _symlink_error(root, sorted(links))


class _Listings:
    """What each entry of a directory under `root` is (`_listing`), each directory listed once: thousands of files
    share a few directories."""

    def __init__(self, root: Path) -> None:
        self._root = str(root)
        self._listed: dict[str, dict[str, str]] = {}

    def of(self, directory: str) -> dict[str, str]:
        """The entries of `directory` (relative to the root, "" for the root itself)."""
        if (listing := self._listed.get(directory)) is None:
            listing = self._listed[directory] = _listing(os.path.join(self._root, directory))
        return listing

    def kind(self, directory: str, name: str) -> str | None:
        """What `name` in `directory` is; looked up on its own where the listing does not show it (`_kind`)."""
        return self.of(directory).get(name) or _kind(os.path.join(self._root, directory, name))

    def below(self, directory: str) -> Iterator[tuple[str, str]]:
        """Every entry anywhere below `directory` and what it is, links not followed; an unreadable directory lists
        nothing, as os.walk, and is left to the reads and writes to report."""
        pending = [directory]
        while pending:
            parent = pending.pop()
            for name, kind in self.of(parent).items():
                yield _joined(parent, name), kind
                if kind == "directory":
                    pending.append(_joined(parent, name))


def _parts(path: str) -> list[str]:
    """PurePosixPath(path).parts, made faster: thousands of paths go through here in every run."""
    return [part for part in path.split("/") if part not in ("", ".")]


def _joined(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


def _listing(directory: str) -> dict[str, str]:
    """What each entry of a directory is ("link", "directory" or "file"), links not followed; empty when it cannot
    be listed (missing, or not a directory). scandir says it without a system call per entry."""
    try:
        with os.scandir(directory) as entries:
            return {
                entry.name: "link"
                if entry.is_symlink()
                else "directory"
                if entry.is_dir(follow_symlinks=False)
                else "file"
                for entry in entries
            }
    except OSError:
        return {}


def _kind(path: str) -> str | None:
    """What `_listing` says of an entry, for a name its directory's listing does not show (None: nothing there). A
    file system that folds case (macOS) finds `environments` where the listing says `Environments`, and a directory
    that may be searched but not read lists nothing: the name itself is looked up, links not followed."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return None
    return "link" if stat.S_ISLNK(mode) else "directory" if stat.S_ISDIR(mode) else "file"


def _links_inside(directory: str, listings: _Listings) -> list[str]:
    """Symbolic links anywhere below `directory` (relative to the root)."""
    return sorted(path for path, kind in listings.below(directory) if kind == "link")


def refuse_linked_directory(root: Path, directory: str) -> None:
    """Refuse when `directory` (relative to `root`), or a directory on the way to it, is a symbolic link: a command
    that writes into it (`schemas fetch` into schemas/crds, a link a commit may bring) would write where it points."""
    parts = PurePosixPath(directory).parts
    on_the_way = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    if links := [path for path in on_the_way if (root / path).is_symlink()]:
        raise _symlink_error(root, links[:1])


def _symlink_error(root: Path, links: list[str]) -> UserError:
    return UserError(
        Diagnostic(
            file=link,
            rule="symlink",
            message=f"is a symbolic link (to {os.readlink(root / link)}); kserve-gitops never writes or "
            "deletes through symbolic links, so nothing was changed",
            hint=f"replace the link with {_in_place_of(root, link)}, or run with --repo on the repository the link "
            "points into",
        )
        for link in links
    )


def _in_place_of(root: Path, link: str) -> str:
    """What to put where a link is, by what it points to."""
    if (root / link).is_dir():
        return f"a real directory inside the repository (`rm {link} && mkdir {link}`)"
    return f"a regular file inside the repository (or remove it, `rm {link}`: a run writes what it generates anew)"


def _generated_files(
    root: Path, pruned: Iterable[str], listings: _Listings, wanted: Collection[str]
) -> list[tuple[str, bytes]]:
    """Generated files under `pruned` but for those `wanted` (no links: `plan` refused them before)."""
    found = []
    top = str(root)
    for directory in pruned:
        parts = _parts(directory)
        kind = listings.kind("/".join(parts[:-1]), parts[-1]) if parts else "directory"
        candidates = ["/".join(parts)] if kind == "file" else []
        if kind == "directory":
            candidates += [path for path, kind in listings.below("/".join(parts)) if kind == "file"]
        for path in sorted(candidates):
            if path in wanted:
                continue
            try:
                content = _read(os.path.join(top, path))
            except (Refused, NotADirectoryError, PermissionError):
                continue  # not ours, not readable, or gone since it was listed: never deleted
            if content is not None and is_generated(content):
                found.append((path, content))
    return found


def _read(path: Path | str) -> bytes | None:
    """What a file holds; None when there is none (nothing, or a directory). Raises `Refused` for what this tool
    cannot have written and never reads, writes over or deletes: a FIFO, a device, a socket, or a file larger
    than any YAML file it reads (a sparse file of terabytes would never fit in memory); NotADirectoryError when a
    file stands where one of its directories goes."""
    try:
        return read_regular(path, MAX_YAML_BYTES)
    except (FileNotFoundError, IsADirectoryError):
        return None


def _file_above(root: Path, path: str) -> str:
    """The first of `path`'s directories that is something else (NotADirectoryError said there is one)."""
    parts = _parts(path)
    for depth in range(1, len(parts)):
        if not (root.joinpath(*parts[:depth])).is_dir():
            return "/".join(parts[:depth])
    return path


def _digest(content: bytes | None) -> str | None:
    return None if content is None else hashlib.sha256(content).hexdigest()


def _rmdir_if_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):
        directory.rmdir()


def _relative(filename: object, root: Path) -> str:
    """A path below the root as the repository names it; the root itself (which `init` may be unable to create) and
    anything outside as it is."""
    if not isinstance(filename, str):
        return ""
    try:
        relative = Path(filename).relative_to(root).as_posix()
    except ValueError:
        return filename
    return filename if relative == "." else relative
