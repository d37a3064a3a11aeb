"""Showing leaderboards: a board into rows, then into a rich table, Markdown, JSON or one HTML page
(`show`, behind `fsbench leaderboard`), and the list of boards.

Ranking is by top-1 at the board's main S (`fsbench.evaluation.metrics.main_shots`). Two entries whose
95 % CIs at that S overlap are not separated by this benchmark, and each row says with which
ranks it overlaps, so nobody reads a 0.3-point lead as a win. An entry pooled over seeds carries
a CI that resamples seeds too (`fsbench.boards.aggregate`); each row says how many seeds it pools
and, for one, why: ° trains nothing, * a trained method not yet pooled (its CI covers episodes only).
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
from pathlib import Path
from string import Template
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fsbench.atomic import write_text
from fsbench.errors import ResultsError
from fsbench.record.shots import main_shots, shot_key, shots_of, signer_gap
from fsbench.record.text import markdown as md_escape
from fsbench.names import output_dir, output_file
from fsbench.boards.aggregate import legend, seeds_note, spread_text
from fsbench.boards.leaderboard import read_board, resolve_board

TEMPLATE = Path(__file__).parent / "templates" / "board.html"
#: the `_cells` columns that hold text from a results file (method, config, pretrained on, commit, date)
TEXT_COLUMNS = (1, 2, 3, -2, -1)


def _overlap(a: list[float], b: list[float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def board_rows(board: dict[str, Any], sibling: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Ranked rows with main-S metric, CI overlaps and (if a sibling board exists) the signer gap."""
    main = main_shots(board)
    key = shot_key(main)
    rows = []
    for rank, e in enumerate(board["entries"], start=1):
        m = e["metrics"].get(key)
        rows.append({
            "rank": rank,
            "method": e["method"]["name"],
            "version": e["method"]["version"],
            "config_hash": e["method"]["config_hash"],
            "pretrained": _trained_on(e["method"].get("pretrained")),
            "seeds": seeds_note(e),
            "main_shots": main,
            "top1": m["top1"] if m else None,
            "top2": m["top2"] if m else None,
            "per_shots": {k: {"top1": v["top1"], "top2": v["top2"]} for k, v in e["metrics"].items()},
            "overlaps": [],
            "gap": None,
            "date": e["date"],
            "git_commit": e["manifest"]["git_commit"],
            "git_dirty": e["manifest"].get("git_dirty", False),
            "wall_time_s": e["manifest"]["wall_time_s"],
        })
    for a in rows:
        for b in rows:
            if a is not b and a["top1"] and b["top1"] and _overlap(a["top1"]["ci95"], b["top1"]["ci95"]):
                a["overlaps"].append(b["rank"])
    if sibling is not None:
        same_board = board if board["split"]["name"] == "same-signer" else sibling
        cross_board = sibling if same_board is board else board
        same = {(e["method"]["name"], e["method"]["config_hash"]): e for e in same_board["entries"]}
        cross = {(e["method"]["name"], e["method"]["config_hash"]): e for e in cross_board["entries"]}
        for row in rows:
            ident = (row["method"], row["config_hash"])
            if ident in same and ident in cross:
                row["gap"] = signer_gap(same[ident]["metrics"], cross[ident]["metrics"])
    return rows


def board_shots(board: dict[str, Any]) -> list[int]:
    return sorted({s for e in board["entries"] for s in shots_of(e["metrics"])})


def pct(mean_ci: dict[str, Any] | None) -> str:
    if mean_ci is None:
        return "–"
    lo, hi = mean_ci["ci95"]
    return f"{100 * mean_ci['mean']:.1f}{spread_text(mean_ci)} [{100 * lo:.1f}–{100 * hi:.1f}]"


#: how a one-seed row says why: a rich-table mark, and the words of the other formats
ONE_SEED = {"trains nothing": ("°", "1 (trains nothing)"), "one seed": ("*", "1 (not pooled: CI covers episodes only)")}
SEEDS_CAPTION = ("seeds: ° trains nothing, so one seed (it only redraws episodes, which the CI resamples); "
                 "* a trained method on one seed: its CI leaves out training luck")


