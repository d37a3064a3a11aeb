"""Images are read as they are meant to be seen, and prepare says what it finds (issue 25, case 9):
16-bit and float images scaled, not clipped; EXIF orientation applied; identical pictures reported
(refused across signers unless allowed); a pattern whose fields touch refused."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from PIL import Image

from fsbench.data.builder import read_image
from fsbench.data.dataset import decode_image
from fsbench.data.loader import load_prepared
from fsbench.testing import tiny_image
from harness import fsbench, load, refused

PATTERN = "{label}/{signer}_{*}"


def gradient() -> np.ndarray:
    """A 32×32 left-to-right ramp over [0, 1]."""
    return np.tile(np.linspace(0.0, 1.0, 32), (32, 1))


def encoded(kind: str) -> tuple[bytes, str]:
    """(file bytes, suffix) of the ramp in a high-depth format."""
    buf = io.BytesIO()
    if kind == "png16":
        Image.fromarray((gradient() * 65535).astype(np.uint16)).save(buf, format="PNG")
        return buf.getvalue(), ".png"
    if kind == "tiff-float":
        Image.fromarray(gradient().astype(np.float32)).save(buf, format="TIFF")
        return buf.getvalue(), ".tif"
    Image.fromarray((gradient() * 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue(), ".png"


def raw_tree(root, image=lambda c, s, k: (tiny_image(c, s, k), ".png"), signers=("s1", "s2"), classes="ab"):
    """RAW/<class>/<signer>_<k><suffix>: two images per class and signer."""
    for ci, c in enumerate(classes):
        (root / c).mkdir(parents=True, exist_ok=True)
        for si, s in enumerate(signers):
            for k in range(2):
                data, suffix = image(ci, si, k)
                (root / c / f"{s}_{k}{suffix}").write_bytes(data)
    return root


def prepare(raw, out, *extra, pattern=PATTERN + ".png", mode="L"):
    return fsbench("prepare", "folder", "--raw", raw, "--name", "mine", "--pattern", pattern, "--size", "32",
                   "--mode", mode, "--out", out, *extra)


def stored(out) -> np.ndarray:
    data = load_prepared(out, "mine")
    return np.stack([np.asarray(im.convert("L"), dtype=np.float64) for im in data.hf["image"]])


@pytest.mark.parametrize("kind", ["png16", "tiff-float"])
def test_high_depth_images_are_scaled_not_clipped_by_prepare(tmp_path, kind):
    data, suffix = encoded(kind)
    raw = raw_tree(tmp_path / "raw", lambda c, s, k: (data, suffix))
    outcome = prepare(raw, tmp_path / "out", "--allow-duplicates", pattern=PATTERN + suffix)
    assert outcome.rc == 0, outcome.err
    pixels = stored(tmp_path / "out")
    assert 110 < pixels.mean() < 145, pixels.mean()  # the ramp's mean, not 255 (white) or 0 (black)
    assert pixels[:, :, 0].mean() < 20 and pixels[:, :, -1].mean() > 235  # dark left, bright right


@pytest.mark.parametrize("kind", ["png16", "tiff-float"])
@pytest.mark.parametrize("reader", ["predict-encoder", "pixel-cache"])
def test_high_depth_images_are_scaled_by_every_reader(kind, reader, tmp_path):
    data, suffix = encoded(kind)
    if reader == "pixel-cache":
        arr = decode_image({"bytes": data, "path": None}, 32, "L")[..., 0].astype(float)
    else:  # what `fsbench predict` encodes its support and query images with
        path = tmp_path / f"x{suffix}"
        path.write_bytes(data)
        arr = np.asarray(Image.open(io.BytesIO(read_image(path, None, 32, "RGB"))).convert("L"), dtype=float)
    assert 110 < arr.mean() < 145 and arr[:, 0].mean() < 20 and arr[:, -1].mean() > 235, arr.mean()


def sideways(fmt: str) -> tuple[bytes, np.ndarray]:
    """A 32 (wide) × 16 (high) picture with a bright block at its top left, stored turned a quarter
    anticlockwise with EXIF Orientation 6 ("turn 90° clockwise to view"), as phones store portraits."""
    upright = np.zeros((16, 32), np.uint8)
    upright[:6, :10] = 255
    stored_pixels = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    stored_pixels.save(buf, format=fmt, exif=exif.tobytes(), **({"quality": 95} if fmt == "JPEG" else {}))
    return buf.getvalue(), upright


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("reader", ["prepare", "predict-encoder", "pixel-cache"])
def test_exif_orientation_is_applied(tmp_path, fmt, reader):
    data, upright = sideways(fmt)
    suffix = ".png" if fmt == "PNG" else ".jpg"
    if reader == "prepare":
        raw = raw_tree(tmp_path / "raw", lambda c, s, k: (data, suffix))
        outcome = prepare(raw, tmp_path / "out", "--allow-duplicates", pattern=PATTERN + suffix)
        assert outcome.rc == 0, outcome.err
        got = stored(tmp_path / "out")[0]
    elif reader == "pixel-cache":
        got = decode_image({"bytes": data, "path": None}, 32, "L")[..., 0].astype(float)
    else:
        path = tmp_path / f"x{suffix}"
        path.write_bytes(data)
        got = np.asarray(Image.open(io.BytesIO(read_image(path, None, 32, "L"))), dtype=float)
    # padded to a square (prepare) or stretched (pixel cache): either way the block is upper left
    h, w = got.shape
    upper, lower, left, right = got[: h // 2].mean(), got[h // 2 :].mean(), got[:, : w // 2].mean(), got[:, w // 2 :].mean()
    assert upper > lower + 20 and left > right + 20, (upper, lower, left, right)


def same_picture(c, s, k):
    """Class a's first picture is the same file under both signers: a train/test leak."""
    return (tiny_image(0, 0, 0), ".png") if (c, k) == (0, 0) else (tiny_image(c, s, k), ".png")


