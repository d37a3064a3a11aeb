"""README.md is tested, so it cannot drift from the code: its Usage commands run as written (in
order, from an empty folder, a fresh FSBENCH_HOME; a command whose comment starts `heavy:` is
documented but not run), each file a command reads was made by an earlier one, its plugin table
is `fsbench list` by distribution, every measured number it quotes is on a board or in a
bench/results file, and no doc names an internal issue number a reader cannot follow."""

from __future__ import annotations

import json
import math
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from fsbench import paths, registry
from fsbench.names import default_results_path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
HEAVY = "heavy:"
#: paths the Usage commands write and read (the user's own folders are made by the test)
MADE_HERE = ("runs/", "my-boards/")


def usage() -> list[tuple[list[str], str]]:
    """(argv, comment) of every line of the Usage block, in order."""
    block = README.split("\n## Usage\n", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        code, _, comment = line.partition("  #")
        if code.strip():
            commands.append((shlex.split(code), comment.strip()))
    return commands


def option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def outputs(args: list[str]) -> list[str]:
    """What a command writes that a later one may read."""
    command = args[1]
    if command == "run":
        tag = ("-xc" if "--cross-condition" in args else "") + ("-dev" if "--dev" in args else "")
        return [option(args, "--out") or str(default_results_path(
            option(args, "--method"), option(args, "--dataset"), option(args, "--split"), tag, 0))]
    if command == "sweep":
        return [option(args, "--out").rstrip("/") + "/"]
    if command == "publish":
        return [option(args, "--boards").rstrip("/") + "/"]
    return []


def test_usage_is_a_block_of_fsbench_commands():
    commands = usage()
    assert len(commands) >= 10 and all(args[0] == "fsbench" for args, _ in commands)
    assert any(comment.startswith(HEAVY) for _, comment in commands)  # the heavy ones are marked, not dropped


def test_every_file_a_command_reads_was_made_by_an_earlier_one():
    made: list[str] = []
    for args, _ in usage():
        written = set(outputs(args))
        out = option(args, "--out")
        reads = [a for a in args[2:] if a.startswith(MADE_HERE) and a not in written and a != out]
        for path in reads:
            folder = path.rstrip("/") + "/"  # a file inside something made, or a folder holding it
            assert any(folder.startswith(m) or m.startswith(folder) for m in made), \
                f"{' '.join(args)} reads {path}, made by nothing before"
        made += written


def _user_images(root: Path) -> None:
    """The user's folders the Usage block names, from real Massey images: my-letters/ (4 letters ×
    5 signers × 3), enrol/ (2 per letter) and new/ (one per letter)."""
    raw = paths.data_root() / "massey" / "asl_dataset"
    if not raw.is_dir():
        pytest.skip(f"real Massey images not at {raw} (FSBENCH_DATA)")
    for letter in "abcd":
        files = sorted((raw / letter).iterdir())
        for signer in range(1, 6):
            mine = [f for f in files if f.name.startswith(f"hand{signer}_")][:3]
            for n, f in enumerate(mine):
                target = root / "my-letters" / letter / f"hand{signer}_{n}.jpg"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(f)
        for n, f in enumerate(files[-3:-1]):
            (root / "enrol" / letter).mkdir(parents=True, exist_ok=True)
            (root / "enrol" / letter / f"{n}.jpg").symlink_to(f)
        (root / "new").mkdir(exist_ok=True)
        (root / "new" / f"{letter}.jpg").symlink_to(files[-1])


def test_usage_commands_run_as_written(tmp_path, monkeypatch):
    from fsbench.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FSBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FSBENCH_QUIET", "1")
    _user_images(tmp_path)
    for args, comment in usage():
        if comment.startswith(HEAVY):
            continue
        try:
            cli.main(args[1:], prog_name="fsbench", standalone_mode=False)
        except Exception as exc:  # noqa: BLE001 - name the README line that failed
            pytest.fail(f"README Usage: `{' '.join(args)}` failed: {type(exc).__name__}: {exc}")
        for path in outputs(args):
            assert Path(path).exists(), f"`{' '.join(args)}` did not write {path}"


def _table(section: str) -> list[list[str]]:
    text = README.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.startswith("|") and not line.startswith("|---")]


