"""Loading a user-supplied backbone checkpoint, refusing one saved for another config.

Trained backbones are saved by `fsbench.training.cache.train_or_load` as {key, meta, state_dict};
their meta (arch, num_classes) is checked like a {config, state_dict} file's config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from fsbench.errors import FsbenchError


class CheckpointError(FsbenchError):
    """A checkpoint that does not match the config it is loaded with."""


def load_checkpoint(path: Path, model: nn.Module, config: dict[str, Any]) -> nn.Module:
    """Load weights into `model`; every key of `config` must equal the saved one."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist; train it first or fix the path") from None
    except Exception as exc:  # corrupt or foreign file
        raise CheckpointError(f"checkpoint {path} is unreadable ({type(exc).__name__}); delete it and retrain") from None
    saved = (blob.get("config") or blob.get("meta") or {}) if isinstance(blob, dict) else {}
    diff = {k: (saved.get(k), v) for k, v in config.items() if saved.get(k) != v}
    if diff:
        desc = ", ".join(f"{k}: saved {a!r} vs asked {b!r}" for k, (a, b) in sorted(diff.items()))
        raise CheckpointError(
            f"checkpoint {path} was saved with an incompatible config ({desc}); "
            f"load it with the saved config or delete it to retrain"
        )
    try:
        model.load_state_dict(blob["state_dict"])
    except (RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0][:160]
        raise CheckpointError(f"checkpoint {path} does not fit this network ({first}); delete it to retrain") from None
    return model
