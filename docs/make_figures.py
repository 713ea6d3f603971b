"""Regenerate the README figures: one PNG per method in ``docs/figures/``.

    python docs/make_figures.py [--only funbat chebtucker mgtfno dain] [--out docs/figures]

Every figure is seeded and uses only tensorkit's public API, the data that ships with the package,
the shared reference data (``mgtfno`` reads the Darcy-16 set, found like the tests find it:
``$TENSORKIT_SHARED_DATA`` or ``../shared/data``) and the committed DAIN results. The whole script
takes about 1.5 minutes on one CPU thread (most of it training the TFNO); files are replaced atomically.

Each ``fig_*`` function returns the figure and a one-line summary of the numbers it shows, printed
by :func:`main`.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

import tensorkit  # noqa: E402
from tensorkit.data import load_air_temperature, shared_file  # noqa: E402
from tensorkit.data.pde import load_darcy  # noqa: E402
from tensorkit.operators import TFNO, GaussianNormalizer, Trainer, relative_lp  # noqa: E402
from tensorkit.runtime import atomic_write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DPI = 100


# ---------------------------------------------------------------------------------------- helpers
def save(fig: plt.Figure, path: Path) -> None:
    """Write ``fig`` to ``path`` atomically as an RGB PNG (no alpha channel: ~25 % smaller) and close it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : Path
        Destination; its folder must exist.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    with atomic_write(path, "wb") as fh:
        Image.open(buffer).convert("RGB").save(fh, format="png", optimize=True)


def field(ax: plt.Axes, values, extent, title: str, label: str, **imshow_kw) -> None:
    """Show a 2-D field with origin lower-left, a title and a labelled colorbar.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    values : array_like, shape (n_x, n_y)
        The field; the first axis runs along x.
    extent : (x0, x1, y0, y1)
    title, label : str
        Axes title and colorbar label.
    **imshow_kw
        Passed to :meth:`~matplotlib.axes.Axes.imshow` (``cmap``, ``vmin``, ``vmax``).
    """
    im = ax.imshow(np.asarray(values).T, origin="lower", extent=extent, aspect="auto", interpolation="nearest",
                   **imshow_kw)
    ax.set_title(title, fontsize=10)
    ax.figure.colorbar(im, ax=ax, label=label, fraction=0.046, pad=0.03)


