"""The results document's shape as `TypedDict`s: what `fsbench run` writes and every stage reads.

The document is plain JSON (validated against schema/results.schema.json on every write and
read), so these types add no runtime cost; they let a type checker and a reader see which keys
exist where the code indexes the document by string. Keys the schema marks optional are
`NotRequired`. Per-S sections are keyed "S=<n>" (`fsbench.record.shots.shot_key`).
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class MeanCI(TypedDict):
    mean: float
    ci95: list[float]  # [low, high], bootstrap over episodes within signers


class SignerMetrics(TypedDict):
    top1: float
    top2: float
    top1_ci95: list[float]
    n_queries: int
    no_detection: int


class FoldMetrics(TypedDict):
    top1: float
    top2: float
    n_queries: int


class ClassMetrics(TypedDict):
    top1: float
    n_queries: int
    no_detection: int


class Confusion(TypedDict):
    classes: int
    cells: list[list[int]]  # non-zero [true, predicted, count], row-major


class ConfusedPair(TypedDict):
    true: str
    pred: str
    rate: float
    count: int


class ShotMetrics(TypedDict):
    """Everything reported for one S (`fsbench.evaluation.metrics.summarise`)."""

    n_queries: int
    n_episodes: int
    top1: MeanCI
    top2: MeanCI
    per_signer: dict[str, SignerMetrics]
    per_fold: dict[str, FoldMetrics]
    per_class: dict[str, ClassMetrics]
    confusion: Confusion
    confused_pairs: list[ConfusedPair]
    no_detection: int
    top1_detected_only: NotRequired[float]
    top2_detected_only: NotRequired[float]


class CodeInfo(TypedDict):
    version: str
    git_commit: str
    git_dirty: NotRequired[bool]


class MethodInfo(TypedDict):
    name: str
    version: str
    config: dict[str, Any]
    config_hash: str
    support_source: str  # "test-signer" | "test-signer+train"
    distribution: str
    pretrained: NotRequired[dict[str, Any]]


class DatasetInfo(TypedDict):
    name: str
    revision: str  # "local", or the Hub commit the data was loaded at
    content_hash: str
    num_images: int
    class_names: list[str]


class FoldManifest(TypedDict):
    name: str
    kind: str
    train_signers: list[str]
    test_signers: list[str]
    n_train: int
    n_test: int
    train_ids_sha256: str
    test_ids_sha256: str


class SplitInfo(TypedDict):
    name: str
    seed: int
    manifest_sha256: str
    folds: list[FoldManifest]


class ProtocolInfo(TypedDict):
    shots: list[int]
    episodes: int
    seed: int
    ways: int | None
    cross_condition: bool
    development: NotRequired[bool]
    small_class_policy: str
    episodes_sha256: dict[str, str]
    capped_classes: NotRequired[dict[str, int]]


class EpisodeRow(TypedDict):
    fold: str
    signer: str
    shots: int
    index: int
    n_query: int
    top1_correct: int
    top2_correct: int
    support_condition: NotRequired[str | None]
    capped_classes: NotRequired[int]


class ResultsDocument(TypedDict):
    """One `fsbench run`: what ran, on what, under which protocol, its outcome and provenance."""

    schema_version: int
    fsbench: CodeInfo
    created: str
    method: MethodInfo
    dataset: DatasetInfo
    split: SplitInfo
    protocol: ProtocolInfo
    metrics: dict[str, ShotMetrics]
    episodes: list[EpisodeRow]
    timings: dict[str, float]
    hardware: dict[str, Any]
    libraries: dict[str, str]
