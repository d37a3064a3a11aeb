"""Rich tables for results, shared by `fsbench run` and `fsbench demo`."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from fsbench.record.shots import shots_in


def pct(mean_ci: dict[str, Any]) -> str:
    """'93.1 [91.8–94.2]' from {'mean': .931, 'ci95': [.918, .942]}."""
    lo, hi = mean_ci["ci95"]
    return f"{100 * mean_ci['mean']:.1f} [{100 * lo:.1f}–{100 * hi:.1f}]"


def results_table(results: dict[str, Any]) -> Table:
    """One row per S: top-1/top-2 with 95 % CIs, then per-signer top-1. Names are `Text`: a
    signer or method named like rich markup prints literally."""
    m, d, s = results["method"], results["dataset"], results["split"]
    first = next(iter(results["metrics"].values()))
    signers = sorted(first["per_signer"])
    # one group ("all" on an unseen-class split) repeats the top-1 column; more than 8 do not fit
    show_signers = 1 < len(signers) <= 8
    table = Table(title=Text(f"{m['name']} · {d['name']} · {s['name']}  (top-1/top-2 %, 95 % CI)"))
    for col in ("S", "top-1", "top-2", "queries"):
        table.add_column(col, justify="right")
    if show_signers:
        for signer in signers:
            table.add_column(Text(signer if signer.lower().startswith("signer") else f"signer {signer}"), justify="right")
    for key, metric in results["metrics"].items():
        row = [str(shots_in(key)), pct(metric["top1"]), pct(metric["top2"]), str(metric["n_queries"])]
        if show_signers:
            row += [f"{100 * metric['per_signer'][x]['top1']:.1f}" for x in signers]
        table.add_row(*row)
    return table


def comparison_table(all_results: list[dict[str, Any]], title: str) -> Table:
    """Methods × S top-1 with CIs, ranked by top-1 at the largest S: the demo's closing table."""
    keys = sorted({k for r in all_results for k in r["metrics"]}, key=shots_in)
    main = keys[-1]
    ranked = sorted(all_results, key=lambda r: -r["metrics"].get(main, {"top1": {"mean": -1}})["top1"]["mean"])
    table = Table(title=Text(f"{title} · ranked by top-1 at {main}"))
    table.add_column("#", justify="right")
    table.add_column("method")
    for key in keys:
        table.add_column(f"top-1 {key}", justify="right")
    table.add_column("wall s", justify="right")
    for rank, r in enumerate(ranked, 1):
        table.add_row(
            str(rank), Text(r["method"]["name"]),
            *[pct(r["metrics"][k]["top1"]) if k in r["metrics"] else "-" for k in keys],
            f"{r['timings']['total_s']:.0f}",
        )
    return table
