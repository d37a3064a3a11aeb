"""Your own images, without writing a plugin: any tree whose paths name the class and the signer.

`fsbench prepare folder --raw DIR --name NAME --pattern "{label}/{signer}_{*}.jpg"` matches every
file under DIR against the pattern (relative path, `/`-separated), takes the class from
`{label}`, the signer from `{signer}` and, if present, the recording condition from
`{condition}`; `{*}` matches anything within one path part. The card is generated from what was
found (classes, signers, counts, the pattern), and the rows go through the same writer as every
registered dataset, so NAME then runs on every split like `massey` does (`fsbench run --dataset
NAME`, found under FSBENCH_HOME/datasets/NAME).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from fsbench.data.builder import DatasetBuilder, PrepareReport, Row, encode_files
from fsbench.data.cards import DatasetCard
from fsbench.errors import DatasetError
from fsbench.limits import IMAGE_SIDE
from fsbench.progress import progress_bar

FIELDS = ("label", "signer", "condition", "*")
#: stored side when --size is not given, per --mode
DEFAULT_SIZE = {"RGB": 224, "L": 128}
EXAMPLE = '"{label}/{signer}_{*}.jpg"'
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")

CARD = DatasetCard(
    name="folder",
    title="Your own image folder, read by a path pattern",
    description=(
        "Not a dataset but a builder: prepares any image tree whose relative paths name the class "
        "({label}), the signer ({signer}) and optionally the recording condition ({condition}) "
        "into a dataset NAME that runs on every split."
    ),
    license="the owner's (set --license)",
    citation="none (your own data)",
    classes=(),
    raw_layout=f"RAW/<pattern>, e.g. {EXAMPLE}; fields {{label}} {{signer}} [{{condition}}] {{*}}",
    notes='fsbench prepare folder --raw DIR --name NAME --pattern "{label}/{signer}_{*}.jpg"',
)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The pattern as an anchored regex over a relative path; a field ends at the first text that
    follows it, a repeated field must repeat its value, literal text ignores case (.jpg = .JPG).

    Two fields with no text between them ({signer}{*}) are refused: where one ends is a guess, and
    the guess read signers alice and amy as one signer "a"."""
    parts, seen, pos, prev = [], set(), 0, None
    for m in re.finditer(r"\{([^{}]*)\}", pattern):
        parts.append(re.escape(pattern[pos:m.start()]))
        field = m.group(1)
        if field not in FIELDS:
            raise DatasetError(f"--pattern {pattern!r} has an unknown field {{{field}}}; fields are "
                               f"{{label}} {{signer}} {{condition}} {{*}}, e.g. {EXAMPLE}")
        if prev is not None and m.start() == pos:
            raise DatasetError(f"--pattern {pattern!r} puts {pattern[m.start() - 2 - len(prev):m.end()]} side by side: "
                               "where one field ends and the next begins would be a guess; put text that no name "
                               f"contains between them, e.g. {EXAMPLE}")
        if field == "*":
            parts.append(r"[^/]*")
        elif field in seen:
            parts.append(f"(?P={field})")
        else:
            parts.append(f"(?P<{field}>[^/]+?)")
            seen.add(field)
        pos, prev = m.end(), field
    parts.append(re.escape(pattern[pos:]))
    missing = [f"{{{f}}}" for f in ("label", "signer") if f not in seen]
    if missing:
        raise DatasetError(f"--pattern {pattern!r} lacks {' and '.join(missing)}: a signer-independent "
                           f"benchmark needs the class and the signer of every image, e.g. {EXAMPLE}")
    return re.compile("".join(parts), re.IGNORECASE)


