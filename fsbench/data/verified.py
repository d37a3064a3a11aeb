"""Shard digests and a seal that make a prepared folder checkable before it is trusted.

A prepared folder's fsbench.json records the SHA-256 of every parquet shard and a seal over
(content hash, counts, shard digests), so blackened images, a swapped shard or a hand-edited
content hash are caught on load. Hashing Massey's 36 MB shard takes 0.07 s, so it is done on
every load (once per process per unchanged file). The seal is no signature: it catches damage
and careless edits; `fsbench verify` re-runs what a board claims.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fsbench.api import canonical_hash
from fsbench.data.digests import file_sha256, stat_key


@cache
def _sha_for(path: str, key: tuple[int, ...]) -> str:
    return file_sha256(Path(path))


def shard_sha256(path: Path) -> str:
    """A shard's SHA-256, hashed once per process per unchanged file."""
    return _sha_for(str(path), tuple(stat_key(path)))


def seal(content_hash: str, counts: dict[str, Any], shards: dict[str, str]) -> str:
    """The digest binding a folder's content hash and counts to its shard files."""
    return canonical_hash({"content_hash": content_hash, "counts": counts, "shards": shards})


def shard_problem(folder: Path, meta: dict[str, Any]) -> str | None:
    """None when every recorded shard is present and intact and the seal holds; else what is wrong."""
    shards = meta.get("shards")
    if not isinstance(shards, dict) or not shards:
        return "fsbench.json records no shard digests (prepared by an older fsbench)"
    on_disk = {p.relative_to(folder).as_posix() for p in (folder / "data").glob("train-*.parquet")}
    extra = sorted(on_disk - set(shards))
    if extra:
        return f"{extra[0]} is not one of the shards fsbench.json records"
    for rel, want in sorted(shards.items()):
        path = folder / rel
        if not path.is_file():
            return f"shard {rel} is missing"
        if shard_sha256(path) != want:
            return f"shard {rel} does not match its SHA-256 in fsbench.json (the file was changed or damaged)"
    if meta.get("seal") != seal(meta["content_hash"], meta["counts"], shards):
        return "fsbench.json's content hash, counts or shard digests were edited (its seal does not match)"
    return None