def test_identical_pictures_under_two_signers_are_refused(tmp_path):
    raw = raw_tree(tmp_path / "raw", same_picture)
    line = refused(prepare(raw, tmp_path / "out"), "more than one signer", "'a/s1_0.png' and 'a/s2_0.png'",
                   "--allow-duplicates")
    assert "a/s1_0.png" in line and not (tmp_path / "out").exists()


def test_identical_pictures_under_two_signers_are_kept_when_allowed_and_listed(tmp_path):
    raw = raw_tree(tmp_path / "raw", same_picture)
    outcome = prepare(raw, tmp_path / "out", "--allow-duplicates")
    assert outcome.rc == 0, outcome.err
    assert "identical pixels: a/s1_0.png, a/s2_0.png (signers s1, s2; classes a)" in outcome.out
    (group,) = load(tmp_path / "out" / "fsbench.json")["report"]["duplicate_images"]
    assert group["ids"] == ["a/s1_0.png", "a/s2_0.png"] and group["signers"] == ["s1", "s2"]


def test_identical_pictures_under_two_classes_are_listed(tmp_path):
    raw = raw_tree(tmp_path / "raw", lambda c, s, k: (tiny_image(0, s, 0), ".png") if k == 0 else (tiny_image(c, s, k), ".png"))
    outcome = prepare(raw, tmp_path / "out")  # same signer: no leak, but a labelling error to show
    assert outcome.rc == 0, outcome.err
    assert "2 groups of identical pixels" in outcome.out and "classes a, b" in outcome.out
    groups = load(tmp_path / "out" / "fsbench.json")["report"]["duplicate_images"]
    assert [g["labels"] for g in groups] == [["a", "b"], ["a", "b"]]


@pytest.mark.parametrize("pattern", ["{label}/{signer}{*}.png", "{label}/{*}{signer}.png"])
def test_a_pattern_whose_fields_touch_is_refused(tmp_path, pattern):
    """`{signer}{*}` read alice1.png and amy1.png as one signer "a"."""
    raw = tmp_path / "raw"
    for c in "ab":
        (raw / c).mkdir(parents=True)
        for i, s in enumerate(("alice", "amy")):
            (raw / c / f"{s}1.png").write_bytes(tiny_image(ord(c) - 97, i, 0))
    refused(prepare(raw, tmp_path / "out", pattern=pattern), "side by side", "--pattern")
    assert not (tmp_path / "out").exists()


def test_a_pattern_with_separators_still_reads_each_signer(tmp_path):
    raw = raw_tree(tmp_path / "raw", signers=("alice", "amy"))
    assert prepare(raw, tmp_path / "out").rc == 0
    assert sorted(set(load_prepared(tmp_path / "out", "mine").signers.tolist())) == ["alice", "amy"]
    shutil.rmtree(tmp_path / "out")
