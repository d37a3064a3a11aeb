"""fsbench.runtime decides torch's threads from the cores a process really has (affinity mask,
cgroup quota), shares them among workers, and asks OpenMP to sleep rather than spin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fsbench import runtime
from fsbench.runtime import ThreadsError, cgroup_cpu_limit, decide_threads, torch_threads, usable_cores


def write(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)


@pytest.fixture
def clean_env(monkeypatch):
    for key in (runtime.THREADS_ENV, runtime.POLICY_ENV, runtime.WAIT_ENV):
        monkeypatch.delenv(key, raising=False)
    return monkeypatch


def test_cgroup_v2_quota_is_the_tightest_of_the_process_cgroup_and_its_parents(tmp_path):
    write(tmp_path, "sys/cpu.max", "max 100000\n")
    write(tmp_path, "sys/jobs/cpu.max", "300000 100000\n")
    write(tmp_path, "sys/jobs/me/cpu.max", "150000 100000\n")
    write(tmp_path, "self", "0::/jobs/me\n")
    assert cgroup_cpu_limit(tmp_path / "sys", tmp_path / "self") == 1.5
    write(tmp_path, "sys/jobs/me/cpu.max", "max 100000\n")  # the parent's quota still binds
    assert cgroup_cpu_limit(tmp_path / "sys", tmp_path / "self") == 3.0
    write(tmp_path, "sys/jobs/cpu.max", "max 100000\n")
    assert cgroup_cpu_limit(tmp_path / "sys", tmp_path / "self") is None


def test_cgroup_v1_quota_from_the_cpu_controller(tmp_path):
    write(tmp_path, "sys/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "200000\n")
    write(tmp_path, "sys/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n")
    write(tmp_path, "self", "5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n")
    assert cgroup_cpu_limit(tmp_path / "sys", tmp_path / "self") == 2.0
    write(tmp_path, "sys/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n")  # no quota
    assert cgroup_cpu_limit(tmp_path / "sys", tmp_path / "self") is None


def test_a_container_that_sees_only_its_own_cgroup_reads_the_mounts_top(tmp_path):
    """Without a cgroup namespace /proc/self/cgroup names the host's path, which the container's
    mount does not hold: the mount's top folder is then the process's own cgroup."""
    write(tmp_path, "sys/cpu/cpu.cfs_quota_us", "50000\n")
    write(tmp_path, "sys/cpu/cpu.cfs_period_us", "100000\n")
    write(tmp_path, "self", "3:cpu:/kubepods/pod1/c0ffee\n")
    assert cgroup_cpu_limit(tmp_path / "sys", tmp_path / "self") == 0.5


def test_no_cgroup_file_means_no_quota(tmp_path):
    assert cgroup_cpu_limit(tmp_path / "sys", tmp_path / "missing") is None


@pytest.mark.parametrize("affinity, quota, cores", [
    ({0, 1, 2, 3}, None, 4), ({0, 1, 2, 3}, 2.0, 2), ({0, 1, 2, 3}, 1.5, 2), ({0, 1, 2, 3}, 0.5, 1),
    ({5}, 8.0, 1), (set(range(64)), 3.0, 3),
])
def test_usable_cores_are_the_affinity_mask_capped_by_the_quota(affinity, quota, cores):
    assert usable_cores(affinity, quota, detect=False) == cores


def test_usable_cores_detects_a_mocked_affinity_mask_and_quota(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {2, 3, 7})
    monkeypatch.setattr(runtime, "cgroup_cpu_limit", lambda: None)
    assert usable_cores() == 3
    monkeypatch.setattr(runtime, "cgroup_cpu_limit", lambda: 2.0)
    assert usable_cores() == 2


@pytest.mark.parametrize("running, cpus, threads", [
    (1, None, 8), (2, None, 4), (3, None, 2), (8, None, 1), (20, None, 1), (1, 2, 2), (1, 16, 8), (4, 1, 1),
])
def test_threads_are_the_usable_cores_divided_among_what_runs_at_once(clean_env, running, cpus, threads):
    assert decide_threads(running=running, cpus=cpus, cores=8) == threads


def test_fsbench_threads_fixes_the_count_and_the_legacy_policy_divides_cpu_count(clean_env):
    clean_env.setenv(runtime.THREADS_ENV, "3")
    assert decide_threads(running=4, cores=8) == 3
    clean_env.setenv(runtime.THREADS_ENV, "many")
    with pytest.raises(ThreadsError, match="FSBENCH_THREADS"):
        decide_threads()
    clean_env.delenv(runtime.THREADS_ENV)
    clean_env.setenv(runtime.POLICY_ENV, "legacy")
    assert decide_threads(running=1, cores=1) == (os.cpu_count() or 1)
    clean_env.setenv(runtime.POLICY_ENV, "fast")
    with pytest.raises(ThreadsError, match="fair"):
        decide_threads()


def test_wait_policy_is_passive_unless_the_user_or_the_legacy_policy_says_otherwise(clean_env):
    runtime.prepare_environment()
    assert os.environ[runtime.WAIT_ENV] == "PASSIVE"
    clean_env.setenv(runtime.WAIT_ENV, "ACTIVE")
    runtime.prepare_environment()
    assert os.environ[runtime.WAIT_ENV] == "ACTIVE"
    clean_env.delenv(runtime.WAIT_ENV)
    clean_env.setenv(runtime.POLICY_ENV, "legacy")
    runtime.prepare_environment()
    assert runtime.WAIT_ENV not in os.environ
    assert runtime.worker_environment() == {runtime.POLICY_ENV: "legacy"}


def test_tune_process_applies_the_decision_but_not_inside_a_pinned_context(clean_env):
    before = torch.get_num_threads()
    clean_env.setenv(runtime.THREADS_ENV, "1")
    try:
        with torch_threads(2):
            runtime.tune_process()  # a sweep cell's or demo worker's pin wins
            assert torch.get_num_threads() == 2
        runtime.tune_process()
        assert torch.get_num_threads() == 1
        assert runtime.thread_record()["thread_policy"] == "fixed"
    finally:
        torch.set_num_threads(before)


def test_the_cli_sets_the_wait_policy_before_any_command_loads_torch():
    code = ("import os, sys; from click.testing import CliRunner; from fsbench.cli import cli; "
            "CliRunner().invoke(cli, ['list']); assert 'torch' not in sys.modules; "
            "print(os.environ.get('OMP_WAIT_POLICY'))")
    env = {k: v for k, v in os.environ.items() if k not in (runtime.WAIT_ENV, runtime.POLICY_ENV)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "PASSIVE"
