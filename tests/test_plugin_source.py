"""`fsbench info` reads plugins from their source (no torch import): what it reads must be what
importing them gives, and every method of this repository must stay readable that way."""

from __future__ import annotations

import inspect

import pytest

from fsbench import registry
from fsbench.cli.plugin_source import Unreadable, class_reference, read
from fsbench.configs import as_dict, flatten

KINDS = ("methods", "backbones", "heads", "classifiers", "splits")
WANTED = ("default_config", "config_auto")
PLUGINS = [p for k in KINDS for p in registry.plugins(k)]
#: distributions of this repository, whose methods must describe themselves without torch
OURS = {"fsbench", "fsbench-hand2vec", "fsbench-fewshot-baselines", "fsbench-mediapipe-landmarks", "fsbench-pretrained"}


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda p: f"{p.kind}:{p.name}")
def test_source_reading_equals_the_import(plugin):
    try:
        doc, attrs = read(plugin.value, WANTED, registry.BASES[plugin.kind])
    except Unreadable:
        pytest.skip("described by importing it")
    obj = plugin.load()
    assert doc == (inspect.getdoc(obj) or "")
    assert attrs == {a: getattr(obj, a) for a in WANTED if hasattr(obj, a)}


@pytest.mark.parametrize("plugin", [p for p in registry.plugins("methods") if p.distribution in OURS],
                         ids=lambda p: p.name)
def test_our_methods_are_described_without_torch(plugin):
    try:
        _, attrs = read(plugin.value, WANTED, "Method")
        found = class_reference(plugin.value, "config_class")
    except Unreadable as exc:
        pytest.fail(f"`fsbench info {plugin.name}` would import torch ({exc}): keep its default_config made of "
                    "literals, constants and spreads, or teach fsbench/cli/plugin_source.py the new form")
    cls = plugin.load()
    assert found == ((cls.config_class.__module__, cls.config_class.__name__) if cls.config_class else None)
    defaults = flatten(as_dict(cls.config_class())) if cls.config_class else attrs["default_config"]
    autos = {k for k, v in defaults.items() if v == "auto"}
    assert autos <= set(attrs.get("config_auto", {})), f"say what {sorted(autos)} resolve to in config_auto"


def test_a_class_outside_the_group_is_left_to_the_import_check():
    with pytest.raises(Unreadable, match="does not derive"):
        read("fsbench.protocol.splits:LeaveSignerOut", WANTED, "Method")  # a split named as a method