class Folder(DatasetBuilder):
    card: ClassVar[DatasetCard] = CARD

    def __init__(self, *, partial: bool = False, dataset_name: str | None = None, pattern: str = "{label}/{signer}_{*}.jpg",
                 image_size: int | None = None, mode: str = "RGB", title: str | None = None,
                 license: str = "unknown (not stated by the owner)") -> None:
        super().__init__(partial=partial)
        name = dataset_name
        if not name:
            raise DatasetError("fsbench prepare folder needs --name NAME: the name `fsbench run --dataset NAME` will use")
        if not NAME_RE.match(name):
            raise DatasetError(f"--name {name!r} must be lower-case letters, digits, '-', '_' or '.' (e.g. my-asl)")
        from fsbench import registry

        if name in registry.names("datasets"):
            raise DatasetError(f"--name {name!r} is a registered dataset; choose another name for your own data")
        if mode not in ("RGB", "L"):
            raise DatasetError(f"--mode {mode!r} must be RGB (colour) or L (grayscale)")
        # colour hands at the pretrained nets' own 224 px (a 128-px copy costs frozen hand-net
        # features nothing measurable but fine-tuning its detail); grayscale at 128
        image_size = DEFAULT_SIZE[mode] if image_size is None else image_size
        low, high = IMAGE_SIDE
        if isinstance(image_size, bool) or not isinstance(image_size, int) or not low <= image_size <= high:
            raise DatasetError(f"--size {image_size!r} must be a side in pixels from {low} to {high} (e.g. 224); "
                               "images are stored as size×size squares")
        for flag, text in (("--title", title), ("--license", license)):
            if text is not None and (not text.strip() or any(ord(c) < 0x20 for c in text)):
                raise DatasetError(f"{flag} {text!r} must be non-empty text on one line, e.g. --license CC-BY-4.0")
        self.pattern, self.regex = pattern, compile_pattern(pattern)
        self.image_size, self.mode, self.title, self.license = int(image_size), mode, title, license
        self.card = self._card(name, (), ())  # the name now (prepare checks --out against it); the rest from the data
        self._files: list[tuple[Path, dict[str, str]]] = []

    def _card(self, name: str, classes: tuple[str, ...], signers: tuple[str, ...], raw: Path | None = None) -> DatasetCard:
        has_condition = "{condition}" in self.pattern
        return DatasetCard(
            name=name,
            title=self.title or f"{name}: own images prepared from a folder",
            description=(f"{len(classes)} classes by {len(signers)} signers, read from {raw or 'RAW'} with the "
                         f"path pattern {self.pattern!r} (fsbench prepare folder)."),
            license=self.license,
            citation="none given (a user's own data)",
            classes=classes, signers=signers,
            expected={"classes": len(classes), "signers": len(signers)} if classes else {},
            raw_layout=f"RAW/{self.pattern}",
            image_size=self.image_size,
            condition_column="condition" if has_condition else None,
            notes=(f"Prepared with `fsbench prepare folder --raw {raw or 'RAW'} --name {name} --pattern "
                   f"'{self.pattern}' --size {self.image_size} --mode {self.mode}`."),
        )

    def check_layout(self, raw: Path) -> Path:
        """Match every file against the pattern; the card's classes and signers come from the matches."""
        files = sorted(p for p in raw.rglob("*") if p.is_file() and not p.name.startswith("."))
        matched, seen = [], 0
        for path in files:
            seen += 1
            m = self.regex.fullmatch(path.relative_to(raw).as_posix())
            if m is not None:
                matched.append((path, {k: v for k, v in m.groupdict().items() if v is not None}))
        if not matched:
            example = files[0].relative_to(raw).as_posix() if files else None
            raise DatasetError(
                f"no file under {raw} matches --pattern {self.pattern!r} ({seen} files"
                + (f", e.g. {example!r}" if example else "") + f"); patterns are relative paths like {EXAMPLE}"
            )
        signers_of: dict[str, set[str]] = defaultdict(set)
        for _, fields in matched:
            signers_of[fields["label"]].add(fields["signer"])
        lonely = sorted(c for c, s in signers_of.items() if len(s) < 2)
        if lonely:
            c = lonely[0]
            raise DatasetError(
                f"class {c!r} has images from one signer only ({next(iter(signers_of[c]))!r})"
                + (f", and {len(lonely) - 1} more classes too" if len(lonely) > 1 else "")
                + "; leave-signer-out needs every class from at least 2 signers: add another signer's "
                f"images of {c!r} or remove that class"
            )
        classes = tuple(sorted(signers_of))
        signers = tuple(sorted({s for ss in signers_of.values() for s in ss}))
        self.card = self._card(self.card.name, classes, signers, raw)
        self._files = matched
        kept = {f for f, _ in matched}
        self._skipped = [p.relative_to(raw).as_posix() for p in files if p not in kept]
        return raw

    def rows(self, root: Path, report: PrepareReport, strict: bool) -> Iterator[Row]:
        report.skipped += [{"path": p, "reason": f"does not match {self.pattern!r}"} for p in self._skipped]
        fields_of = dict(self._files)
        with progress_bar() as bar:
            task = bar.add_task(f"preparing {self.card.name}", total=len(self._files))
            for path, image, error in encode_files(list(fields_of), self.image_size, self.mode):
                bar.advance(task)
                rel = path.relative_to(root).as_posix()
                if image is None:
                    self.corrupt(report, rel, error, strict)
                    continue
                fields = fields_of[path]
                yield {"id": rel, "label": fields["label"],
                       "signer": fields["signer"], "condition": fields.get("condition"), "image": image}
