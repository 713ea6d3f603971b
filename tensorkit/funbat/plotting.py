"""Figures of a FunBaT Dataset: factor functions with ±2σ bands, and maps of the mean and std."""

from __future__ import annotations

import os

import xarray as xr

from tensorkit.runtime.atomic import atomic_path

__all__ = ["plot_funbat", "save_funbat_figure"]


def plot_funbat(ds: xr.Dataset, select: dict | None = None):
    """Return a matplotlib Figure: one panel per dimension's factor functions, then mean and std maps.

    The maps show the last two dimensions, at ``select`` (default: the first index) of the others. ``ds`` is
    a :func:`~tensorkit.funbat.xarray_io.funbat_dataset` result or a ``tensorkit funbat`` file (old ones too).
    """
    import matplotlib.pyplot as plt

    from tensorkit.funbat.xarray_io import predictive_moments

    moments = dict(zip(["mean", "std"], predictive_moments(ds)))
    dims = list(moments["mean"].dims)
    n_top = len(dims)
    fig, axes = plt.subplots(2, max(n_top, 2), figsize=(4.2 * max(n_top, 2), 7.5), squeeze=False)
    for ax, dim in zip(axes[0], dims):
        mean, std = ds[f"factor_{dim}"], ds[f"factor_{dim}_std"]
        x = ds[dim].values
        for j in range(mean.shape[1]):
            m, s = mean.values[:, j], std.values[:, j]
            ax.plot(x, m, label=f"u{j + 1}")
            ax.fill_between(x, m - 2 * s, m + 2 * s, alpha=0.25)
        ax.set_title(f"factor functions of {dim} (±2σ)")
        ax.set_xlabel(dim)
        ax.tick_params(axis="x", labelrotation=25)
        ax.legend(fontsize="small")
    for ax in axes[0][n_top:]:
        ax.axis("off")
    if len(dims) >= 2:
        others = {d: 0 for d in dims[:-2]}
        others.update(select or {})
        chosen = {d: i for d, i in others.items() if d in dims[:-2]}
        title = ", ".join(f"{d}={str(ds[d].values[i])[:16]}" for d, i in chosen.items())
        for ax, (name, values) in zip(axes[1][:2], moments.items()):
            values.isel(chosen).plot(ax=ax, x=dims[-1], y=dims[-2])
            ax.set_title(f"predictive {name}" + (f" at {title}" if title else ""))
    for ax in axes[1][2:]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def save_funbat_figure(ds: xr.Dataset, path: str | os.PathLike, select: dict | None = None, dpi: int = 110) -> None:
    """Write :func:`plot_funbat` to ``path`` (PNG or any matplotlib format) atomically."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig = plot_funbat(ds, select)
    fmt = os.path.splitext(str(path))[1].lstrip(".") or "png"
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi)
    finally:
        plt.close(fig)
