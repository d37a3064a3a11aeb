"""Hub dataset repositories: naming one (`hub:OWNER/NAME[@REVISION]`), downloading one pinned to
its revision, and uploading a folder to one — each failure one line that says what to do.

Datasets (`fsbench.data.hub`) and boards (`fsbench.boards.hub`) both travel as Hub dataset
repos through these functions. Downloads go through `huggingface_hub.snapshot_download` into
the Hugging Face cache (HF_HOME / HF_HUB_CACHE); HF_ENDPOINT and HF_HUB_OFFLINE are read when
called, not when huggingface_hub was imported, so a notebook may set them late. Nothing heavy is
imported here: `fsbench leaderboard hub:…` stays a light command.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fsbench.errors import HubError

PREFIX = "hub:"
REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class HubRef:
    """A Hub dataset repo and the revision asked for (None: the default branch)."""

    repo_id: str
    revision: str | None = None

    def __str__(self) -> str:
        return f"{self.repo_id}@{self.revision or 'main'}"


def is_hub(spec: str | os.PathLike[str] | None) -> bool:
    return isinstance(spec, str) and spec.startswith(PREFIX)


def parse(spec: str, revision: bool = True) -> HubRef:
    """`hub:OWNER/NAME@REVISION` (the revision optional, or refused when `revision` is False)."""
    body = spec[len(PREFIX):] if spec.startswith(PREFIX) else spec
    repo, sep, rev = body.partition("@")
    if not REPO_ID.fullmatch(repo) or (sep and not rev) or (sep and not revision):
        form = "hub:owner/repo@revision" if revision else "hub:owner/repo"
        raise HubError(f"bad Hub repo {spec!r}; write {form}")
    return HubRef(repo, rev or None)


def endpoint() -> str:
    """The Hub server in use: HF_ENDPOINT (e.g. a local mirror) or huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def offline() -> bool:
    from huggingface_hub import constants

    return os.environ.get("HF_HUB_OFFLINE", "").lower() in TRUE or bool(constants.HF_HUB_OFFLINE)


def fetch(ref: HubRef, what: str, fix: str, patterns: Sequence[str] | None = None) -> tuple[Path, str]:
    """Download `ref` (only `patterns`, if given) into the HF cache: (snapshot folder, commit hash).

    `what` names the thing in messages ("dataset 'tiny'"), `fix` ends every message.
    """
    from huggingface_hub import errors, snapshot_download
    from huggingface_hub.utils import disable_progress_bars

    disable_progress_bars()  # its tqdm bars would interleave with fsbench's output (as datasets' do)
    where = f"{what} ({ref})"
    is_offline = offline()
    try:
        folder = snapshot_download(
            ref.repo_id, repo_type="dataset", revision=ref.revision, allow_patterns=list(patterns or []) or None,
            endpoint=endpoint(), local_files_only=is_offline,
        )
    except errors.RevisionNotFoundError:
        raise _not_found(ref, where, fix, repo_exists=True) from None
    except (errors.RepositoryNotFoundError, errors.GatedRepoError) as exc:
        raise _not_found(ref, where, fix, status=_status(exc)) from None
    except errors.LocalEntryNotFoundError as exc:
        if is_offline:
            raise HubError(f"{where} is not in the local Hugging Face cache ({_cache()}) and HF_HUB_OFFLINE is set; "
                           f"unset it to download, or {fix}") from None
        cause = exc.__cause__ or exc
        if _status(cause) in (401, 404):  # the server answered: an unknown commit (or repo), not a network fault
            raise _not_found(ref, where, fix, status=_status(cause)) from None
        raise HubError(f"{where}: the Hub at {endpoint()} cannot be reached ({_reason(cause)}) and it is not in "
                       f"the local cache ({_cache()}); check HF_ENDPOINT and the network, or {fix}") from None
    except errors.HfHubHTTPError as exc:
        raise HubError(f"{where}: the Hub at {endpoint()} answered {_reason(exc)}; {fix}") from None
    except OSError as exc:
        if exc.errno is not None:  # a full disk or a read-only HF cache: fsbench.cli.failures names it
            raise
        raise HubError(f"{where} could not be downloaded from {endpoint()} ({_reason(exc)}); {fix}") from None
    except Exception as exc:  # httpx transport errors and the like: the same advice
        raise HubError(f"{where} could not be downloaded from {endpoint()} ({_reason(exc)}); {fix}") from None
    path = Path(folder)
    return path, path.name


