"""What a builder yields (`Row`) and what one `prepare` reports (`PrepareReport`): the types the
builders and the store share, kept apart so neither imports the other."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

Row = dict[str, Any]
@dataclass
class PrepareReport:
    """What one `prepare` did: counts, every file it skipped and why, and the content hash."""

    dataset: str
    raw: str
    out: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    per_class: dict[str, int] = field(default_factory=dict)
    per_signer: dict[str, int] = field(default_factory=dict)
    #: files that are not part of the layout (ignored), with the reason
    skipped: list[dict[str, str]] = field(default_factory=list)
    #: files of the layout that could not be read or decoded, with the reason
    corrupt: list[dict[str, str]] = field(default_factory=list)
    #: videos in which the hand localiser found no hand (rwth); never dropped silently
    no_hand: list[str] = field(default_factory=list)
    #: exact duplicates that were merged (omniglot's shared alphabets)
    duplicates: int = 0
    #: rows whose pixels are identical, by content hash: {sha256, ids, signers, labels}
    duplicate_images: list[dict[str, Any]] = field(default_factory=list)
    content_hash: str = ""
    wall_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line for the CLI."""
        c = self.counts
        extra = []
        if self.corrupt:
            extra.append(f"{len(self.corrupt)} corrupt")
        if self.skipped:
            extra.append(f"{len(self.skipped)} skipped")
        if self.no_hand:
            extra.append(f"{len(self.no_hand)} without a hand")
        if self.duplicates:
            extra.append(f"{self.duplicates} duplicates merged")
        if self.duplicate_images:
            n = sum(len(g["ids"]) for g in self.duplicate_images)
            extra.append(f"{n} images in {len(self.duplicate_images)} groups of identical pixels, listed in fsbench.json")
        tail = f" ({', '.join(extra)})" if extra else ""
        return (
            f"{self.dataset}: {c.get('images', 0)} images, {c.get('classes', 0)} classes, "
            f"{c.get('signers', 0)} signers in {self.wall_s:.1f}s → {self.out} "
            f"[{self.content_hash[:12]}]{tail}"
        )
