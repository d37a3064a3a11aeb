"""Keypoint pseudo-labels for the training fold's images, from any registered keypoint backbone.

The pose net needs 21 keypoints per image; fingerspelling datasets have none. A backbone that
can localise keypoints (default: the mediapipe-landmarks plugin's "mediapipe-hands") labels the
*training view's* images only; labels are cached per image content, so each image is labelled
once per labeller, whatever fold it appears in.
"""

from __future__ import annotations

import hashlib

import numpy as np

from fsbench import registry
from fsbench.api import PoseBackbone
from fsbench.atomic import write_with
from fsbench.data.dataset import DatasetView, to_tensor
from fsbench.errors import FsbenchError, UnknownPluginError
from fsbench.paths import cache_dir
from fsbench.progress import progress_bar

PLUGIN_HINT = {
    "mediapipe-hands": "pip install -e plugins/mediapipe-landmarks",
    "mediapipe-handnet": "pip install -e plugins/pretrained",
}


def resolve_labeller(name: str) -> PoseBackbone:
    """Instantiate the registered backbone `name`; a missing plugin is a one-line FsbenchError."""
    try:
        factory = registry.get("backbones", name)
    except UnknownPluginError:
        hint = PLUGIN_HINT.get(name, f"install the plugin that registers backbone {name!r}")
        raise FsbenchError(f"keypoint labeller {name!r} is not installed; run `{hint}` or set keypoint_source") from None
    return factory() if isinstance(factory, type) or callable(factory) else factory


def _image_keys(images: np.ndarray) -> list[str]:
    return [hashlib.sha256(im.tobytes()).hexdigest()[:32] for im in images]


def pseudo_label(view: DatasetView, labeller: PoseBackbone, size: int = 64, batch: int = 64) -> np.ndarray:
    """(N, 21, 3) keypoints in `size`-pixel coordinates (x, y, confidence) for `view`'s images."""
    in_size = labeller.input_size[0]
    fp = labeller.fingerprint()[:20]
    path = cache_dir("hand2vec") / f"pseudo-{fp}-{in_size}.npz"
    cache: dict[str, np.ndarray] = dict(np.load(path)) if path.exists() else {}
    mode = "RGB" if labeller.channels == 3 else "L"
    images = view.images(in_size, mode)
    keys = _image_keys(images)
    missing = [i for i, k in enumerate(keys) if k not in cache]
    if missing:
        with progress_bar() as bar:
            task = bar.add_task("pseudo-labelling keypoints", total=len(missing))
            for start in range(0, len(missing), batch):
                idx = missing[start : start + batch]
                kp = labeller.keypoints(to_tensor(images[idx])).detach().cpu().float().numpy()
                for i, k in zip(idx, kp):
                    cache[keys[i]] = k.astype(np.float32)
                bar.advance(task, len(idx))
        write_with(path, lambda fh: np.savez(fh, **cache))
    out = np.stack([cache[k] for k in keys]).astype(np.float32) if keys else np.zeros((0, 21, 3), np.float32)
    out[..., :2] *= size / in_size
    return out
