"""Rendezvous of ranks that SLURM's ``srun`` started directly (without ``torchrun``), from its variables."""

from __future__ import annotations

import re
from collections.abc import Mapping

# derived ports lie below Linux's ephemeral range (32768–60999), where the OS picks client ports
PORT_BASE, PORT_SPAN = 12000, 20000
_RANGE = re.compile(r"(\d+)(?:-(\d+))?")


def expand_hostlist(hostlist: str, name: str = "hostlist") -> list[str]:
    """Host names of a SLURM hostlist expression, in order.

    ``"node[01-03,07],gpu5"`` gives ``node01 node02 node03 node07 gpu5``: comma-separated items,
    each a name with bracketed ranges (zero padding kept; several bracket groups multiply, as in
    ``rack[1-2]-n[1-2]``). ``name`` is the variable the expression came from, named in errors.

    Raises
    ------
    ValueError
        Empty expression, unbalanced brackets, or a range that is not ``a`` or ``a-b`` with ``a ≤ b``.
    """
    hosts = [host for item in _split_outside_brackets(hostlist, name) for host in _expand_item(item, hostlist, name)]
    if not hosts:
        raise ValueError(f"{name}={hostlist!r} names no host")
    return hosts


def _split_outside_brackets(hostlist: str, name: str) -> list[str]:
    items, depth, start = [], 0, 0
    for i, char in enumerate(hostlist):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if depth not in (0, 1):
            raise ValueError(f"{name}={hostlist!r} has unbalanced brackets")
        if char == "," and depth == 0:
            items.append(hostlist[start:i])
            start = i + 1
    if depth:
        raise ValueError(f"{name}={hostlist!r} has unbalanced brackets")
    items.append(hostlist[start:])
    return [item.strip() for item in items if item.strip()]


def _expand_item(item: str, hostlist: str, name: str) -> list[str]:
    """One item: the prefix, each number of its first bracket group, times the expansions of the rest."""
    open_ = item.find("[")
    if open_ < 0:
        if "]" in item:
            raise ValueError(f"{name}={hostlist!r} has unbalanced brackets")
        return [item]
    close = item.find("]", open_)
    prefix, body, rest = item[:open_], item[open_ + 1:close], item[close + 1:]
    tails = _expand_item(rest, hostlist, name)
    hosts = []
    for part in body.split(","):
        match = _RANGE.fullmatch(part.strip())
        if match is None or (match[2] is not None and int(match[2]) < int(match[1])):
            raise ValueError(f"{name}={hostlist!r}: {part!r} is not a number or a range a-b with a ≤ b")
        width = len(match[1])
        for number in range(int(match[1]), int(match[2] or match[1]) + 1):
            hosts += [f"{prefix}{number:0{width}d}{tail}" for tail in tails]
    return hosts


def job_port(job_id: str) -> int:
    """A rendezvous port that every task of job ``job_id`` derives alike: ``12000 + job_id mod 20000``."""
    if not job_id.strip().isdigit():
        raise ValueError(f"SLURM_JOB_ID must be a job number to derive MASTER_PORT from, got {job_id!r}; "
                         "export MASTER_PORT")  # fmt: skip
    return PORT_BASE + int(job_id) % PORT_SPAN


def rendezvous_env(env: Mapping[str, str]) -> dict[str, str]:
    """The ``torch.distributed`` variables a task started by ``srun`` lacks, derived from SLURM's.

    An ``srun`` task is recognised by ``SLURM_PROCID`` and ``SLURM_STEP_NUM_TASKS`` (which ``srun``
    sets for its step; a batch script's own shell has ``SLURM_PROCID=0`` and ``SLURM_NTASKS`` but no
    step, and must not wait for ranks that were never started). Returns an empty dict for anything
    else, when ``WORLD_SIZE`` is set (``torchrun``, also inside ``srun``) or the step has one task.
    Otherwise: ``RANK`` = ``SLURM_PROCID``; ``WORLD_SIZE`` = ``SLURM_STEP_NUM_TASKS``;
    ``LOCAL_RANK`` = ``SLURM_LOCALID`` (0 when absent); ``MASTER_ADDR`` = the first host of
    ``SLURM_STEP_NODELIST``, ``SLURM_JOB_NODELIST`` or ``SLURM_NODELIST`` (the first set), where
    task 0 runs; ``MASTER_PORT`` = :func:`job_port` of ``SLURM_JOB_ID``. ``MASTER_ADDR`` and
    ``MASTER_PORT`` already in ``env`` are kept; with ``MASTER_ADDR`` exported, ``SLURM_NTASKS``
    stands in for a missing ``SLURM_STEP_NUM_TASKS`` (an explicitly arranged rendezvous).

    Raises
    ------
    ValueError
        A task count or rank that is not a number, a rank outside the task count, no node list
        without ``MASTER_ADDR``, or no ``SLURM_JOB_ID`` without ``MASTER_PORT`` (each names the variable).
    """
    if "SLURM_PROCID" not in env or "WORLD_SIZE" in env:
        return {}
    if "SLURM_STEP_NUM_TASKS" in env:
        size_var = "SLURM_STEP_NUM_TASKS"
    elif "MASTER_ADDR" in env and "SLURM_NTASKS" in env:
        size_var = "SLURM_NTASKS"
    else:
        return {}
    size, rank = _count(env, size_var, "1"), _count(env, "SLURM_PROCID", "0")
    if size <= 1:
        return {}
    if rank >= size:
        raise ValueError(f"SLURM_PROCID={rank} is not below {size_var}={size}")
    out = {"RANK": str(rank), "WORLD_SIZE": str(size), "LOCAL_RANK": str(_count(env, "SLURM_LOCALID", "0"))}
    if "MASTER_ADDR" not in env:
        var = next((v for v in ("SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST", "SLURM_NODELIST") if env.get(v)), None)
        if var is None:
            raise ValueError("srun task without MASTER_ADDR and without SLURM_STEP_NODELIST/SLURM_JOB_NODELIST/"
                             "SLURM_NODELIST: export MASTER_ADDR (the host of task 0)")  # fmt: skip
        out["MASTER_ADDR"] = expand_hostlist(env[var], var)[0]
    if "MASTER_PORT" not in env:
        if "SLURM_JOB_ID" not in env:
            raise ValueError("srun task without MASTER_PORT and without SLURM_JOB_ID to derive it from: export MASTER_PORT")
        out["MASTER_PORT"] = str(job_port(env["SLURM_JOB_ID"]))
    return out


def _count(env: Mapping[str, str], var: str, default: str) -> int:
    value = env.get(var, default)
    if not value.strip().isdigit():
        raise ValueError(f"{var} must be a non-negative integer, got {value!r}")
    return int(value)
