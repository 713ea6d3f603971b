"""SLURM rendezvous: compact hostlists, and the torch.distributed variables of a task started by srun."""

import os

import pytest
import torch

from tensorkit.runtime import distributed as ddp
from tensorkit.runtime.slurm import expand_hostlist, job_port, rendezvous_env


@pytest.mark.parametrize("hostlist, hosts", [
    ("node07", ["node07"]),
    ("node[01-03,07]", ["node01", "node02", "node03", "node07"]),
    ("gpu[9-11],cpu5", ["gpu9", "gpu10", "gpu11", "cpu5"]),
    ("a[008-010]", ["a008", "a009", "a010"]),  # zero padding kept across a digit boundary
    ("rack[1-2]-n[1,3]", ["rack1-n1", "rack1-n3", "rack2-n1", "rack2-n3"]),
    ("x[1-2].cluster,y", ["x1.cluster", "x2.cluster", "y"]),
])
def test_hostlists_expand_in_order(hostlist, hosts):
    assert expand_hostlist(hostlist) == hosts


@pytest.mark.parametrize("hostlist, message", [
    ("node[01-03", "unbalanced"), ("node01]", "unbalanced"), ("n[[1]]", "unbalanced"),
    ("node[3-1]", "a ≤ b"), ("node[a-b]", "not a number"), ("node[1-]", "not a number"), ("", "names no host"),
])
def test_bad_hostlists_name_the_variable(hostlist, message):
    with pytest.raises(ValueError, match=f"SLURM_JOB_NODELIST=.*{message}"):
        expand_hostlist(hostlist, "SLURM_JOB_NODELIST")


SRUN_TASK = {"SLURM_PROCID": "3", "SLURM_NTASKS": "8", "SLURM_STEP_NUM_TASKS": "4", "SLURM_LOCALID": "1",
             "SLURM_STEP_NODELIST": "gpu[12-13]", "SLURM_JOB_NODELIST": "gpu[10-13]", "SLURM_JOB_ID": "4321987"}


def test_an_srun_task_gets_rank_size_address_and_port_from_slurm():
    assert rendezvous_env(SRUN_TASK) == {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "MASTER_ADDR": "gpu12",
                                         "MASTER_PORT": str(12000 + 4321987 % 20000)}
    # without the step's node list: the job's, else SLURM_NODELIST
    job = {k: v for k, v in SRUN_TASK.items() if k != "SLURM_STEP_NODELIST"}
    assert rendezvous_env(job) == {**rendezvous_env(SRUN_TASK), "MASTER_ADDR": "gpu10"}
    assert rendezvous_env({**job, "SLURM_JOB_NODELIST": "", "SLURM_NODELIST": "cn7"})["MASTER_ADDR"] == "cn7"
    # no step task count: SLURM_NTASKS only for an explicitly exported rendezvous address
    no_step = {k: v for k, v in SRUN_TASK.items() if k != "SLURM_STEP_NUM_TASKS"}
    assert rendezvous_env({**no_step, "MASTER_ADDR": "cn1"}) == {"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1",
                                                               "MASTER_PORT": str(12000 + 4321987 % 20000)}
    # exported address and port win; every task of a job derives the same port, below the ephemeral range
    assert "MASTER_ADDR" not in rendezvous_env({**SRUN_TASK, "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500"})
    assert "MASTER_PORT" not in rendezvous_env({**SRUN_TASK, "MASTER_PORT": "29500"})
    assert all(12000 <= job_port(str(j)) < 32000 for j in (0, 19999, 20000, 10**9 + 7))


def test_torchrun_single_tasks_and_plain_processes_are_left_alone():
    assert rendezvous_env({}) == {}
    assert rendezvous_env({**SRUN_TASK, "WORLD_SIZE": "4"}) == {}  # torchrun inside srun
    assert rendezvous_env({"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}) == {}
    assert rendezvous_env({"SLURM_NTASKS": "4"}) == {}  # an allocation's shell, not an srun task
    # a batch script's own process: SLURM_PROCID=0 of 4 tasks, but no srun step; it must not wait for 3 more
    batch = {"SLURM_PROCID": "0", "SLURM_NTASKS": "4", "SLURM_JOB_NODELIST": "gpu[10-13]", "SLURM_JOB_ID": "5"}
    assert rendezvous_env(batch) == {}


@pytest.mark.parametrize("change, message", [
    ({"SLURM_PROCID": "4"}, "SLURM_PROCID=4 is not below SLURM_STEP_NUM_TASKS=4"),
    ({"SLURM_STEP_NUM_TASKS": "four"}, "SLURM_STEP_NUM_TASKS must be a non-negative integer"),
    ({"SLURM_STEP_NODELIST": "", "SLURM_JOB_NODELIST": ""}, "export MASTER_ADDR"),
    ({"SLURM_JOB_ID": None}, "without SLURM_JOB_ID.*export MASTER_PORT"),
    ({"SLURM_JOB_ID": "123_4"}, "SLURM_JOB_ID must be a job number"),
    ({"SLURM_STEP_NODELIST": "gpu[12-"}, "SLURM_STEP_NODELIST='gpu\\[12-' has unbalanced"),
])
def test_incomplete_slurm_variables_are_named(change, message):
    env = {k: v for k, v in {**SRUN_TASK, **change}.items() if v is not None}
    with pytest.raises(ValueError, match=message):
        rendezvous_env(env)


def test_init_from_env_exports_the_srun_variables(monkeypatch):
    """A one-task step initialises nothing; a two-task step exports the rendezvous for torch's env:// init."""
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.setenv(var, "")  # recorded, so what init_from_env exports is removed after the test
        monkeypatch.delenv(var)
    monkeypatch.setenv("SLURM_PROCID", "0")
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "1")
    assert not ddp.init_from_env() and "WORLD_SIZE" not in os.environ
    seen = {}
    monkeypatch.setattr(torch.distributed, "init_process_group", lambda backend, **kw: seen.update(backend=backend))
    for key, value in {"SLURM_STEP_NUM_TASKS": "2", "SLURM_JOB_NODELIST": "cn[3-4]", "SLURM_JOB_ID": "77"}.items():
        monkeypatch.setenv(key, value)
    assert ddp.init_from_env()
    assert (os.environ["RANK"], os.environ["WORLD_SIZE"], os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"]) == \
        ("0", "2", "cn3", "12077")
    assert seen == {"backend": "gloo"}


def test_backend_is_nccl_for_cuda_devices_and_gloo_otherwise():
    assert ddp.backend(torch.device("cuda", 1)) == "nccl"
    assert ddp.backend(torch.device("cpu")) == ddp.backend(None) == "gloo"
