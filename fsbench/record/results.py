"""`Results`: the typed record `fsbench.run` returns, a thin class over the results document.

The document stays the one source of truth (it is what `fsbench run` writes and `fsbench publish`
reads); this class only names the questions asked of it most — accuracy and its CI at an S —
so a notebook does not index `doc["metrics"]["S=1"]["top1"]["mean"]` by hand.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Literal

from fsbench.errors import ResultsError
from fsbench.record.shots import shot_key, shots_of
from fsbench.record.types import ResultsDocument, ShotMetrics


class Results:
    """One run's results: `top1(S)`, `top2(S)`, `ci(S)`, `to_dict()`, `write(path)`."""

    def __init__(self, document: ResultsDocument) -> None:
        self._doc = document

    @classmethod
    def read(cls, path: Path | str) -> "Results":
        """A results file, checked as every reader checks it (`fsbench.record.integrity.read_checked`;
        schema 1 files are upgraded in memory)."""
        from fsbench.record.integrity import read_checked

        return cls(read_checked(Path(path)))

    def write(self, path: Path | str) -> Path:
        """Validate and write atomically, as `fsbench run --out` does; returns the path."""
        from fsbench.names import output_file
        from fsbench.record.document import write_results

        # `fsbench run --out`'s rule: "runs/" is a folder asked for, never a file named "runs"
        path = output_file(path, "results path")
        write_results(path, self._doc)
        return path

    @property
    def document(self) -> ResultsDocument:
        """The results document itself, not a copy (read it; `to_dict()` gives one to change)."""
        return self._doc

    @property
    def shots(self) -> list[int]:
        """The S values measured, ascending."""
        return shots_of(self._doc["metrics"])

    @property
    def method(self) -> str:
        return self._doc["method"]["name"]

    @property
    def dataset(self) -> str:
        return self._doc["dataset"]["name"]

    @property
    def split(self) -> str:
        return self._doc["split"]["name"]

    @property
    def content_hash(self) -> str:
        """SHA-256 of the dataset's rows: equal hashes mean the same images and labels."""
        return self._doc["dataset"]["content_hash"]

    def metrics(self, shots: int) -> ShotMetrics:
        """Everything reported at S = `shots` (per signer, fold, class, confusions)."""
        found = self._doc["metrics"].get(shot_key(shots))
        if found is None:
            have = ", ".join(str(s) for s in self.shots)
            raise ResultsError(f"these results have no S={shots}; they measured S={have}")
        return found

    def top1(self, shots: int) -> float:
        """Top-1 accuracy (0–1) at S = `shots`, over every query of every episode."""
        return self.metrics(shots)["top1"]["mean"]

    def top2(self, shots: int) -> float:
        return self.metrics(shots)["top2"]["mean"]

    def ci(self, shots: int, which: Literal["top1", "top2"] = "top1") -> tuple[float, float]:
        """The 95 % bootstrap CI (low, high) of `which` at S = `shots`."""
        low, high = self.metrics(shots)[which]["ci95"]
        return low, high

    def to_dict(self) -> ResultsDocument:
        """A deep copy of the results document (the JSON `fsbench run` writes)."""
        return copy.deepcopy(self._doc)

    def __repr__(self) -> str:
        accs = ", ".join(f"S={s}: {self.top1(s):.1%}" for s in self.shots)
        return f"<Results {self.method} on {self.dataset}/{self.split} top-1 {accs}>"
