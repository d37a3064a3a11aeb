"""A broken or contract-breaking plugin is one line naming it and its distribution, never a traceback."""

from __future__ import annotations

import pytest

from harness import fsbench, refused

pytestmark = pytest.mark.usefixtures("plugin_root")


@pytest.mark.parametrize("args, needles", [
    (["info", "boom-exit"], ["'boom-exit'", "hostile-exit", "sys.exit(7)"]),
    (["run", "-m", "boom-exit", "-d", "x", "-s", "leave-signer-out"], ["hostile-exit", "sys.exit(7)"]),
    (["info", "boom-raise"], ["hostile-raise", "import failed badly"]),
    (["run", "-m", "boom-raise", "-d", "x", "-s", "leave-signer-out"], ["hostile-raise"]),
    (["prepare", "boom-data", "--raw", "/nowhere"], ["dataset 'boom-data'", "hostile-raise"]),
    (["run", "-m", "boom-missing", "-d", "x", "-s", "leave-signer-out"], ["hostile-missing", "ModuleNotFoundError"]),
    (["run", "-m", "int-method", "-d", "x", "-s", "leave-signer-out"], ["hostile-kinds", "int 42", "not a Method"]),
    (["info", "int-method"], ["hostile-kinds", "not a Method"]),
    (["run", "-m", "wrong-class", "-d", "x", "-s", "leave-signer-out"], ["NotAMethod", "not a Method"]),
    (["run", "-m", "int-factory", "-d", "TINY", "-s", "leave-signer-out"], ["int-factory", "built a int"]),
    (["run", "-m", "no-attr", "-d", "x", "-s", "leave-signer-out"], ["hostile-kinds", "AttributeError"]),
    (["run", "-m", "pixels", "-d", "TINY", "-s", "int-split"], ["split 'int-split'", "not a SignerSplit"]),
    (["prepare", "int-dataset", "--raw", "/nowhere"], ["dataset 'int-dataset'", "not a DatasetBuilder"]),
    (["run", "-m", "pixels", "-d", "TINY", "-s", "leave-signer-out", "--set", "classifier=int-classifier"],
     ["classifier 'int-classifier'", "not a LowShotClassifier"]),
], ids=lambda v: "-".join(v) if isinstance(v, list) and v and v[0] in ("info", "run", "prepare") else None)
def test_broken_plugin_is_one_line(args, needles, tiny_dir, tmp_path):
    out = tmp_path / "r.json"
    args = [str(tiny_dir) if a == "TINY" else a for a in args]
    if args[0] == "run":
        args += ["--shots", "1", "--episodes", "1", "--out", str(out)]
    refused(fsbench(*args), *needles)
    assert not out.exists()


def test_other_plugins_still_list_and_run(tiny_dir, tmp_path):
    """A broken distribution must not take `fsbench list` or the healthy methods down."""
    listing = fsbench("list", "methods")
    assert listing.rc == 0 and "boom-exit" in listing.out and "pixels" in listing.out
    ok = fsbench("run", "-m", "pixels", "-d", tiny_dir, "-s", "leave-signer-out", "--shots", "1", "--episodes", "1",
                 "--set", "size=8", "--out", tmp_path / "r.json")
    assert ok.rc == 0, ok.err


CONTRACT = [
    ("embed-1d", "1-D tensor"), ("embed-3d", "3-D tensor"), ("embed-empty", "at least one dimension"),
    ("embed-short", "embeddings for"), ("embed-long", "embeddings for"), ("embed-scalar", "0-D tensor"),
    ("embed-numpy", "ndarray, not a torch.Tensor"), ("embed-list", "list, not a torch.Tensor"),
    ("embed-none", "NoneType, not a torch.Tensor"), ("embed-nan", "non-finite embeddings"),
    ("embed-inf", "non-finite embeddings"), ("embed-complex", "complex64"), ("embed-bool", "torch.bool"),
    ("mask-short", "valid_mask"), ("mask-2d", "valid_mask"), ("mask-str", "valid_mask"),
    ("mask-float", "valid_mask"), ("mask-none", "valid_mask"), ("mask-raise", "failed in valid_mask"),
    ("clf-int", "make_classifier returned a int"), ("clf-object", "make_classifier returned a object"),
    ("clf-none", "make_classifier returned a NoneType"), ("clf-raise", "failed in make_classifier: TypeError"),
    ("fit-runtime", "failed in fit: RuntimeError: kaboom in fit"),
    ("fit-value", "failed in fit: ValueError: bad value over two lines"),
    ("fit-assert", "failed in fit: AssertionError"), ("fit-recursion", "failed in fit: RecursionError"),
    ("fit-zerodiv", "failed in fit: ZeroDivisionError"), ("fit-keyerror", "failed in fit: KeyError"),
    ("fit-import", "failed in fit: ImportError"), ("embed-runtime", "failed in embed: RuntimeError"),
    ("fit-fsbench", "faulty: its own one-line message"),
    ("fit-enospc", "disk full at /cache/models/x.pt"), ("fit-eacces", "permission denied: /cache/models"),
    ("fit-memory", "out of memory in hostile_faulty"), ("fit-torch-oom", "out of memory"),
    ("fit-exit", "hostile-faulty"),
]


@pytest.mark.parametrize("fault, needle", CONTRACT, ids=[c[0] for c in CONTRACT])
def test_contract_violation_is_one_line_naming_the_method(fault, needle, tiny_dir, tmp_path):
    out = tmp_path / "r.json"
    line = refused(fsbench("run", "-m", "faulty", "-d", tiny_dir, "-s", "leave-signer-out", "--shots", "1",
                           "--episodes", "1", "--set", f"fault={fault}", "--out", out), needle)
    if fault.startswith(("embed", "mask", "clf", "fit-r", "fit-v", "fit-a", "fit-z", "fit-k", "fit-i")):
        assert "faulty" in line and "hostile-faulty" in line
    assert not out.exists()  # no silent result


def test_wrong_predict_shape_in_the_loop_path(tiny_dir, tmp_path):
    refused(fsbench("run", "-m", "faulty-loop", "-d", tiny_dir, "-s", "leave-signer-out", "--shots", "1",
                    "--episodes", "1", "--set", "fault=clf-badshape", "--out", tmp_path / "r.json"),
            "predict_topk returned shape (3, 7)")


def test_keyboard_interrupt_in_plugin_code(tiny_dir, tmp_path):
    refused(fsbench("run", "-m", "faulty", "-d", tiny_dir, "-s", "leave-signer-out", "--shots", "1",
                    "--episodes", "1", "--set", "fault=fit-keyboard", "--out", tmp_path / "r.json"),
            "interrupted", rc=130)


def test_debug_keeps_the_traceback(tiny_dir, tmp_path):
    with pytest.raises(Exception, match="kaboom in fit"):
        fsbench("--debug", "run", "-m", "faulty", "-d", tiny_dir, "-s", "leave-signer-out", "--shots", "1",
                "--episodes", "1", "--set", "fault=fit-runtime", "--out", tmp_path / "r.json")


def test_demo_skips_broken_plugins_with_a_warning():
    """`fsbench demo` lists methods through load_all: broken distributions warn, the rest run."""
    import warnings

    from fsbench.cli.demo import demo_methods
    from fsbench.registry import PluginWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = demo_methods()
    broken = " ".join(str(w.message) for w in caught if issubclass(w.category, PluginWarning))
    assert "hostile-exit" in broken and "hostile-raise" in broken and "\n" not in broken
    assert "pixels" in found and "boom-exit" not in found
