"""Fake plugin distributions for the hostile suite: broken imports, wrong kinds, contract breakers.

`faulty` is one method whose `fault` config key picks how it misbehaves, so every way a
third-party method can break the `fsbench.api.Method` contract is one `--set fault=…` away.
"""

FAULTY = '''
import errno

import numpy as np
import torch

from fsbench import registry
from fsbench.api import LowShotClassifier, Method
from fsbench.errors import FsbenchError


class BadShape(LowShotClassifier):
    def fit(self, support, labels):
        self.classes_ = torch.unique(labels)
        return self

    def scores(self, queries):
        return torch.zeros(len(queries), len(self.classes_))

    def predict_topk(self, queries, k=1):
        return torch.zeros(3, 7, dtype=torch.long)


class Faulty(Method):
    name = "faulty"
    default_config = {"fault": "none"}

    def fit(self, train, seed):
        fault = self.config["fault"]
        raising = {
            "fit-runtime": RuntimeError("kaboom in fit"),
            "fit-value": ValueError("bad value\\nover two lines"),
            "fit-assert": AssertionError(),
            "fit-recursion": RecursionError("maximum recursion depth exceeded"),
            "fit-exit": SystemExit(3),
            "fit-keyboard": KeyboardInterrupt(),
            "fit-memory": MemoryError(),
            "fit-enospc": OSError(errno.ENOSPC, "No space left on device", "/cache/models/x.pt"),
            "fit-eacces": PermissionError(errno.EACCES, "Permission denied", "/cache/models"),
            "fit-fsbench": FsbenchError("faulty: its own one-line message"),
            "fit-torch-oom": RuntimeError("[enforce fail] DefaultCPUAllocator: can't allocate memory: 99 GB"),
            "fit-zerodiv": ZeroDivisionError("division by zero"),
            "fit-keyerror": KeyError("missing"),
            "fit-import": ImportError("No module named 'nonexistent_dep'"),
        }
        if fault in raising:
            raise raising[fault]

    def embed(self, view):
        n, fault = len(view), self.config["fault"]
        if fault == "embed-runtime":
            raise RuntimeError("embed exploded")
        shapes = {"embed-1d": (n,), "embed-3d": (n, 2, 2), "embed-empty": (n, 0), "embed-short": (max(n - 1, 0), 4),
                  "embed-long": (n + 5, 4), "embed-scalar": ()}
        if fault in shapes:
            return torch.zeros(shapes[fault])
        if fault == "embed-numpy":
            return np.zeros((n, 4), np.float32)
        if fault == "embed-list":
            return [[0.0] * 4] * n
        if fault == "embed-none":
            return None
        if fault == "embed-nan":
            return torch.full((n, 4), float("nan"))
        if fault == "embed-inf":
            return torch.full((n, 4), float("inf"))
        if fault == "embed-complex":
            return torch.zeros(n, 4, dtype=torch.complex64)
        if fault == "embed-bool":
            return torch.zeros(n, 4, dtype=torch.bool)
        return torch.nn.functional.normalize(torch.from_numpy(view.labels.astype("float32"))[:, None] + torch.rand(n, 4), dim=1)

    def valid_mask(self, view):
        n, fault = len(view), self.config["fault"]
        masks = {"mask-short": np.ones(max(n - 1, 0), bool), "mask-2d": np.ones((n, 2), bool),
                 "mask-str": "yes", "mask-float": np.full(n, 0.5), "mask-none": None}
        if fault == "mask-raise":
            raise ValueError("mask failed")
        return masks.get(fault, np.ones(n, bool))

    def make_classifier(self):
        fault = self.config["fault"]
        if fault == "clf-int":
            return 3
        if fault == "clf-object":
            return object()
        if fault == "clf-none":
            return None
        if fault == "clf-badshape":
            return BadShape()
        if fault == "clf-raise":
            raise TypeError("classifier factory broke")
        return registry.get("classifiers", "prototype")()


class Mirror(Faulty):
    """Same faults, but a classifier the batched path never takes (the per-episode loop)."""
    name = "faulty-loop"
    support_source = "test-signer+train"
'''

KINDS = '''
NUMBER = 42


class NotAMethod:
    pass


def int_factory(config=None):
    return 5
'''

#: distribution → ({module: source}, {plugin kind (fsbench.registry.GROUPS): {name: target}})
PLUGINS = {
    "hostile-exit": ({"hostile_exit": "raise SystemExit(7)\n"}, {"methods": {"boom-exit": "hostile_exit:M"}}),
    "hostile-raise": (
        {"hostile_raise": "raise RuntimeError('import failed badly')\n"},
        {"methods": {"boom-raise": "hostile_raise:M"}, "datasets": {"boom-data": "hostile_raise:B"}},
    ),
    "hostile-missing": ({}, {"methods": {"boom-missing": "hostile_nowhere.deep:M"}}),
    "hostile-kinds": (
        {"hostile_kinds": KINDS},
        {
            "methods": {"int-method": "hostile_kinds:NUMBER", "wrong-class": "hostile_kinds:NotAMethod",
                                "int-factory": "hostile_kinds:int_factory", "no-attr": "hostile_kinds:Missing"},
            "splits": {"int-split": "hostile_kinds:NUMBER"},
            "datasets": {"int-dataset": "hostile_kinds:NUMBER"},
            "classifiers": {"int-classifier": "hostile_kinds:NUMBER"},
        },
    ),
    "hostile-faulty": (
        {"hostile_faulty": FAULTY},
        {"methods": {"faulty": "hostile_faulty:Faulty", "faulty-loop": "hostile_faulty:Mirror"}},
    ),
}
