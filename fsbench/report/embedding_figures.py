"""Figures that need a fitted model: kernel PCA of the embedding and similarity gradients.

Thesis §3.2.2. Fig 3.17: kernel PCA with the cosine kernel k(x₁, x₂) = φ(x₁)·φ(x₂) on 10 random
classes shows whether the embedding really carries cosine similarity (classes form regions in
the top-2 components). Fig 3.18 / eq 3.38: for n = 8 images, the input-wise gradient
x̄ₐ⁽ᵇ⁾ = ∂(φ(xₐ)·φ(x_b))/∂xₐ shows which pixels of image a the similarity to b depends on,
drawn as σ(x̄) in an (a, b) grid.

The gradient maps need the optional capability `embed_tensor(images: Tensor) -> Tensor`, a
differentiable embedding of float (N, C, H, W) images in [0, 1]; the images are read from the
view at the config's `size` / `mode` unless the method defines `input_spec() -> (size, mode)`.
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from fsbench.api import EmbedsTensors, Method  # noqa: E402
from fsbench.data.dataset import DatasetView  # noqa: E402
from fsbench.errors import FsbenchError  # noqa: E402
from fsbench.report.figures import to_png  # noqa: E402


class CapabilityError(FsbenchError):
    """A figure needs a method capability (e.g. `embed_tensor`) the method does not offer."""


def kernel_pca(embeddings: np.ndarray, n_components: int = 2) -> np.ndarray:
    """Coordinates (N, n_components) of kernel PCA with the cosine kernel (eq. 3.29–3.30).

    K = ΦΦᵀ on unit-normalised embeddings, double-centred; coordinates are the top
    eigenvectors scaled by √λ (equivalently, PCA of the unit vectors).
    """
    e = np.asarray(embeddings, dtype=np.float64)
    e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    k = e @ e.T
    n = len(k)
    one = np.full((n, n), 1.0 / n)
    kc = k - one @ k - k @ one + one @ k @ one
    vals, vecs = np.linalg.eigh(kc)
    order = np.argsort(vals)[::-1][:n_components]
    return vecs[:, order] * np.sqrt(np.clip(vals[order], 0, None))


def pick_classes(view: DatasetView, n_classes: int, seed: int, per_class: int) -> DatasetView:
    """A seeded subset of the view: `n_classes` random classes, ≤ `per_class` images each."""
    rng = np.random.default_rng([seed, 317])
    labels = view.labels
    classes = np.unique(labels)
    chosen = np.sort(rng.choice(classes, size=min(n_classes, len(classes)), replace=False))
    positions = []
    for c in chosen:
        pos = np.flatnonzero(labels == c)
        positions.append(np.sort(rng.permutation(pos)[:per_class]))
    return view.subset(np.concatenate(positions))


def kernel_pca_png(method: Method, view: DatasetView, seed: int = 0, n_classes: int = 10, per_class: int = 60) -> bytes:
    """Fig 3.17: the top-2 kernel-PCA components of `method.embed` on 10 random classes."""
    sub = pick_classes(view, n_classes, seed, per_class)
    with torch.no_grad():
        emb = method.embed(sub).detach().float().cpu().numpy()
    coords = kernel_pca(emb)
    names = view.dataset.class_names
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    cmap = plt.get_cmap("tab10")
    for i, c in enumerate(np.unique(sub.labels)):
        m = sub.labels == c
        ax.scatter(coords[m, 0], coords[m, 1], s=14, alpha=0.75, color=cmap(i % 10), label=names[c])
    ax.set_xlabel("kernel PC 1")
    ax.set_ylabel("kernel PC 2")
    ax.legend(fontsize=7, markerscale=1.5, loc="best", ncols=2)
    ax.set_title(f"kernel PCA (cosine kernel) of {method.name} embeddings · {len(sub)} images", fontsize=10)
    return to_png(fig)


def _input_spec(method: Method) -> tuple[int, str]:
    spec = getattr(method, "input_spec", None)
    if callable(spec):
        size, mode = spec()
        return int(size), str(mode)
    config = method.config_dict()
    return int(config.get("size", 64)), str(config.get("mode", "RGB"))


def similarity_gradients(method: Any, images: torch.Tensor) -> torch.Tensor:
    """(n, C, H, W) images → (n, n, C, H, W) with [a, b] = ∂(φ(x_a)·φ(x_b))/∂x_a (eq. 3.38).

    φ(x_b) is held fixed for each target b, so row a depends on image a only; one backward
    pass per target.
    """
    if not isinstance(method, EmbedsTensors):
        raise CapabilityError(
            f"method {getattr(method, 'name', type(method).__name__)!r} has no differentiable "
            "`embed_tensor(images)`; similarity-gradient maps need it (kernel PCA does not)"
        )
    x = images.detach().clone()
    x = (x if x.is_floating_point() else x.float()).requires_grad_(True)
    emb = method.embed_tensor(x)
    target = emb.detach()
    out = torch.empty((len(x), *x.shape), dtype=x.dtype)
    for b in range(len(x)):
        (grad,) = torch.autograd.grad((emb * target[b]).sum(), x, retain_graph=b < len(x) - 1)
        out[:, b] = grad
    return out


def pick_images(view: DatasetView, n: int, seed: int) -> DatasetView:
    """n images of n different classes (as many as exist), seeded."""
    rng = np.random.default_rng([seed, 338])
    labels = view.labels
    classes = rng.permutation(np.unique(labels))[:n]
    pos = [int(rng.choice(np.flatnonzero(labels == c))) for c in classes]
    if len(pos) < n:  # fewer classes than n: fill with other images
        rest = np.setdiff1d(np.arange(len(view)), pos)
        pos += rng.permutation(rest)[: n - len(pos)].tolist()
    return view.subset(np.array(pos))


def gradient_maps_png(method: Any, view: DatasetView, n: int = 8, seed: int = 0) -> bytes:
    """Fig 3.18: an (a, b) grid of σ(x̄ₐ⁽ᵇ⁾); rows are inputs a, columns are targets b.

    Raw gradients are tiny, so each map is scaled by 3× its own standard deviation before σ:
    0.5 (white) = no influence, red = pixels that raise the similarity, blue = lower it.
    """
    sub = pick_images(view, n, seed)
    size, mode = _input_spec(method)
    images = sub.tensor(size, mode)
    grads = similarity_gradients(method, images).float().sum(dim=2)  # (n, n, H, W)
    scale = grads.flatten(2).std(dim=2).clamp_min(1e-12)[..., None, None]
    shown = torch.sigmoid(grads / (3 * scale)).numpy()
    n = len(images)
    fig, axes = plt.subplots(n + 1, n + 1, figsize=(1.3 * (n + 1), 1.3 * (n + 1)))
    pics = images.permute(0, 2, 3, 1).numpy()
    names = view.dataset.class_names
    for ax in axes.flat:
        ax.set_axis_off()
    for i in range(n):
        pic = pics[i] if pics.shape[-1] == 3 else pics[i, ..., 0]
        axes[0, i + 1].imshow(pic, cmap="gray", vmin=0, vmax=1)
        axes[0, i + 1].set_title(f"b: {names[sub.labels[i]]}", fontsize=7)
        axes[i + 1, 0].imshow(pic, cmap="gray", vmin=0, vmax=1)
        axes[i + 1, 0].set_title(f"a: {names[sub.labels[i]]}", fontsize=7)
        for j in range(n):
            axes[i + 1, j + 1].imshow(shown[i, j], cmap="RdBu_r", vmin=0, vmax=1)
    fig.subplots_adjust(top=0.93, hspace=0.35, wspace=0.1)
    fig.suptitle(f"σ(∂(φ(x_a)·φ(x_b))/∂x_a) · {getattr(method, 'name', '')} · rows a, columns b", fontsize=10, y=0.97)
    return to_png(fig)