# ------------------------------------------------------------------------------------------ FunBaT
def fig_funbat() -> tuple[plt.Figure, str]:
    """FunBaT (rank 3) on the built-in NCEP air temperature with 20 % of the cells held out.

    Panel 1: the time series at one grid point (observed and held-out values, posterior mean, ±2σ
    bands of the latent field and of a new observation); panels 2–3: posterior std of the latent
    field and absolute error at the time with the most held-out cells, held-out cells marked.
    """
    da = load_air_temperature()
    held = np.random.default_rng(0).random(da.shape) < 0.2
    model = tensorkit.FunBaT(rank=3, seed=0).fit(da.where(~held))

    def moments(points: np.ndarray) -> tuple[np.ndarray, ...]:
        """Mean, latent std and predictive std (noise included) at N×3 (days, lat, lon) points."""
        mean, latent = model.predict(torch.tensor(points), return_std=True, include_noise=False)
        return mean.numpy(), latent.numpy(), model.predict(torch.tensor(points), return_std=True)[1].numpy()

    days = ((da.time - da.time[0]) / np.timedelta64(1, "D")).values
    lat, lon = da.lat.values, da.lon.values
    grid = np.stack(np.meshgrid(days, lat, lon, indexing="ij"), -1).reshape(-1, 3)
    mean, latent, std = (v.reshape(da.shape) for v in moments(grid))
    truth = da.values
    err = mean - truth
    rmse = float(np.sqrt(np.mean(err[held] ** 2)))
    coverage = float(np.mean(np.abs(err[held]) <= 1.96 * std[held]))
    stamp = lambda k: np.datetime_as_string(da.time.values[k], unit="m").replace("T", " ")  # noqa: E731

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), gridspec_kw={"width_ratios": [1.3, 1, 1]})
    ax = axes[0]
    i, j = int(np.argmin(np.abs(lat - 40.0))), int(np.argmin(np.abs(lon - 255.0)))
    t = np.linspace(days[0], days[-1], 200)
    m, s_f, s_y = moments(np.column_stack([t, np.full_like(t, lat[i]), np.full_like(t, lon[j])]))
    ax.fill_between(t, m - 2 * s_y, m + 2 * s_y, color="C0", alpha=0.15, label="±2σ new observation")
    ax.fill_between(t, m - 2 * s_f, m + 2 * s_f, color="C0", alpha=0.4, label="±2σ latent field")
    ax.plot(t, m, "C0", label="posterior mean")
    obs = ~held[:, i, j]
    ax.plot(days[obs], truth[obs, i, j], "ko", ms=4, label="observed")
    ax.plot(days[~obs], truth[~obs, i, j], "rx", ms=8, mew=2, label="held out")
    ax.set(xlabel=f"days since {stamp(0)} UTC", ylabel="air temperature [K]")
    ax.set_title(f"time series at {lat[i]:.1f}° N, {lon[j]:.1f}° E", fontsize=10)
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.24))

    k = int(np.argmax(held.reshape(len(days), -1).sum(1)))  # the time with the most held-out cells
    extent = (lon[0], lon[-1], lat.min(), lat.max())
    flip = slice(None, None, -1) if lat[0] > lat[-1] else slice(None)
    hy, hx = np.nonzero(held[k])
    for ax, values, title, label, cmap in [
        (axes[1], latent[k], "posterior std of the latent field", "std [K]", "viridis"),
        (axes[2], np.abs(err[k]), "|posterior mean − truth|", "absolute error [K]", "magma"),
    ]:
        field(ax, values[flip].T, extent, f"{title}, {stamp(k)} UTC", label, cmap=cmap)
        ax.plot(lon[hx], lat[hy], "w.", ms=3, label="held-out cells")
        ax.set(xlabel="longitude [° E]", ylabel="latitude [° N]")
    axes[1].legend(fontsize=7, loc="lower left", framealpha=0.5)
    noise = float(np.median(np.sqrt(std**2 - latent**2)))
    fig.suptitle(f"FunBaT rank 3 on NCEP air temperature (20 times × 25 lat × 53 lon), {held.mean():.0%} of cells "
                 f"held out\nheld-out RMSE {rmse:.2f} K (field std {float(da.std()):.1f} K, learned noise std "
                 f"{noise:.2f} K), 95 % interval coverage {coverage:.1%}", fontsize=11)
    fig.tight_layout()
    return fig, (f"held-out RMSE {rmse:.2f} K, 95% coverage {coverage:.1%}, noise std {noise:.2f} K, "
                 f"latent std {latent.min():.2f}–{latent.max():.2f} K, {int(held.sum())} held-out cells")


# -------------------------------------------------------------------------------------- ChebTucker
def erf_over_r(w: float) -> Callable[..., torch.Tensor]:
    """The long-range Coulomb part ``erf(w r)/r`` (value ``2w/√π`` at the origin).

    Parameters
    ----------
    w : float
        Range-separation parameter ω.

    Returns
    -------
    callable
        ``f(x, y, z)`` on tensors of the same shape.
    """
    f0 = 2 * w / math.sqrt(math.pi)

    def f(x, y, z):
        r = torch.sqrt(x**2 + y**2 + z**2)
        return torch.where(r > 0, torch.erf(w * r) / r.clamp_min(1e-300), torch.full_like(r, f0))

    return f


