"""A real bare git remote in tmp_path, and clones of it, as the promotion workflow sees them.

`publish(root, bare)` turns a directory into the first commit of `main` on a new bare
repository and makes the directory a clone of it (origin = the bare repository). The
git identity comes from the test environment (tests/conftest.py).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


@dataclass(frozen=True)
class Remote:
    bare: Path

    def clone(self, dest: Path) -> Path:
        git("clone", "--quiet", str(self.bare), str(dest), cwd=dest.parent)
        return dest

    def sha(self, ref: str) -> str | None:
        done = subprocess.run(
            ["git", "rev-parse", "--verify", "-q", ref], cwd=self.bare, capture_output=True, text=True, check=False
        )
        return done.stdout.strip() or None

    def show(self, ref: str, path: str) -> str:
        return git("show", f"{ref}:{path}", cwd=self.bare)

    def changed(self, old: str, new: str) -> list[str]:
        """Paths that differ between two revisions."""
        return git("diff", "--name-only", old, new, cwd=self.bare).split()

    def commits(self, base: str, tip: str) -> list[str]:
        """`<sha> <author name> | <committer name> | <parents>` of each commit on `tip` not on `base`, newest first."""
        return git("log", "--format=%H %an | %cn | %P", f"{base}..{tip}", cwd=self.bare).splitlines()


def publish(root: Path, bare: Path) -> Remote:
    """`root`'s files as the first commit of `main` on a new bare repository `bare`; `root` becomes its clone."""
    git("init", "--quiet", "--bare", "-b", "main", str(bare), cwd=bare.parent)
    git("init", "--quiet", "-b", "main", cwd=root)
    git("remote", "add", "origin", str(bare), cwd=root)
    commit_all(root, "Platform repository")
    git("push", "--quiet", "-u", "origin", "main", cwd=root)
    return Remote(bare)


def commit_all(root: Path, message: str) -> str:
    git("add", "--all", cwd=root)
    git("commit", "--quiet", "-m", message, cwd=root)
    return git("rev-parse", "HEAD", cwd=root).strip()
