"""PDE data for neural operators: readers for the shipped sets and offline generators (CPU or GPU)."""

from tensorkit.data.pde.burgers import burgers_1d
from tensorkit.data.pde.darcy import darcy_flow, solve_darcy
from tensorkit.data.pde.fields import neumann_grf_2d, periodic_grf
from tensorkit.data.pde.navier_stokes import navier_stokes_2d
from tensorkit.data.pde.readers import load_burgers, load_burgers_pt, load_darcy, load_darcy_pt
from tensorkit.data.pde.storage import read_pairs, to_dataset, write_dataset, write_generated
from tensorkit.data.pde.stream import NetCDFPairs

__all__ = [
    "NetCDFPairs", "burgers_1d", "darcy_flow", "load_burgers", "load_burgers_pt", "load_darcy", "load_darcy_pt",
    "navier_stokes_2d", "neumann_grf_2d", "periodic_grf", "read_pairs", "solve_darcy", "to_dataset",
    "write_dataset", "write_generated",
]
