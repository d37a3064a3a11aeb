"""A local git repository in the Hub's layout: files committed on branch `main`, the commit hash
returned as the revision to pin.

`fsbench push DATASET --to DIR` and `fsbench publish --to DIR` write here. The repo is what a Hub
dataset repo holds (a Hub server such as olah serves it as-is from its mirrors folder, and
`git push` puts it on any git host), so nothing of it is fsbench-specific but which paths a
writer owns. Files are stored as plain git blobs: git-lfs is not needed to write or serve them
(docs/hub.md says what that means for pushing the folder to huggingface.co by git).

A write never loses anything that was not fsbench's: it refuses a folder that is not a git repo
(unless empty), a repo with uncommitted changes, one on another branch, and one that tracks a
file the writer does not recognise; a failed write resets the repo to its last commit.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

from fsbench.errors import FsbenchError

BRANCH = "main"
#: the identity commits get when the user has configured none (CI machines, containers)
FALLBACK_IDENTITY = ("-c", "user.name=fsbench", "-c", "user.email=fsbench@localhost")


class RepoError(FsbenchError):
    """A target folder that fsbench will not write a repository into, or a git failure."""


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run git in `repo`; a missing git binary or a failing command is a one-line RepoError."""
    try:
        proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=300)
    except FileNotFoundError:
        raise RepoError("git is not installed; install git to write a repository with --to DIR") from None
    if check and proc.returncode != 0:
        why = " ".join((proc.stderr or proc.stdout).split())[:300]
        raise RepoError(f"git {args[0]} failed in {repo}: {why}")
    return proc


#: what a writer says about a path it may find tracked in the repo
Owns = Callable[[str], bool]


def commit_files(
    dest: Path | str,
    files: Mapping[str, Path | bytes],
    *,
    allowed: Owns,
    replaced: Owns,
    message: str,
    what: str,
) -> tuple[str, bool]:
    """Commit `files` (repo path → source file or bytes) into the git repo at `dest`.

    Tracked paths for which `replaced(path)` holds are removed first (a dataset's old shards, one
    board's old page); every tracked path must satisfy `allowed` or nothing is written.
    Returns (commit hash, whether a new commit was made: False when the content is unchanged).
    """
    dest = Path(dest).expanduser().resolve()
    created = _open_repo(dest, what)
    try:
        tracked = _owned_tracked(dest, allowed, what)
        for rel in tracked:
            if replaced(rel):
                (dest / rel).unlink(missing_ok=True)
        for rel, src in files.items():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(src, bytes):
                target.write_bytes(src)
            else:
                shutil.copyfile(src, target)
        git(dest, "add", "-A")
        if _has_head(dest) and git(dest, "diff", "--cached", "--quiet", check=False).returncode == 0:
            return git(dest, "rev-parse", "HEAD").stdout.strip(), False
        identity = () if git(dest, "config", "user.email", check=False).stdout.strip() else FALLBACK_IDENTITY
        git(dest, *identity, "commit", "-q", "--no-verify", "-m", message)
        return git(dest, "rev-parse", "HEAD").stdout.strip(), True
    except BaseException:
        _undo(dest, created)
        raise


def _owned_tracked(dest: Path, allowed: Owns, what: str) -> list[str]:
    """The paths `dest` tracks, every one of them `allowed`, else a one-line RepoError."""
    tracked = [p for p in git(dest, "ls-files", "-z").stdout.split("\0") if p]
    foreign = [p for p in tracked if not allowed(p)]
    if foreign:
        raise RepoError(f"{dest} tracks files that are not part of {what} ({', '.join(foreign[:3])}); "
                        f"fsbench will not replace them: give a new folder or a repo fsbench wrote")
    return tracked


def check_target(dest: Path | str, *, allowed: Owns, what: str) -> None:
    """Every refusal `commit_files` would make about `dest`, without writing anything: a command
    that writes elsewhere first (`publish --to` writes the boards) checks its target before, so a
    refused target leaves nothing half-done."""
    from fsbench.names import output_dir

    dest = output_dir(Path(dest).expanduser(), "--to").resolve()  # a FIFO, a path under a file, read-only
    if _checked_repo(dest, what):
        _owned_tracked(dest, allowed, what)


def _checked_repo(dest: Path, what: str) -> bool:
    """True when `dest` is a git repo fsbench may write (on main, clean); False when it is absent
    or an empty folder (a repo is created there); anything else is a one-line RepoError."""
    if dest.exists() and not dest.is_dir():
        raise RepoError(f"--to {dest} is a file, not a folder; give a folder for {what}")
    if not (dest / ".git").exists():
        if dest.exists() and any(dest.iterdir()):
            raise RepoError(f"--to {dest} holds files and is not a git repository; give a new or empty folder, "
                            f"or a repository fsbench wrote")
        return False
    branch = git(dest, "symbolic-ref", "--short", "-q", "HEAD", check=False).stdout.strip()
    if branch != BRANCH:
        raise RepoError(f"{dest} is on {branch or 'a detached HEAD'!s}, not branch {BRANCH}; "
                        f"`git -C {dest} checkout {BRANCH}` first (a Hub repo serves {BRANCH})")
    dirty = git(dest, "status", "--porcelain").stdout.strip()
    if dirty:
        raise RepoError(f"{dest} has uncommitted changes ({dirty.splitlines()[0].strip()}); "
                        f"commit or discard them first, so fsbench replaces nothing of yours")
    return True


def _open_repo(dest: Path, what: str) -> bool:
    """Check (or create) the repo at `dest`; True when this call created it (in a new or empty folder)."""
    if not _checked_repo(dest, what):
        dest.mkdir(parents=True, exist_ok=True)
        try:
            git(dest, "init", "-q", "-b", BRANCH)
        except BaseException:
            _undo(dest, created=True)
            raise
        return True
    return False


def _has_head(dest: Path) -> bool:
    return git(dest, "rev-parse", "-q", "--verify", "HEAD", check=False).returncode == 0


def _undo(dest: Path, created: bool) -> None:
    """Back to the last commit (the tree was clean when the write began), or to the empty folder."""
    if created:
        for child in dest.iterdir():
            shutil.rmtree(child, ignore_errors=True) if child.is_dir() and not child.is_symlink() else child.unlink()
        return
    git(dest, "reset", "-q", "--hard", check=False)
    git(dest, "clean", "-f", "-d", "-q", check=False)