def seeds_text(row: dict[str, Any], short: bool = False) -> str:
    n, why = row["seeds"]
    return str(n) if not why else (f"1{ONE_SEED[why][0]}" if short else ONE_SEED[why][1])


def _gap_text(row: dict[str, Any]) -> str:
    if not row["gap"]:
        return "–"
    g = row["gap"].get(shot_key(row["main_shots"]))
    return "–" if g is None else f"{100 * g:+.1f}"


def _trained_on(pretrained: dict[str, Any] | None) -> str | None:
    """What outside weights were trained on, short enough for a table cell (the entry has it all)."""
    if not pretrained:
        return None
    return re.split(r"[;(]", str(pretrained.get("trained_on", "?")))[0].strip()


def _cells(board: dict[str, Any], rows: list[dict[str, Any]], gap: bool) -> tuple[list[str], list[list[str]]]:
    """Header and text cells shared by the rich and Markdown renderings."""
    shots = board_shots(board)
    main = main_shots(board)
    head = ["#", "method", "config", "pretrained on", "seeds"]
    head += [f"top-1 S={s}" + (" ★" if s == main else "") for s in shots]
    head += [f"top-2 S={main}", "CI overlaps"]
    if gap:
        head.append(f"same−cross S={main}")
    head += ["commit", "date"]
    body = []
    for r in rows:
        cells = [str(r["rank"]), r["method"], r["config_hash"][:8], r["pretrained"] or "–", seeds_text(r)]
        cells += [pct(r["per_shots"].get(shot_key(s), {}).get("top1")) for s in shots]
        cells += [pct(r["top2"]), ("≈ " + ", ".join(f"#{k}" for k in r["overlaps"])) if r["overlaps"] else ""]
        if gap:
            cells.append(_gap_text(r))
        cells += [r["git_commit"][:7] + ("+dirty" if r["git_dirty"] else ""), r["date"][:10]]
        body.append(cells)
    return head, body


def _title(board: dict[str, Any]) -> str:
    d, s = board["dataset"], board["split"]
    return (
        f"{board['name']} · dataset {d['content_hash'][:8]} · split {s['manifest_sha256'][:8]} (seed {s['seed']}) "
        f"· ranked by top-1 at S={main_shots(board)} (%, 95 % CI; ≈ = CIs overlap){legend(board)}"
    )


