"""One hidden layer of growing width fits a 1-D function ever better: the universal approximation theorem, measured.

The lecture: for a bounded, monotonically increasing activation phi and any
continuous f on a compact set there are N, v_i, w_i, b_i with
F(x) = sum_i v_i phi(w_i x + b_i) and |F(x) - f(x)| < eps; "in practice eps
very large". This script fits f(x) = sin(3x) + 0.5 |x| - 0.3 x^2 on [-pi, pi]
(a kink at 0) with one tanh hidden layer of width N = 1, 2, 4, ... and prints
the worst-case error max |F - f| and the RMS error on a dense grid, two ways:

- trained: every parameter (w, b, v and the output bias) fitted by Adam on the
  mean squared error over the training points (engine.nn.Linear, Tanh);
- random features: w_i, b_i drawn at random (tanh steps spread over the
  interval) and only v solved by least squares, which shows how fast the best
  combination of N fixed units closes in.

Run: python examples/universal_approximator.py [--widths 1 2 4 ...] [--steps S] [--out DIR];
writes universal_approximator.png.
"""
import argparse
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import engine as E  # noqa: E402
from engine import nn  # noqa: E402

OUT = _common.OUT
WIDTHS = (1, 2, 4, 8, 16, 32, 64, 128)


def target(x):
    return np.sin(3 * x) + 0.5 * np.abs(x) - 0.3 * x ** 2


def errors(prediction, truth):
    return {"max": float(np.abs(prediction - truth).max()), "rms": float(np.sqrt(np.mean((prediction - truth) ** 2)))}


def fit_trained(width, x, y, grid, steps, lr, seed):
    """Adam on all parameters of Linear(1, width) - Tanh - Linear(width, 1), full batch, float64; F on the grid."""
    E.manual_seed(seed)
    model = nn.Sequential(nn.Linear(1, width, dtype=np.float64), nn.Tanh(), nn.Linear(width, 1, dtype=np.float64))
    # unit i steps at x = -b_i / w_i; PyTorch's default init puts every step within |x| < 1, so spread them over
    # the interval instead: slopes w_i in [-3, 3], steps uniform on [-3, 3]
    init = np.random.default_rng(seed)
    model[0].weight.data[...] = init.uniform(-3, 3, (width, 1))
    model[0].bias.data[...] = -init.uniform(-3, 3, width) * model[0].weight.data[:, 0]
    opt = E.optim.Adam(model.parameters(), lr=lr)
    inputs, labels = E.tensor(x[:, None]), E.tensor(y[:, None])
    for _ in range(steps):
        loss = E.functional.mse_loss(model(inputs), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with E.no_grad():
        return model(E.tensor(grid[:, None])).numpy()[:, 0]


def fit_random_features(width, x, y, grid, rng, low, high):
    """tanh(w (x - c)) with slopes |w| in [1, 10] and centres c uniform on the interval; v by least squares."""
    slopes = rng.uniform(1, 10, width) * rng.choice([-1, 1], width)
    centres = rng.uniform(low, high, width)

    def features(points):
        return np.hstack([np.tanh(slopes * (points[:, None] - centres)), np.ones((len(points), 1))])

    coefficients, *_ = np.linalg.lstsq(features(x), y, rcond=None)
    return features(grid) @ coefficients


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=list(WIDTHS), help="hidden-layer widths to fit")
    parser.add_argument("--steps", type=int, default=1500, help="Adam steps per trained fit (0 skips training)")
    parser.add_argument("--lr", type=float, default=2e-2, help="Adam's learning rate")
    parser.add_argument("--points", type=int, default=200, help="training points on [-pi, pi]")
    parser.add_argument("--seed", type=int, default=0, help="seeds initialisation and the random features")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for universal_approximator.png")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    low, high = -np.pi, np.pi
    x = np.linspace(low, high, args.points)
    grid = np.linspace(low, high, 2001)
    y, truth = target(x), target(grid)

    results = {"random features": {}, "trained": {}}
    curves = {}
    print("width N: max |F - f| / RMS error on 2001 grid points of [-pi, pi]")
    for width in args.widths:
        start = time.perf_counter()
        random_fit = fit_random_features(width, x, y, grid, rng, low, high)
        results["random features"][width] = errors(random_fit, truth)
        line = f"   N = {width:4d}: random features + least squares {results['random features'][width]['max']:.3g} / " \
               f"{results['random features'][width]['rms']:.3g}"
        if args.steps:
            trained_fit = fit_trained(width, x, y, grid, args.steps, args.lr, args.seed)
            results["trained"][width] = errors(trained_fit, truth)
            curves[width] = trained_fit
            line += f";  trained (Adam, {args.steps} steps) {results['trained'][width]['max']:.3g} / " \
                    f"{results['trained'][width]['rms']:.3g}"
        print(line + f"  ({time.perf_counter() - start:.1f} s)")

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    axes[0].plot(grid, truth, "k", linewidth=2, label="f")
    for width in [w for w in args.widths if w in curves][::2]:
        axes[0].plot(grid, curves[width], label=f"trained, N = {width}")
    axes[0].set_xlabel("x")
    axes[0].set_title("f(x) = sin 3x + |x|/2 - 0.3 x^2 and one-hidden-layer fits", fontsize=10)
    axes[0].legend(fontsize=8)
    for name, marker in (("random features", "s--"), ("trained", "o-")):
        widths = list(results[name])
        if widths:
            axes[1].loglog(widths, [results[name][w]["max"] for w in widths], marker, label=f"{name}: max error")
            axes[1].loglog(widths, [results[name][w]["rms"] for w in widths], marker, alpha=0.5, label=f"{name}: RMS")
    axes[1].set_xlabel("hidden units N")
    axes[1].set_ylabel("error")
    axes[1].set_title("error against width", fontsize=10)
    axes[1].legend(fontsize=8)
    _common.save_figure(fig, args.out, "universal_approximator.png")
    return results


if __name__ == "__main__":
    main()