def upload(files: Mapping[str, Path | bytes], ref: HubRef, message: str, private: bool = False,
           delete: Sequence[str] | None = None) -> str:
    """Upload `files` (repo path → file or bytes) to the Hub dataset repo `ref` (created if
    missing) in one commit; the commit's hash.

    Needs a token with write access (`hf auth login` or HF_TOKEN); `delete`: repo paths (globs)
    removed in the same commit, so a re-push leaves no stale shard behind.
    """
    from huggingface_hub import HfApi, errors

    api = HfApi(endpoint=endpoint())
    try:
        api.create_repo(ref.repo_id, repo_type="dataset", exist_ok=True, private=private)
        with tempfile.TemporaryDirectory(prefix="fsbench-upload-") as staging:
            for rel, src in files.items():
                target = Path(staging) / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(src, bytes):
                    target.write_bytes(src)
                else:
                    shutil.copyfile(src, target)
            info = api.upload_folder(folder_path=staging, repo_id=ref.repo_id, repo_type="dataset",
                                     revision=ref.revision, commit_message=message,
                                     delete_patterns=list(delete) if delete else None)
    except errors.HfHubHTTPError as exc:
        auth = " (log in with `hf auth login` or set HF_TOKEN to a token with write access)" \
            if _status(exc) in (401, 403) else ""
        raise HubError(f"upload to {ref.repo_id} at {endpoint()} failed: {_reason(exc)}{auth}") from None
    except Exception as exc:  # transport errors: one line, not a traceback
        if isinstance(exc, OSError) and exc.errno is not None:
            raise
        raise HubError(f"upload to {ref.repo_id} at {endpoint()} failed ({_reason(exc)})") from None
    return getattr(info, "oid", None) or str(info)


def _not_found(ref: HubRef, where: str, fix: str, status: int | None = None, repo_exists: bool | None = None) -> HubError:
    """A missing revision or a missing repo, told apart (a mirror answers both as "repo not found")."""
    if repo_exists or (ref.revision and repo_exists is None and _exists(ref.repo_id)):
        return HubError(f"{where}: {ref.repo_id} has no revision {ref.revision!r} at {endpoint()} "
                        f"(pin a commit that its push printed); {fix}")
    private = " (or it is private: log in with `hf auth login` or set HF_TOKEN)" if status == 401 else ""
    return HubError(f"{where}: no dataset repo {ref.repo_id} at {endpoint()}{private}; {fix}")


def _exists(repo_id: str) -> bool:
    """Whether the repo answers at its default branch (tells a bad revision from a missing repo)."""
    from huggingface_hub import HfApi

    try:
        HfApi(endpoint=endpoint()).repo_info(repo_id, repo_type="dataset", revision="main")
    except Exception:  # any failure: no evidence the repo exists
        return False
    return True


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _reason(exc: BaseException) -> str:
    status = _status(exc)
    text = " ".join(str(exc).split()) or type(exc).__name__
    head = f"HTTP {status}" if status else type(exc).__name__
    return f"{head}: {text[:160]}" if text != head else head


def _cache() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def remote_files(ref: HubRef) -> list[str]:
    """The files of `ref` on the Hub ([] when the repo does not exist yet)."""
    from huggingface_hub import HfApi, errors

    try:
        return HfApi(endpoint=endpoint()).list_repo_files(ref.repo_id, repo_type="dataset", revision=ref.revision)
    except errors.RepositoryNotFoundError:
        return []
    except Exception as exc:  # transport, auth: one line
        if isinstance(exc, OSError) and exc.errno is not None:
            raise
        raise HubError(f"cannot list {ref} at {endpoint()} ({_reason(exc)})") from None