def rich_table(board: dict[str, Any], rows: list[dict[str, Any]]) -> Table:
    """Terminal table, compact enough for 80 columns: top-1 per S with the CI under the mean.

    Commit and date stay in the Markdown/JSON/HTML forms; † marks a run from a dirty tree.
    """
    from rich import box

    gap = any(r["gap"] for r in rows)
    shots, main = board_shots(board), main_shots(board)
    table = Table(title=Text(_title(board)), box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("#", justify="right", min_width=1, no_wrap=True)
    table.add_column("method", no_wrap=True)
    table.add_column("config", no_wrap=True)
    table.add_column("seeds", justify="right", no_wrap=True)
    for s in shots:
        table.add_column(f"S={s}" + ("★" if s == main else ""), justify="right", no_wrap=True)
    table.add_column(f"top-2\nS={main}", justify="right", no_wrap=True)
    table.add_column("≈", no_wrap=True)
    if gap:
        table.add_column("gap", justify="right", no_wrap=True)
    two = lambda mc: pct(mc).replace(" [", "\n", 1).rstrip("]")  # noqa: E731
    for r in rows:
        cells = [str(r["rank"]), r["method"] + ("†" if r["git_dirty"] else ""), r["config_hash"][:6],
                 seeds_text(r, short=True)]
        cells += [two(r["per_shots"].get(shot_key(s), {}).get("top1")) for s in shots]
        cells += [two(r["top2"]), ",".join(f"#{k}" for k in r["overlaps"])]
        if gap:
            cells.append(_gap_text(r))
        table.add_row(*map(Text, cells))  # Text: a method named "[link=…]" is shown, not interpreted
    table.caption = "top-1 % with 95 % CI below; ★ ranking S; ≈ ranks whose CIs overlap; † dirty git tree" + (
        "; gap = same-signer − cross-signer top-1 at ★" if gap else "") + (
        f"; {SEEDS_CAPTION}" if any(r["seeds"][1] for r in rows) else "")
    return table


def markdown(board: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    gap = any(r["gap"] for r in rows)
    head, body = _cells(board, rows, gap)
    lines = [f"### {md_escape(_title(board))}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for cells in body:
        text = {i % len(cells) for i in TEXT_COLUMNS}
        cells = [md_escape(c) if i in text else c.replace("|", "\\|") for i, c in enumerate(cells)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def as_json(board: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    return json.dumps({"board": board["name"], "main_shots": main_shots(board), "rows": rows}, indent=1) + "\n"


def html_page(board: dict[str, Any], rows: list[dict[str, Any]], heading: str | None = None) -> str:
    """One static, self-contained page: sortable table (inline JS) and an embedded PNG plot.
    `heading` replaces "fsbench leaderboard · BOARD" (the demo's page must not pass for the board)."""
    from fsbench.report.figures import board_curves_png

    gap = any(r["gap"] for r in rows)
    head, body = _cells(board, rows, gap)
    sort_values = []
    for r in rows:
        vals = [r["rank"], r["method"], r["config_hash"][:8], r["pretrained"] or "", r["seeds"][0]]
        vals += [r["per_shots"].get(shot_key(s), {}).get("top1", {}).get("mean", -1) for s in board_shots(board)]
        vals += [r["top2"]["mean"] if r["top2"] else -1, len(r["overlaps"])]
        if gap:
            g = (r["gap"] or {}).get(shot_key(r["main_shots"]))
            vals.append(-1e9 if g is None else g)
        vals += [r["git_commit"][:8], r["date"]]
        sort_values.append(vals)
    th = "".join(f'<th data-col="{i}" tabindex="0">{html.escape(h)}</th>' for i, h in enumerate(head))
    trs = []
    for r, cells, vals in zip(rows, body, sort_values):
        tds = "".join(
            f'<td data-v="{html.escape(json.dumps(v))}">{html.escape(c)}</td>' for c, v in zip(cells, vals)
        )
        trs.append(f'<tr data-method="{html.escape(r["method"])}" data-rank="{r["rank"]}">{tds}</tr>')
    png = board_curves_png(board)
    return Template(TEMPLATE.read_text()).substitute(
        heading=html.escape(heading or f"fsbench leaderboard · {board['name']}"),
        subtitle=html.escape(_title(board)),
        header=th,
        rows="\n".join(trs),
        plot=base64.b64encode(png).decode(),
        n_rows=len(rows),
    )


def render(board: dict[str, Any], rows: list[dict[str, Any]], fmt: str) -> Table | str:
    if fmt == "rich":
        return rich_table(board, rows)
    if fmt == "markdown":
        return markdown(board, rows)
    if fmt == "json":
        return as_json(board, rows)
    if fmt == "html":
        return html_page(board, rows)
    raise ValueError(f"unknown format {fmt!r}")


def listing(items: list[dict[str, Any]], fmt: str) -> Table | str:
    """The `fsbench leaderboard` (no BOARD) overview."""
    if fmt == "json":
        return json.dumps(items, indent=1) + "\n"
    head = ["board", "entries", "main S", "leader", "top-1", "updated"]
    body = []
    for it in items:
        if "error" in it:
            body.append([it["board"], "–", "–", "corrupt", it["error"], ""])
        else:
            body.append([
                it["board"], str(it["entries"]), str(it["main_shots"]), it["leader"] or "–",
                pct(it["leader_top1"]), it["updated"][:10],
            ])
    if fmt in ("markdown", "html"):
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(map(md_escape, row)) + " |" for row in body]
        text = "\n".join(lines) + "\n"
        if fmt == "html":
            return "<pre>" + html.escape(text) + "</pre>\n"
        return text
    table = Table(title="fsbench leaderboards (top-1 %, 95 % CI, at each board's main S)")
    for h in head[:-1]:  # "updated" stays in the Markdown/JSON forms
        table.add_column(h, no_wrap=h != "top-1" or not any("error" in it for it in items))
    for row in body:
        table.add_row(*map(Text, row[:-1]))
    if not body:
        table.caption = "no boards yet: `fsbench publish RESULTS.json`"
    return table


def to_text(table: Table) -> str:
    """A rich table as plain text (for --out with the rich format)."""
    import io

    from rich.console import Console

    console = Console(width=200, file=io.StringIO())
    console.print(table)
    return console.file.getvalue()


def sibling_path(board: dict[str, Any], board_path: Path) -> Path | None:
    """Where the same-signer board of a leave-signer-out board (or vice versa) would be."""
    pairs = {"leave-signer-out": "same-signer", "same-signer": "leave-signer-out"}
    other = pairs.get(board["split"]["name"])
    if other is None:
        return None
    return board_path.with_name(board_path.name.replace(f"__{board['split']['name']}", f"__{other}", 1))


def sibling_gap_board(board: dict[str, Any], board_path: Path) -> dict[str, Any] | None:
    """The same-signer board for a leave-signer-out board (or vice versa), if published.

    Only a sibling over the same dataset content counts, so the gap compares like with like.
    """
    path = sibling_path(board, board_path)
    if path is None or not path.exists():
        return None
    try:
        sib = read_board(path)
    except ResultsError:
        return None
    if sib["dataset"]["content_hash"] != board["dataset"]["content_hash"]:
        return None
    return sib


def list_boards(boards_dir: Path) -> list[dict[str, Any]]:
    """One summary per board file; corrupt boards are listed with their error, not skipped."""
    out = []
    for path in sorted(Path(boards_dir).glob("*.json")):
        try:
            board = read_board(path)
        except ResultsError as exc:
            out.append({"board": path.stem, "error": str(exc)})
            continue
        main = main_shots(board)
        leader = board["entries"][0] if board["entries"] else None
        lead_m = leader["metrics"].get(shot_key(main)) if leader else None
        out.append({
            "board": path.stem,
            "dataset": board["dataset"]["name"],
            "split": board["split"]["name"],
            "entries": len(board["entries"]),
            "main_shots": main,
            "leader": leader["method"]["name"] if leader else None,
            "leader_top1": lead_m["top1"] if lead_m else None,
            "updated": board["updated"],
        })
    return out


def rendered(board: str | None, boards_dir: Path, fmt: str) -> Table | str:
    """One board (name or path) rendered in `fmt`, or the list of boards when `board` is None."""
    boards_dir = Path(boards_dir)
    if board is None:
        if not boards_dir.is_dir():
            if os.path.lexists(boards_dir):
                output_dir(boards_dir, "--boards")  # names what is there instead: a file, a FIFO, a loop
            raise ResultsError(f"no leaderboards folder {boards_dir}; publish results with `fsbench publish`")
        return listing(list_boards(boards_dir), fmt)
    path = resolve_board(board, boards_dir)
    data = read_board(path)
    return render(data, board_rows(data, sibling_gap_board(data, path)), fmt)


def emit(text: Table | str, out_path: Path | None, console: Console) -> None:
    """Write a rendering to `out_path`, or print it (Markdown/JSON/HTML raw, so pipes get it unwrapped)."""
    if out_path is not None:
        out_path = output_file(out_path)
        write_text(out_path, text if isinstance(text, str) else to_text(text))
        console.print(f"wrote {out_path}", markup=False, highlight=False)
    elif isinstance(text, str):
        console.file.write(text)
        console.file.flush()
    else:
        console.print(text)


def show(board: str | None, boards_dir: Path, fmt: str, out_path: Path | None, console: Console) -> None:
    """Print (or write) one board, or the list of boards when `board` is None."""
    if out_path is not None:
        output_file(out_path)  # before rendering: a bad --out fails fast
    emit(rendered(board, boards_dir, fmt), out_path, console)