def test_plugin_table_is_fsbench_list_by_distribution():
    head, *rows = _table("Plugins")
    dists = [re.sub(r"[`*]|\(built in\)", "", c).strip() for c in head[1:]]
    listed = {(row[0].strip("`").removeprefix("fsbench."), dist): set(re.findall(r"`([^`]+)`", cell))
              for row in rows for dist, cell in zip(dists, row[1:])}
    installed = {}
    for kind in registry.GROUPS:
        for p in registry.plugins(kind):
            installed.setdefault((kind, p.distribution), set()).add(p.name)
    for (kind, dist), names in installed.items():
        assert dist in dists, f"distribution {dist} ({kind}: {sorted(names)}) is missing from README's plugin table"
        assert listed.get((kind, dist)) == names, f"README's plugin table, {kind} of {dist}: {listed.get((kind, dist))}"
    for (kind, dist), names in listed.items():
        assert not names or (kind, dist) in installed, f"README lists {sorted(names)} of {dist}, not installed"


#: a measured number: a decimal, or a count of seconds, a ratio or a rate
QUOTED = re.compile(r"(?<![\w.=§/-])(\d{1,3}(?:[  ]\d{3})+|\d+(?:\.\d+)?)(?:\s?(×|s\b|/s|img/s|GB|MB))?")
#: what is not a measurement: a version (2.14.1), a reference (Fig 3.9, eqs 3.24), a file name
NOT_MEASURED = re.compile(r"(\d+\.\d+\.\d+|(Fig|eqs?|§|Table)\s?[\d.–]+|\w+\.\w+/[\w./-]+)")


def _prose() -> str:
    text = re.sub(r"```.*?```", " ", README, flags=re.S)
    text = re.sub(r"`[^`]*`", " ", text)
    return NOT_MEASURED.sub(" ", text)


def _known() -> list[float]:
    """Every number of every board (×100 for fractions: boards keep top-1 as 0–1) and bench/results file."""
    found: list[float] = []

    def walk(value, scale):
        if isinstance(value, dict):
            for v in value.values():
                walk(v, scale)
        elif isinstance(value, list):
            for v in value:
                walk(v, scale)
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            found.extend([value, value * scale])

    for board in (ROOT / "leaderboards").glob("*.json"):
        walk(json.loads(board.read_text()), 100)
    for result in (ROOT / "bench" / "results").glob("*.json"):
        walk(json.loads(result.read_text()), 1)
    return found


def test_every_number_the_readme_quotes_is_on_a_board_or_in_bench_results():
    known = _known()
    missing = []
    for m in QUOTED.finditer(_prose()):
        number, unit = m.group(1), m.group(2)
        if "." not in number and not unit:
            continue  # a count of things (20-way, 5 signers, S=4) is a setting, not a measurement
        value = float(re.sub(r"\s", "", number))
        places = len(number.split(".")[1]) if "." in number else 0
        if not any(round(k, places) == value for k in known):
            missing.append(f"{number}{' ' + unit if unit else ''}")
    assert not missing, f"README quotes numbers no board or bench/results file holds: {missing}"


def test_no_doc_names_an_internal_issue_number():
    files = subprocess.run(["git", "ls-files", "*.md"], capture_output=True, text=True, cwd=ROOT).stdout.split()
    if not files:
        pytest.skip("not a git checkout")
    found = [f"{f}:{i}: {line.strip()[:80]}" for f in files if not f.startswith("results/")
             for i, line in enumerate((ROOT / f).read_text().splitlines(), 1)
             if re.search(r"\bissues? #?\d+", line, re.I)]
    assert not found, "docs name internal issue numbers a reader cannot follow:\n" + "\n".join(found)
