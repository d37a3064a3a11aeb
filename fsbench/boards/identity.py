"""A results file's identity fields, recomputed by `publish` instead of believed.

A results file names what ran: method, config and config hash, split and its manifest hash,
episode sets. An edit can relabel any of them (a leave-signer-out run as same-signer, a pixels
run as protonet with any config hash), so publish recomputes what it can and refuses the rest:

- the config hash through the installed method's own machinery (`make_method(name, config)
  .config_hash`); its version and distribution must be the file's. A method that is not
  installed here, or a config it refuses, cannot be vouched for: refused;
- the split must be an installed split, and its manifest hash the hash of the file's own folds
  (`fsbench.record.integrity.check_split`, which every reader applies);
- when the dataset is at hand (prepared under FSBENCH_HOME with the file's content hash), the
  folds and every episode set are drawn again and their hashes compared, which also catches a
  relabelled split whose manifest hash was recomputed. Without the dataset only `fsbench verify`
  (a re-run) checks the episode sets.
"""

from __future__ import annotations

from typing import Any

from fsbench.errors import FsbenchError, ResultsError, UnknownPluginError

FIX = "re-create it with `fsbench run`"


def check_identity(results: dict[str, Any], source: str) -> None:
    """Refuse a file whose method, split or episode identity is not what its content gives."""
    from fsbench import registry

    check_method(results, source)
    split = results["split"]["name"]
    if split not in registry.names("splits"):
        raise ResultsError(f"{source}: split {split!r} is not an installed split, so its folds cannot be vouched "
                           f"for; publish it where that split is installed")
    data = dataset_at_hand(results["dataset"]["name"], results["dataset"]["content_hash"])
    if data is not None:
        check_draws(results, data, source)


def check_method(results: dict[str, Any], source: str) -> None:
    """The config hash is the installed method's hash of the file's config."""
    from fsbench.evaluation.runner import make_method

    m = results["method"]
    try:
        method = make_method(m["name"], m["config"])
    except UnknownPluginError:
        raise ResultsError(f"{source}: method {m['name']!r} is not installed here, so its config hash cannot be "
                           "recomputed; publish it where the method is installed") from None
    except FsbenchError as exc:
        raise ResultsError(f"{source}: its config is not one method {m['name']!r} accepts ({exc}); the file was "
                           f"edited or made by another version of the method: {FIX}") from None
    if (method.version, method.distribution) != (m["version"], m["distribution"]):
        raise ResultsError(f"{source} was made by {m['name']} {m['version']!r} of {m['distribution']!r}; this machine "
                           f"has {method.version!r} of {method.distribution!r}: {FIX} with the installed one")
    for key in ("support_source", "trains"):  # what the board says of the method (how many seeds it pools)
        if key in m and m[key] != getattr(method, key):
            raise ResultsError(f"{source}: method.{key} {m[key]!r} is not what {m['name']} says ({getattr(method, key)!r}); "
                               f"the file was edited: {FIX}")
    if method.config_hash != m["config_hash"]:
        raise ResultsError(f"{source}: method.config_hash {m['config_hash'][:12]}… is not the hash of its "
                           f"{m['name']} config ({method.config_hash[:12]}…); the file was edited: {FIX}")


def dataset_at_hand(name: str, content_hash: str):
    """The prepared dataset `name` under FSBENCH_HOME when its content hash is `content_hash`, else None."""
    from fsbench import paths
    from fsbench.data.loader import load_prepared
    from fsbench.names import SAFE_NAME

    if not SAFE_NAME.fullmatch(name) or ".." in name:
        return None
    folder = paths.prepared_dir(name)
    if not (folder / "fsbench.json").is_file():
        return None
    try:
        data = load_prepared(folder)
    except FsbenchError:  # a damaged copy vouches for nothing
        return None
    return data if data.content_hash == content_hash else None


def check_draws(results: dict[str, Any], data, source: str) -> None:
    """The split's folds and every episode set, drawn again on `data`, hash as the file says."""
    from fsbench import registry
    from fsbench.api import EpisodeSpec
    from fsbench.protocol.episodes import episodes_manifest, sample_episodes
    from fsbench.protocol.splits import split_manifest
    from fsbench.record.shots import shot_key

    split, proto = results["split"], results["protocol"]
    folds = registry.get("splits", split["name"])().folds(data, split["seed"])
    if split_manifest(data, split["name"], split["seed"], folds)["sha256"] != split["manifest_sha256"]:
        raise ResultsError(f"{source}: its folds are not what split {split['name']!r} (seed {split['seed']}) gives on "
                           f"{data.name}; the file was relabelled or edited: {FIX}")
    for s in proto["shots"]:
        spec = EpisodeSpec(s, proto["episodes"], proto["seed"], proto["ways"], proto["cross_condition"])
        if episodes_manifest(data, sample_episodes(data, folds, spec)) != proto["episodes_sha256"].get(shot_key(s)):
            raise ResultsError(f"{source}: its episode set at {shot_key(s)} is not the one this fsbench draws for its "
                               f"protocol; the file was edited or made by another fsbench version: {FIX}")
