"""Declarative dataset cards: what a dataset is, where it lives and what it must contain.

A card is data, not code (MTEB-style): the registry lists it, `fsbench info` prints it, a test
validates every registered card, and `prepare`/`load` check the real counts against it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class DatasetCard:
    name: str
    title: str
    description: str
    license: str
    citation: str
    classes: tuple[str, ...]
    #: expected signer (or drawer) ids; empty when the dataset does not fix them
    signers: tuple[str, ...] = ()
    #: expected counts checked after prepare: {"images": N, "classes": C, "signers": S}
    expected: dict[str, int] = field(default_factory=dict)
    #: Hugging Face Hub repository and the pinned revision loads use by default
    hub_repo: str | None = None
    revision: str | None = None
    #: the raw layout `prepare` expects, spelled out for error messages
    raw_layout: str = ""
    #: default raw location relative to FSBENCH_DATA ("embedded:NAME" for package data)
    default_raw: str | None = None
    #: image side length stored by prepare
    image_size: int = 64
    #: a column holding the recording condition (view, lighting), if the data has one
    condition_column: str | None = None
    #: classes held out by the unseen-class split (empty: a seeded 20 % of classes)
    unseen_classes: tuple[str, ...] = ()
    #: how the subject is drawn: "light" on a dark ground (Massey's hands on black) or "dark" on a
    #: light one (Omniglot's black strokes on white). Methods that want the subject high-valued
    #: (zero-padded, max-pooled convolutions) read this instead of each guessing per dataset.
    foreground: str = "light"
    #: whether a horizontal mirror image keeps its class, so training may flip images. Never for
    #: hands (handedness is part of a sign) nor for characters (a mirrored letter is another one)
    flips: bool = False
    #: extra notes a user must know (which classes are held out, and why)
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> list[str]:
        """Problems with the card itself; empty when it is well-formed."""
        problems = []
        for key in ("name", "title", "license", "citation", "raw_layout"):
            if not getattr(self, key):
                problems.append(f"{self.name}: card field {key!r} is empty")
        if len(set(self.classes)) != len(self.classes):
            problems.append(f"{self.name}: duplicate class names")
        if self.expected.get("classes") not in (None, len(self.classes)):
            problems.append(f"{self.name}: expected.classes != len(classes)")
        if set(self.unseen_classes) - set(self.classes):
            problems.append(f"{self.name}: unseen_classes not in classes")
        if self.foreground not in ("light", "dark"):
            problems.append(f"{self.name}: foreground must be 'light' or 'dark'")
        if bool(self.hub_repo) != bool(self.revision):
            problems.append(f"{self.name}: a hub_repo needs a pinned revision (and vice versa)")
        return problems
