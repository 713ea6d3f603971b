"""CPU memory and time of one TFNO / MG-TFNO train step per sample, 64² to 256², each case in a fresh process.

Cases (width 32, 16 modes, 4 layers, Tucker rank 0.1, batch 2, relative-H1 loss, Adam): the full
field with and without per-block checkpointing, MG-TFNO L=1 and L=2 (padding 1/16, stitched loss)
with all patches at once and in checkpointed chunks (L=1: 1 patch, L=2: 4 patches, i.e. ⅛ of the
batch's area either way; with and without per-block checkpointing), and neuraloperator's TFNO on
the full field. Each case runs in its own
single-threaded subprocess (glibc serving blocks ≥ 64 KiB by ``mmap``, so freed tensors leave the
resident set): after building model and data it resets the resident-set high-water mark
(``/proc/self/clear_refs``) and runs one step; memory is the high-water mark's growth (the step's
activations, gradients and Adam state). Time is the process CPU time of a second step. The note records the machine's load average
before and after the run (CPU time is robust to load, wall time is not).
Writes ``results/large_grids.md``.

    python -m benchmarks.large_grids [--resolutions 64 128 256 512]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch

from benchmarks.gpu import _operator_model, _operator_step
from benchmarks.timing import RESULTS, markdown_table, measuring_env, peak_memory
from tensorkit.runtime import atomic_write

SIZE = {"batch": 2, "width": 32, "modes": 16, "layers": 4}
# label: (levels, patches per chunk, checkpointed blocks, neuraloperator)
CASES = {
    "full field": (0, None, False, False),
    "full field, checkpointed blocks": (0, None, True, False),
    "MG L=1, all patches": (1, None, False, False),
    "MG L=1, chunks of 1 patch": (1, 1, False, False),
    "MG L=1, chunks of 1 + checkpointed blocks": (1, 1, True, False),
    "MG L=2, all patches": (2, None, False, False),
    "MG L=2, chunks of 4 patches": (2, 4, False, False),
    "MG L=2, chunks of 4 + checkpointed blocks": (2, 4, True, False),
    "neuraloperator TFNO, full field": (0, None, False, True),
}


def one_case(label: str, n: int) -> dict:
    """Peak memory of the first step and CPU time of the second (run inside the child process)."""
    torch.set_num_threads(1)
    levels, chunk, checkpointed, peer = CASES[label]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(SIZE["batch"], 1, n, n, generator=g)
    y = torch.randn(SIZE["batch"], 1, n, n, generator=g)
    model = _operator_model(levels, checkpointed, peer, SIZE, torch.device("cpu"), False)
    step = _operator_step(model, levels, chunk, x, y, None)
    _, memory = peak_memory(step, torch.device("cpu"))
    start = time.process_time()
    step()
    return {"label": label, "n": n, "bytes": memory, "seconds": time.process_time() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 128, 256, 512])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_case(args.child[0], int(args.child[1]))))
        return
    rows, load_before = [], os.getloadavg()[0]
    for n in args.resolutions:
        full = None
        for label in CASES:
            cmd = [sys.executable, "-m", "benchmarks.large_grids", "--child", label, str(n)]
            r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True, env=measuring_env()).stdout.strip().splitlines()[-1])
            print(r, flush=True)
            full = full or r["bytes"]
            per_sample = r["bytes"] / SIZE["batch"] / 2**20
            rows.append([f"{n}²", label, f"{per_sample:,.1f}", f"{r['bytes'] / full:.2f}",
                         f"{1e3 * r['seconds'] / SIZE['batch']:,.0f}"])
    note = (f"Batch {SIZE['batch']}, width {SIZE['width']}, {SIZE['modes']} modes, {SIZE['layers']} layers, Tucker "
            "rank 0.1; one thread, `MALLOC_MMAP_THRESHOLD_=65536`; memory is the resident-set growth of one train step (activations, gradients, "
            "Adam state), time the process CPU time of the next step, both per sample. Machine load (1-min "
            f"average on {os.cpu_count()} cores): {load_before:.1f} before, {os.getloadavg()[0]:.1f} after. Command: "
            "`python -m benchmarks.large_grids --resolutions " + " ".join(map(str, args.resolutions)) + "`.")
    text = markdown_table("Train-step memory and time per sample on the CPU: full field vs MG-TFNO chunked",
                          ["grid", "case", "peak MiB / sample", "memory / full field", "CPU ms / sample"], rows, note)
    print(text)
    with atomic_write(RESULTS / "large_grids.md", "w") as fh:
        fh.write(text)


if __name__ == "__main__":
    main()
