"""Model-free figures from a results file or a board (matplotlib, Agg backend, PNG).

Everything here reads only the JSON documents, so a figure can be remade for any published
result without data or a model. Each function returns the figure's PNG bytes; the report
writes them to files and the HTML board embeds them as base64.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["text.parse_math"] = False  # names are data: "$\\frac{1}{$" must print, not parse
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from fsbench.record.shots import accuracy_vs_shots, shot_key, shots_in, shots_of  # noqa: E402
from fsbench.record.stats import episode_ci, queried_confusion  # noqa: E402

DPI = 110


def to_png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def confusion_png(shot_metrics: dict[str, Any], class_names: list[str], title: str) -> bytes:
    """Row-normalised confusion matrix over the classes that were queried at this S."""
    keep, cm = queried_confusion(shot_metrics["confusion"])  # never the (C, C) matrix of every class named
    cm = cm.astype(float)
    names = [class_names[i] for i in keep]
    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    n = len(names)
    side = min(16.0, max(4.5, 0.22 * n + 2))
    fig, ax = plt.subplots(figsize=(side + 1.2, side))
    im = ax.imshow(rates, cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class's queries")
    step = max(1, n // 60)
    ticks = np.arange(0, n, step)
    fontsize = 8 if n <= 40 else 6
    ax.set_xticks(ticks, [names[i] for i in ticks], rotation=90, fontsize=fontsize)
    ax.set_yticks(ticks, [names[i] for i in ticks], fontsize=fontsize)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    acc = shot_metrics["top1"]["mean"]
    pairs = shot_metrics.get("confused_pairs", [])
    ax.set_title(f"{title}\ntop-1 {100 * acc:.1f} % · {len(pairs)} pairs confused > 10 %", fontsize=10)
    return to_png(fig)


def accuracy_vs_shots_png(results: dict[str, Any]) -> bytes:
    """Top-1 and top-2 accuracy against S with 95 % CI error bars, for one run."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for which, style in (("top1", "o-"), ("top2", "s--")):
        pts = accuracy_vs_shots(results["metrics"], which)
        s = np.array([p[0] for p in pts])
        mean = np.array([p[1] for p in pts])
        err = np.array([[p[1] - p[2] for p in pts], [p[3] - p[1] for p in pts]])
        ax.errorbar(s, 100 * mean, yerr=100 * np.clip(err, 0, None), fmt=style, capsize=4, label=which.replace("top", "top-"))
    ax.set_xlabel("S (support examples per class)")
    ax.set_ylabel("accuracy (%)")
    ax.set_xticks(shots_of(results["metrics"]))
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(_run_title(results), fontsize=10)
    return to_png(fig)


def per_signer_intervals(results: dict[str, Any], key: str, seed: int) -> dict[str, tuple[float, float, float]]:
    """signer → (top-1, ci_lo, ci_hi) at one S; CIs from the results, else bootstrapped from its episode rows."""
    shots = shots_in(key)
    out = {}
    for signer, m in results["metrics"][key]["per_signer"].items():
        if "top1_ci95" in m:
            lo, hi = m["top1_ci95"]
        else:
            rows = [e for e in results["episodes"] if e["shots"] == shots and e["signer"] == signer]
            lo, hi = episode_ci(
                np.array([r["top1_correct"] for r in rows]), np.array([r["n_query"] for r in rows]), seed
            )
        out[signer] = (float(m["top1"]), float(lo), float(hi))
    return out


def per_signer_png(results: dict[str, Any]) -> bytes:
    """Grouped bars: top-1 per test signer at every S, with 95 % CIs over that signer's episodes."""
    keys = [shot_key(s) for s in shots_of(results["metrics"])]
    seed = int(results["protocol"]["seed"])
    data = {k: per_signer_intervals(results, k, seed) for k in keys}
    signers = sorted({s for d in data.values() for s in d})
    width = 0.8 / len(keys)
    fig, ax = plt.subplots(figsize=(max(5.5, 0.5 * len(signers) * len(keys) + 2), 4))
    x = np.arange(len(signers))
    for i, k in enumerate(keys):
        vals = [data[k].get(s, (np.nan, np.nan, np.nan)) for s in signers]
        mean = np.array([v[0] for v in vals])
        err = np.clip(np.array([[v[0] - v[1] for v in vals], [v[2] - v[0] for v in vals]]), 0, None)
        ax.bar(x + (i - (len(keys) - 1) / 2) * width, 100 * mean, width, yerr=100 * err, capsize=3, label=k)
    ax.set_xticks(x, signers, rotation=30 if len(signers) > 8 else 0)
    ax.set_xlabel("test signer" if signers != ["all"] else "(class-disjoint split: all drawers pooled)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(_run_title(results), fontsize=10)
    return to_png(fig)


def board_curves_png(board: dict[str, Any]) -> bytes:
    """Top-1 against S with 95 % CI bands, one line per board entry (the HTML page's plot)."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    all_s: set[int] = set()
    for e in board["entries"]:
        pts = accuracy_vs_shots(e["metrics"], "top1")
        s = np.array([p[0] for p in pts])
        all_s.update(s.tolist())
        label = f"{e['method']['name']} ({e['method']['config_hash'][:6]})"
        (line,) = ax.plot(s, [100 * p[1] for p in pts], "o-", label=label)
        ax.fill_between(s, [100 * p[2] for p in pts], [100 * p[3] for p in pts], color=line.get_color(), alpha=0.2)
    ax.set_xlabel("S (support examples per class)")
    ax.set_ylabel("top-1 accuracy (%)")
    if all_s:
        ax.set_xticks(sorted(all_s))
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    if board["entries"]:
        ax.legend(fontsize=8)
    ax.set_title(board["name"], fontsize=10)
    return to_png(fig)


def _run_title(results: dict[str, Any]) -> str:
    p = results["protocol"]
    extra = (" · cross-condition" if p["cross_condition"] else "") + (f" · {p['ways']}-way" if p["ways"] else "")
    return f"{results['method']['name']} · {results['dataset']['name']} · {results['split']['name']}{extra}"
