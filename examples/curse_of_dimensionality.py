"""The curse of dimensionality, measured: distances concentrate, volume moves to the rind and the corners.

The lecture's claims, each computed here and, where it is a probability, also
sampled:

1. distance concentration: for N uniform points in the unit cube, the ratio
   (max - min) / min of their distances to a random point tends to 0 as the
   dimension d grows; on the d-torus the distances normalised by the largest
   possible one (sqrt(d) / 2) gather around 0.58, "nearly all other points are
   nearly the same distance away" (the spread is measured against d);
2. the rind: shrinking a body by alpha keeps alpha^n of its volume, so the
   rind holds 1 - alpha^n; the half-length alpha = 2^(-1/n) ~ 1 - 0.7 / n
   (the lecture: 18% of the diameter for a pizza, 12% in 3-D, within 1% for
   n = 350);
3. the corners: the share of a hypercube outside its inscribed ball (the
   lecture: about 98% for 8 dimensions, a cube with 256 corners);
4. sample explosion: O(eps^-d) samples, e.g. eps = 0.1 and a 12-Mpixel RGB image.

Run: python examples/curse_of_dimensionality.py [--points N] [--trials T] [--out DIR];
writes curse_of_dimensionality.png.
"""
import argparse
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
DIMENSIONS = [1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000]
HISTOGRAM_DIMENSIONS = [2, 10, 100, 1000]


def distance_ratio(rng, d, points, trials):
    """Mean over trials of (max - min) / min of the distances from a uniform point to `points` uniform points."""
    ratios = []
    for _ in range(trials):
        cloud = rng.random((points, d))
        distances = np.linalg.norm(cloud - rng.random(d), axis=1)
        ratios.append((distances.max() - distances.min()) / distances.min())
    return float(np.mean(ratios))


def torus_distances(rng, d, points):
    """Distances between random pairs on the unit d-torus, divided by the largest possible one, sqrt(d) / 2."""
    delta = np.abs(rng.random((points, d)) - rng.random((points, d)))
    wrapped = np.minimum(delta, 1 - delta)
    return np.linalg.norm(wrapped, axis=1) / (math.sqrt(d) / 2)


