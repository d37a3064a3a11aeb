"""`fsbench report`: the figures (and a short Markdown summary) for one results file.

Model-free figures come from the JSON alone. With `with_embeddings=True` the method is re-fitted
on the first fold of the results' own split (same method, config, dataset and seed) to draw
the kernel-PCA and similarity-gradient figures of thesis §3.2.2; that refit is checked
against the results' dataset content hash so the figures describe the model that was scored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fsbench.api import EmbedsTensors
from fsbench.errors import ResultsError
from fsbench.limits import MAX_FIGURE_CLASSES
from fsbench.atomic import write_bytes, write_text
from fsbench.report.figures import accuracy_vs_shots_png, confusion_png, per_signer_png
from fsbench.record.shots import shot_key, shots_of
from fsbench.record.integrity import read_checked
from fsbench.record.text import markdown


def _write(path: Path, data: bytes | str) -> Path:
    """Through the one atomic writer, so a figure is either complete or absent (no temp file kept)."""
    write_bytes(path, data) if isinstance(data, bytes) else write_text(path, data)
    return path


def summary_markdown(results: dict[str, Any]) -> str:
    """Top-1/top-2 with CIs per S and the confused pairs above 10 %: what the figures show, in text.
    Every name from the file (method, dataset, split, revision, classes) is escaped: data, not Markdown."""
    m, d, s, p = results["method"], results["dataset"], results["split"], results["protocol"]
    lines = [
        f"# {markdown(m['name'])} · {markdown(d['name'])} · {markdown(s['name'])}",
        "",
        f"config `{m['config_hash'][:12]}` · dataset `{d['content_hash'][:12]}` ({markdown(d['revision'])}) · "
        f"split `{s['manifest_sha256'][:12]}` · seed {p['seed']} · {p['episodes']} episodes"
        + (f" · {p['ways']}-way" if p["ways"] else "")
        + (" · cross-condition" if p["cross_condition"] else ""),
        "",
        "| S | top-1 % [95 % CI] | top-2 % [95 % CI] | queries | episodes |",
        "|---|---|---|---|---|",
    ]
    for s in shots_of(results["metrics"]):
        x = results["metrics"][shot_key(s)]
        t1, t2 = x["top1"], x["top2"]
        lines.append(
            f"| {s} | {100 * t1['mean']:.1f} [{100 * t1['ci95'][0]:.1f}–{100 * t1['ci95'][1]:.1f}] "
            f"| {100 * t2['mean']:.1f} [{100 * t2['ci95'][0]:.1f}–{100 * t2['ci95'][1]:.1f}] "
            f"| {x['n_queries']} | {x['n_episodes']} |"
        )
    for k in map(shot_key, shots_of(results["metrics"])):
        pairs = results["metrics"][k]["confused_pairs"]
        lines += ["", f"## Confused pairs at {k} (> 10 % of the true class's queries)", ""]
        if not pairs:
            lines.append("none")
        for pair in pairs[:30]:
            lines.append(f"- {markdown(pair['true'])} → {markdown(pair['pred'])}: {100 * pair['rate']:.0f} %")
        if len(pairs) > 30:
            lines.append(f"- … and {len(pairs) - 30} more")
    return "\n".join(lines) + "\n"


def check_figure_size(results: dict[str, Any], source: str) -> None:
    """Refuse, before any figure is written, a confusion over more classes than a figure can draw:
    its matrix grows with the square of the classes the file's cells name."""
    for key, shot in results["metrics"].items():
        n = len({c for t, p, _ in shot["confusion"]["cells"] for c in (t, p)})
        if n > MAX_FIGURE_CLASSES:
            raise ResultsError(f"{source}: the confusion at {key} spans {n:,} classes; a report draws at most "
                               f"{MAX_FIGURE_CLASSES:,} (is it the right file?)")


def make_report(results_path: Path, out_dir: Path, with_embeddings: bool = False) -> list[Path]:
    """Write every figure for one results file into `out_dir`; return the paths written."""
    results = read_checked(Path(results_path))
    check_figure_size(results, str(results_path))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = results["dataset"]["class_names"]
    written = [
        _write(out_dir / "accuracy_vs_S.png", accuracy_vs_shots_png(results)),
        _write(out_dir / "per_signer.png", per_signer_png(results)),
    ]
    for s in shots_of(results["metrics"]):
        title = f"{results['method']['name']} · {results['dataset']['name']} · {results['split']['name']} · S={s}"
        written.append(_write(out_dir / f"confusion_S{s}.png", confusion_png(results["metrics"][shot_key(s)], names, title)))
    written.append(_write(out_dir / "summary.md", summary_markdown(results)))
    if with_embeddings:
        written += embedding_report(results, out_dir)
    return written


def refit_first_fold(results: dict[str, Any]):
    """(method, test view) re-created from a results file: same method/config/dataset/split/seed."""
    from fsbench.deploy.fit import refit_from_results

    method, data, fold = refit_from_results(results, 0)
    return method, data.view(fold.test)


def embedding_report(results: dict[str, Any], out_dir: Path, n_images: int = 8) -> list[Path]:
    """Kernel PCA (Fig 3.17) always; similarity-gradient maps (Fig 3.18) if the method can."""
    from fsbench.report.embedding_figures import gradient_maps_png, kernel_pca_png
    from fsbench.progress import console

    method, view = refit_first_fold(results)
    seed = int(results["protocol"]["seed"])
    written = [_write(out_dir / "kernel_pca.png", kernel_pca_png(method, view, seed))]
    if isinstance(method, EmbedsTensors):
        written.append(_write(out_dir / "similarity_gradients.png", gradient_maps_png(method, view, n_images, seed)))
    else:
        console.print(f"skipped similarity_gradients.png: method {method.name!r} has no embed_tensor",
                      style="yellow", markup=False)
    return written