def fig_chebtucker() -> tuple[plt.Figure, str]:
    """Chebyshev–Tucker of ``erf(ω r)/r`` on ``[-10, 10]^3``: a slice, its error, error against Tucker rank.

    Degrees 64 (ω = 0.5) and 128 (ω = 1) as in the method note's acceptance test; the error is the max
    over 20,000 seeded random points relative to the maximum ``2ω/√π``.
    """
    box = (-10.0, 10.0)
    pts = (torch.rand(20000, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1) * box[1]
    degrees = {0.5: 64, 1.0: 128}  # Chebyshev degrees at which interpolation is exact to ~1e-15
    ranks = list(range(1, 15))
    curves = {}
    for w, degree in degrees.items():
        f = erf_over_r(w)
        exact, f0 = f(*pts.unbind(1)), 2 * w / math.sqrt(math.pi)
        curves[w] = [float((tensorkit.ChebTucker(degree=degree, rank=r, domain=box).fit(f)(pts) - exact).abs().max())
                     / f0 for r in ranks]

    w, eps = 1.0, 1e-5
    model = tensorkit.ChebTucker(degree=degrees[w], tol=eps, domain=box).fit(erf_over_r(w))
    x = np.linspace(*box, 101)
    approx = model.to_dataarray(name="V", x=x, y=x, z=[0.0]).isel(z=0).values
    X, Y = torch.meshgrid(torch.tensor(x), torch.tensor(x), indexing="ij")
    exact = erf_over_r(w)(X, Y, torch.zeros_like(X)).numpy()
    rel = np.abs(approx - exact) / (2 * w / math.sqrt(math.pi))

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    extent = (*box, *box)
    field(axes[0], approx, extent, f"erf(ωr)/r, ω = {w:g}, slice z = 0 (ε = {eps:g}, ranks {model.ranks_})",
          "V(x, y, 0)", cmap="viridis")
    field(axes[1], np.log10(np.maximum(rel, 1e-16)), extent, "log10 of |error| / max V on the slice",
          "log10 relative error", cmap="magma")
    for ax in axes[:2]:
        ax.set(xlabel="x", ylabel="y")
    ax = axes[2]
    for w, errs in curves.items():
        ax.semilogy(ranks, errs, "o-", label=f"ω = {w:g} (degree {degrees[w]})")
    ax.set(xlabel="Tucker rank r (ranks r, r, r)", ylabel="max |error| / max V (20,000 random points)",
           xticks=ranks[::2])
    ax.set_title("error against Tucker rank", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    fig.suptitle("Chebyshev–Tucker of the long-range Coulomb potential erf(ωr)/r on [−10, 10]³", fontsize=11)
    fig.tight_layout()
    r8 = {w: curves[w][ranks.index(8)] for w in curves}
    return fig, (f"ε={eps:g}: ranks {model.ranks_}, slice max rel error {rel.max():.1e}; rank 8: "
                 + ", ".join(f"ω={w:g} {e:.1e}" for w, e in r8.items()))


# ----------------------------------------------------------------------------------------- MG-TFNO
def fig_mgtfno(n_epochs: int = 10) -> tuple[plt.Figure, str]:
    """TFNO (Tucker, rank 0.1) trained briefly on Darcy 16², evaluated at 16² and zero-shot at 32².

    Hyper-parameters of ``experiments/mgtfno/darcy16.py``: AdamW lr 8e-3, cosine schedule, batch 32,
    relative-H1 loss on the normalised output, width 32, 4 layers.

    Parameters
    ----------
    n_epochs : int
        Training epochs (10 take about 25 s of CPU time).
    """
    torch.manual_seed(0)
    x, y = load_darcy("train", 16)
    tests = {"16": load_darcy("test", 16), "32": load_darcy("test", 32)}
    model = TFNO((16, 18), 1, 1, 32, n_layers=4, factorization="tucker", rank=0.1, seed=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=8e-3, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=n_epochs)
    trainer = Trainer(model, optimizer, scheduler, train_loss="h1", batch_size=32, seed=0,
                      output_normalizer=GaussianNormalizer(1).fit(y), verbose=False)
    start = time.perf_counter()
    last = trainer.fit((x, y), n_epochs, tests)[-1]
    seconds = time.perf_counter() - start

    sample = 0
    fig, axes = plt.subplots(2, 4, figsize=(16, 7.4))
    for row, (res, (xt, yt)) in zip(axes, tests.items()):
        pred = trainer.predict(xt[sample : sample + 1])[0, 0]
        truth = yt[sample, 0]
        rel = float(relative_lp(pred[None, None], truth[None, None], 2, reduction="mean"))
        kind = "trained resolution" if res == "16" else "zero-shot super-resolution"
        limits = dict(vmin=float(truth.min()), vmax=float(truth.max()), cmap="viridis")
        panels = [(xt[sample, 0], f"coefficient a, {res}²", "a (0/1)", dict(cmap="gray")),
                  (truth, f"truth u, {res}²", "u", limits),
                  (pred, f"TFNO prediction, {res}² ({kind})", "u", limits),
                  ((pred - truth).abs(), f"|error|, rel. L2 {rel:.3f} (test mean {last[res + '_l2']:.3f})",
                   "|u − û|", dict(cmap="magma"))]
        for ax, (values, title, label, kw) in zip(row, panels):
            field(ax, values.numpy(), (0, 1, 0, 1), title, label, **kw)
            ax.set(xlabel="x", ylabel="y")
        row[0].images[0].colorbar.set_ticks([0, 1])
    n_params = sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())
    fig.suptitle(f"Darcy flow −∇·(a∇u) = f: TFNO (Tucker rank 0.1, {n_params:,} real parameters, "
                 f"{model.compression_ratio:.0f}× spectral compression), {len(x)} training pairs at 16², "
                 f"{n_epochs} epochs; test sample {sample}", fontsize=11)
    fig.tight_layout()
    return fig, (f"test rel-L2 @16² {last['16_l2']:.3f}, zero-shot @32² {last['32_l2']:.3f}, "
                 f"{n_params:,} params, trained {seconds:.0f} s")


# -------------------------------------------------------------------------------------------- DAIN
ARMS = {"dain": "DAIN", "uniform": "uniform", "frequency": "frequency", "dain_constant": "constant"}


def paired_ratios(rows: list[dict], key: tuple[str, ...]) -> dict[str, list[float]]:
    """Per arm, test RMSE divided by the no-augmentation RMSE of the same run.

    Parameters
    ----------
    rows : list of dict
        Result rows with ``arm``, ``rmse`` and the ``key`` fields.
    key : tuple of str
        Fields that pair a row with its no-augmentation row (``("seed",)`` or ``("fold", "seed")``).

    Returns
    -------
    dict
        Arm name → list of ratios, for the arms in ``ARMS``.
    """
    base = {tuple(r[k] for k in key): r["rmse"] for r in rows if r["arm"] == "none"}
    out: dict[str, list[float]] = {arm: [] for arm in ARMS}
    for r in rows:
        if r["arm"] in out:
            out[r["arm"]].append(r["rmse"] / base[tuple(r[k] for k in key)])
    return out


def fig_dain(ylim: tuple[float, float] = (0.86, 1.16)) -> tuple[plt.Figure, str]:
    """Grouped bars of DAIN's committed results: test RMSE per arm over the no-augmentation arm.

    One group per dataset and backbone (synthetic: 5 seeds; real: 5 folds), mean ± sd of the paired
    ratio; bars leaving the axis are clipped and labelled with their value.

    Parameters
    ----------
    ylim : (float, float)
        Range of the ratio axis.
    """
    results = ROOT / "experiments" / "dain" / "results"
    synthetic = json.loads((results / "synthetic.json").read_text())
    real = json.loads((results / "real.json").read_text())
    groups = [("synthetic_10K", "mlp", synthetic["rows"], ("seed",))]
    for ds in real["args"]["datasets"]:
        for bb in real["args"]["backbones"]:
            rows = [r for r in real["rows"] if r["dataset"] == ds and r["backbone"] == bb]
            groups.append((ds, bb, rows, ("fold", "seed")))

    fig, ax = plt.subplots(figsize=(13, 4.6))
    width = 0.8 / len(ARMS)
    labels, dain = [], []
    for g, (ds, bb, rows, key) in enumerate(groups):
        ratios = paired_ratios(rows, key)
        none = np.mean([r["rmse"] for r in rows if r["arm"] == "none"])
        labels.append(f"{ds}\n{bb.upper() if bb != 'costco' else 'CoSTCo'}\n(none: {none:.3g})")
        dain.append(np.mean(ratios["dain"]))
        for a, (arm, name) in enumerate(ARMS.items()):
            mean, sd = np.mean(ratios[arm]), np.std(ratios[arm], ddof=1)
            xpos = g + (a - (len(ARMS) - 1) / 2) * width
            ax.bar(xpos, mean - 1, width, bottom=1, yerr=sd, color=f"C{a}", label=name if g == 0 else None,
                   error_kw=dict(lw=0.8, capsize=2))
            if mean > ylim[1]:
                ax.annotate(f"{mean:.2f}", (xpos, ylim[1]), xytext=(0, -2), textcoords="offset points",
                            ha="center", va="top", fontsize=7, rotation=90, color="white", fontweight="bold")
    ax.axhline(1, color="k", ls="--", lw=1, label="none (= 1)")
    ax.set_xticks(range(len(groups)), labels, fontsize=8)
    ax.set(ylim=ylim, ylabel="test RMSE / RMSE without augmentation",
           title="DAIN augmentation arms (mean ± sd over 5 seeds or 5 folds; lower is better; "
                 "no-augmentation RMSE in parentheses)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(ncol=5, fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig, "DAIN/none ratio: " + ", ".join(f"{g[0]}/{g[1]} {d:.3f}" for g, d in zip(groups, dain))


# -------------------------------------------------------------------------------------------- main
FIGURES: dict[str, tuple[Callable[[], tuple[plt.Figure, str]], list[tuple[str, ...]]]] = {
    "funbat": (fig_funbat, []),
    "chebtucker": (fig_chebtucker, []),
    "mgtfno": (fig_mgtfno, [("neuralop", f"darcy_{s}.pt") for s in ("train_16", "test_16", "test_32")]),
    "dain": (fig_dain, []),
}


def missing_shared_data(names: list[str]) -> list[str]:
    """Messages for the shared reference files the selected figures need but cannot find.

    Parameters
    ----------
    names : list of str
        Keys of ``FIGURES``.

    Returns
    -------
    list of str
        One message per missing file (empty when everything is there).
    """
    messages = []
    for name in names:
        for parts in FIGURES[name][1]:
            try:
                shared_file(*parts)
            except FileNotFoundError as err:
                messages.append(f"figure {name!r}: {err}")
    return messages


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0, or 2 when a selected figure's shared data is missing (checked before any work).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(FIGURES), default=list(FIGURES), help="figures to make")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "figures", help="output folder")
    args = parser.parse_args(argv)
    missing = missing_shared_data(args.only)
    if missing:
        print("make_figures.py: shared data missing (use --only to skip these figures):\n  " + "\n  ".join(missing),
              file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    total = time.perf_counter()
    for name in args.only:
        start = time.perf_counter()
        torch.manual_seed(0)
        fig, summary = FIGURES[name][0]()
        path = args.out / f"{name}.png"
        save(fig, path)
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {summary} "
              f"[{time.perf_counter() - start:.0f} s, {path.stat().st_size / 1024:.0f} KB]", flush=True)
    print(f"all figures in {time.perf_counter() - total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
