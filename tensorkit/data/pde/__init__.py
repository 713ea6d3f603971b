"""PDE data for neural operators: readers for the shipped sets and offline generators."""

from tensorkit.data.pde.readers import load_burgers, load_burgers_pt, load_darcy, load_darcy_pt

__all__ = ["load_burgers", "load_burgers_pt", "load_darcy", "load_darcy_pt"]