def ball_fraction(n):
    """Volume of the ball inscribed in the unit n-cube (radius 1/2): pi^(n/2) / Gamma(n/2 + 1) / 2^n."""
    return math.exp(n / 2 * math.log(math.pi) - math.lgamma(n / 2 + 1) - n * math.log(2))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1000, help="points per cloud")
    parser.add_argument("--trials", type=int, default=20, help="clouds per dimension for the mean ratio")
    parser.add_argument("--samples", type=int, default=100_000, help="Monte Carlo samples for the volume checks")
    parser.add_argument("--max-dimension", type=int, default=DIMENSIONS[-1])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for curse_of_dimensionality.png")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    dims = [d for d in DIMENSIONS if d <= args.max_dimension]

    print(f"1. distance concentration, {args.points} uniform points in [0, 1]^d, mean of {args.trials} clouds")
    ratios = {d: distance_ratio(rng, d, args.points, args.trials) for d in dims}
    torus = {d: torus_distances(rng, d, args.points * 10) for d in dims}
    spread = {d: float(torus[d].std() / torus[d].mean()) for d in dims}
    print(f"   {'d':>5} {'(max-min)/min':>14} {'torus: mean':>12} {'std/mean':>9}")
    for d in dims:
        print(f"   {d:>5} {ratios[d]:>14.4g} {torus[d].mean():>12.4f} {spread[d]:>9.4f}")
    high = [d for d in dims if d >= 10]
    slope = float(np.polyfit(np.log(high), np.log([spread[d] for d in high]), 1)[0]) if len(high) > 1 else float("nan")
    print(f"   torus distances / (sqrt(d)/2) tend to 1/sqrt(3) = {1 / math.sqrt(3):.4f}; their relative spread "
          f"falls like d^{slope:.2f} (so as 1/sqrt(d))")

    print("2. the rind: half of the volume lies outside the body shrunk by alpha = 2^(-1/n)")
    claims = {2: "18%", 3: "12%", 350: "1%"}
    rind = {}
    for n in [1, 2, 3, 10, 100, 350]:
        alpha = 2 ** (-1 / n)
        approx = 1 - math.log(2) / n
        rind[n] = {"alpha": alpha, "approx": approx, "crust": (1 - alpha) / 2, "approx_crust": (1 - approx) / 2}
        claim = f", lecture {claims[n]}" if n in claims else ""
        print(f"   n = {n:>3}: alpha = {alpha:.4f}, crust holding half the volume = {rind[n]['crust']:6.2%} of the diameter "
              f"(from 1 - ln2/n: alpha {approx:.4f}, crust {rind[n]['approx_crust']:6.2%}{claim})")
    alpha = 0.9
    sampled_rind = {n: float(np.mean(np.abs(rng.random((args.samples, n)) - 0.5).max(axis=1) > alpha / 2))
                    for n in (2, 10, 50)}
    print("   rind of a cube shrunk by alpha = 0.9, 1 - alpha^n vs sampled: "
          + ", ".join(f"n = {n}: {1 - alpha ** n:.4f} / {sampled_rind[n]:.4f}" for n in sampled_rind))

    print("3. the corners: share of the unit n-cube outside its inscribed ball")
    corners = {}
    for n in [2, 3, 8, 20]:
        inside = np.linalg.norm(rng.random((args.samples, n)) - 0.5, axis=1) <= 0.5
        corners[n] = {"exact": 1 - ball_fraction(n), "sampled": float(1 - inside.mean())}
        note = " (lecture: about 98%, 256 corners)" if n == 8 else ""
        print(f"   n = {n:>2} ({2 ** n:>9,} corners): {corners[n]['exact']:.4%} exact, {corners[n]['sampled']:.4%} sampled; "
              f"the ball keeps {ball_fraction(n):.3g}{note}")

    elements = 12_000_000 * 3
    print(f"4. eps^-d samples: eps = 0.1, d = {elements:,} (12 Mpixel x 3) -> 10^{elements:,} samples "
          f"(10^78 to 10^82 atoms in the observable universe)")

    args.out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 4, figsize=(19, 4.3))
    axes[0].loglog(dims, [ratios[d] for d in dims], "o-")
    axes[0].set_xlabel("dimension d")
    axes[0].set_title(f"(max - min) / min distance\n{args.points} points, random query", fontsize=10)
    for d in HISTOGRAM_DIMENSIONS:
        if d in torus:
            axes[1].hist(torus[d], bins=200, range=(0, 1), density=True, histtype="step", linewidth=1.5, label=f"d = {d}")
    axes[1].axvline(1 / math.sqrt(3), color="k", linestyle=":", label="1/sqrt(3)")
    axes[1].set_title("torus distances / (sqrt(d) / 2)", fontsize=10)
    axes[1].legend(fontsize=8)
    ns = np.arange(1, 101)
    for a in (0.99, 0.95, 0.9):
        axes[2].plot(ns, 1 - a ** ns, label=f"alpha = {a}")
    axes[2].set_xlabel("dimension n")
    axes[2].set_title("rind volume 1 - alpha^n", fontsize=10)
    axes[2].legend(fontsize=8)
    ns = np.arange(1, 21)
    axes[3].plot(ns, [ball_fraction(int(n)) for n in ns], "o-", label="inscribed ball")
    axes[3].plot(ns, [1 - ball_fraction(int(n)) for n in ns], "s-", label="corners (outside the ball)")
    axes[3].set_xlabel("dimension n")
    axes[3].set_title("share of the unit cube's volume", fontsize=10)
    axes[3].legend(fontsize=8)
    fig.tight_layout()
    path = args.out / "curse_of_dimensionality.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"wrote {path}")
    return {"ratios": ratios, "torus_mean": {d: float(torus[d].mean()) for d in dims}, "spread": spread,
            "spread_slope": slope, "rind": rind, "sampled_rind": sampled_rind, "corners": corners}


if __name__ == "__main__":
    main()
