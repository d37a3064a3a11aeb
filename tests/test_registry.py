"""Registry: discovery through entry points, duplicates, broken plugins, unknown names."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from fsbench import registry
from fsbench.errors import FsbenchError, UnknownPluginError


def fake_ep(name: str, value: str, dist: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, value=value, dist=SimpleNamespace(name=dist))


@pytest.fixture
def fake_methods(monkeypatch):
    """Replace entry-point discovery for the methods group with a controlled list."""
    eps: list[SimpleNamespace] = []

    def entry_points(group: str):
        if group == "fsbench.methods":
            return eps
        return []

    monkeypatch.setattr(registry, "entry_points", entry_points)
    registry.refresh()
    yield eps
    registry.refresh()


def test_builtins_are_registered_through_entry_points():
    assert "pixels" in registry.names("methods")
    assert {"leave-signer-out", "same-signer", "unseen-class"} <= set(registry.names("splits"))
    assert {"max", "mean", "softmax", "prototype"} <= set(registry.names("classifiers"))
    assert registry.find("methods", "pixels").distribution == "fsbench"


def test_unknown_name_lists_installed_and_suggests(fake_methods):
    fake_methods.append(fake_ep("pixels", "fsbench.methods.pixels:Pixels", "fsbench"))
    with pytest.raises(UnknownPluginError) as info:
        registry.get("methods", "pixel")
    msg = str(info.value)
    assert "installed: pixels" in msg and "Did you mean 'pixels'?" in msg and "\n" not in msg


def test_duplicate_names_name_both_distributions(fake_methods):
    fake_methods += [
        fake_ep("dup", "fsbench.methods.pixels:Pixels", "dist-one"),
        fake_ep("dup", "fsbench.methods.pixels:Pixels", "dist-two"),
    ]
    with pytest.raises(FsbenchError, match="'dist-one' and 'dist-two'"):
        registry.get("methods", "dup")
    assert "dup" in registry.names("methods")


def test_broken_plugin_warns_and_the_rest_still_work(fake_methods):
    fake_methods += [
        fake_ep("broken", "no_such_module_xyz:Thing", "broken-dist"),
        fake_ep("pixels", "fsbench.methods.pixels:Pixels", "fsbench"),
    ]
    with pytest.warns(registry.PluginWarning, match="broken.*broken-dist"):
        loaded = registry.load_all("methods")
    assert set(loaded) == {"pixels"}
    with pytest.raises(registry.BrokenPluginError, match="'broken-dist'"):
        registry.get("methods", "broken")


def test_unknown_kind():
    with pytest.raises(UnknownPluginError, match="kinds are"):
        registry.names("widgets")


@pytest.mark.parametrize("name", registry.names("classifiers"))
def test_every_registered_classifier_classifies(name):
    import torch

    clf = registry.get("classifiers", name)()
    support = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    clf.fit(support, torch.tensor([3, 3, 7]))
    assert clf.predict_topk(torch.tensor([[0.1, 1.0], [1.0, 0.05]]), 1).flatten().tolist() == [7, 3]
