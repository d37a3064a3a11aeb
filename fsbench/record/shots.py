"""The S vocabulary of the results record: "S=4" keys, the S a board ranks at, curves over S.

Every stage reads and writes metrics under these keys, so they live at the bottom of the house.
"""

from __future__ import annotations

from typing import Any


def shot_key(shots: int) -> str:
    """The key results files and boards store one S's metrics under: 4 → "S=4"."""
    return f"S={shots}"


def shots_in(key: str) -> int:
    """The S of one metrics key: "S=4" → 4; the inverse of `shot_key`."""
    digits = key[2:]
    if not (key.startswith("S=") and digits.isascii() and digits.isdigit()):
        raise ValueError(f"{key!r} is not a shot key (expected 'S=<n>', e.g. 'S=4')")
    return int(digits)


def shots_of(metrics: dict[str, Any]) -> list[int]:
    """The S values a metrics mapping ({"S=1": ...}) holds, ascending."""
    return sorted(shots_in(k) for k in metrics)


def accuracy_vs_shots(metrics: dict[str, Any], which: str = "top1") -> list[tuple[int, float, float, float]]:
    """[(S, mean, ci_lo, ci_hi)] ascending in S: one run's accuracy-vs-S curve."""
    out = []
    for s in shots_of(metrics):
        m = metrics[shot_key(s)][which]
        out.append((s, float(m["mean"]), float(m["ci95"][0]), float(m["ci95"][1])))
    return out


def signer_gap(same: dict[str, Any], cross: dict[str, Any], which: str = "top1") -> dict[str, float]:
    """Same-signer minus cross-signer accuracy at every S both metric mappings hold.

    The thesis's headline question: how much accuracy is lost when the test signer was never
    seen in training. Positive = the method does better on signers it trained on.
    """
    common = sorted(set(shots_of(same)) & set(shots_of(cross)))
    return {
        shot_key(s): float(same[shot_key(s)][which]["mean"] - cross[shot_key(s)][which]["mean"])
        for s in common
    }


def main_shots(board: dict[str, Any]) -> int | None:
    """The S a board is ranked at: the largest S every entry reports.

    If no S is shared by all entries, the S reported by the most entries (the largest among
    ties); entries without it rank last.
    """
    entries = board["entries"]
    if not entries:
        return None
    counts: dict[int, int] = {}
    for e in entries:
        for s in shots_of(e["metrics"]):
            counts[s] = counts.get(s, 0) + 1
    best = max(counts.values())
    return max(s for s, n in counts.items() if n == best)
