"""How much a smooth deformation moves raw pixels, a trained CNN's features, and the same CNN with blur-pool.

The lecture: a digit detector f should be approximately deformation
invariant, ||f(x) - f(D_tau x)|| ~ ||grad tau||, where D_tau x(u) = x(u - tau(u))
warps the image by a smooth displacement field tau. This script draws, for
every test digit (upsampled to 16x16), one smooth random field (a few
low-frequency sines per axis), scales it to a maximum displacement of
0.25 ... 3 pixels, warps the digit (bilinear) and measures the mean relative
change ||f(x) - f(D_tau x)|| / ||f(x)|| for

- f = the raw pixels,
- f = the features (flattened after the last pooling) of a small CNN trained
  on the digits (conv 8 - ReLU - max-pool 2 - conv 16 - ReLU - max-pool 2 -
  linear 10),
- f = the same CNN with Zhang's MaxBlurPool (max over 2 at stride 1, then a
  3-tap binomial blur at stride 2) in place of each max-pool, trained alike,
- f = the max-pool CNN's trained weights with MaxBlurPool swapped in, not
  retrained,

together with each CNN's accuracy on the warped digits.

Run: python examples/deformation_stability.py [--epochs E] [--amplitudes A ...] [--train-size N] [--out DIR];
writes deformation_stability.png.
"""
import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import scipy.ndimage  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import engine as E  # noqa: E402
from engine import nn  # noqa: E402

AMPLITUDES = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0)
SIDE = 16
POOLS = {"max-pool": lambda: nn.MaxPool2d(2), "blur-pool": lambda: nn.BlurPool2d(3, 2, max_pool=True)}


def upsample(digits):
    """(N, 1, 8, 8) -> (N, 1, 16, 16), bilinear: smooth enough for sub-pixel warps to mean something."""
    return np.ascontiguousarray(scipy.ndimage.zoom(digits, (1, 1, SIDE / 8, SIDE / 8), order=1), np.float32)


def smooth_field(rng, side, modes=3):
    """A random displacement field (2, side, side) of low-frequency sines, scaled to max |tau| = 1 pixel."""
    u = np.linspace(0, 1, side)
    rows, cols = np.meshgrid(u, u, indexing="ij")
    field = np.zeros((2, side, side))
    for axis in range(2):
        for a in range(modes):
            for b in range(modes):
                amplitude, phase = rng.standard_normal(), rng.uniform(0, 2 * np.pi)
                field[axis] += amplitude * np.sin(np.pi * (a * rows + b * cols) + phase) / (1 + a * a + b * b)
    return field / np.abs(field).max()


def warp(image, field):
    """D_tau x(u) = x(u - tau(u)) for a (side, side) image, bilinear, zero outside."""
    side = image.shape[-1]
    rows, cols = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    # grid-constant: zeros outside, interpolated up to the edge ('constant' zeroes a border row nudged outward)
    return scipy.ndimage.map_coordinates(image, [rows - field[0], cols - field[1]], order=1, mode="grid-constant")


def gradient_norm(field):
    """max over pixels of the Frobenius norm of tau's Jacobian (pixels per pixel)."""
    jacobian = np.stack([np.stack(np.gradient(component)) for component in field])
    return float(np.sqrt((jacobian ** 2).sum(axis=(0, 1))).max())


def small_cnn(pool):
    body = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), POOLS[pool](),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), POOLS[pool](), nn.Flatten())
    return body, nn.Sequential(body, nn.Linear(16 * (SIDE // 4) ** 2, 10))


def relative_change(features, x, warped):
    a, b = features(x), features(warped)
    return float(np.mean(np.linalg.norm(a - b, axis=1) / np.linalg.norm(a, axis=1)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6, help="training epochs per CNN")
    parser.add_argument("--amplitudes", type=float, nargs="+", default=list(AMPLITUDES),
                        help="maximum displacements to measure, in pixels of the 16x16 image")
    parser.add_argument("--test-size", type=int, default=None, help="measure on the first N test digits only")
    parser.add_argument("--seed", type=int, default=0, help="seeds initialisation, batch order and the fields")
    _common.training_options(parser, lr=5e-3, out_name="deformation_stability.png")
    args = parser.parse_args(argv)
    (x_train, y_train), (x_test, y_test) = E.data.load_digits()
    x_train, y_train = upsample(x_train[:args.train_size]), y_train[:args.train_size]
    x_test, y_test = upsample(x_test[:args.test_size]), y_test[:args.test_size]
    fields = [smooth_field(np.random.default_rng([args.seed, i]), SIDE) for i in range(len(x_test))]

    models = {}
    for pool in POOLS:
        E.manual_seed(args.seed)
        body, model = small_cnn(pool)
        _, _, seconds = _common.fit(model, x_train, y_train, epochs=args.epochs, batch_size=args.batch, lr=args.lr,
                                    seed=args.seed)
        model.eval()
        models[pool] = (body, model)
        print(f"trained the {pool} CNN {args.epochs} epochs on {len(x_train)} digits (16x16) in {seconds:.1f} s")
    swapped_body, swapped = small_cnn("blur-pool")  # pooling holds no weights: the max-pool CNN's fit as they are
    swapped.load_state_dict(models["max-pool"][1].state_dict())
    swapped.eval()
    models["max-pool, blur-swapped"] = (swapped_body, swapped)

    def run(network):
        def features(images):
            with E.no_grad():
                return network(E.tensor(images)).numpy().reshape(len(images), -1)
        return features

    representations = {"raw pixels": lambda images: images.reshape(len(images), -1)}
    representations.update({f"CNN {pool}": run(body) for pool, (body, _) in models.items()})
    results = {"amplitude": [], "grad_tau": [], "change": {name: [] for name in representations},
               "accuracy": {pool: [] for pool in models}}
    clean = {pool: float(np.mean(run(model)(x_test).argmax(axis=1) == y_test)) for pool, (_, model) in models.items()}
    print(f"relative change ||f(x) - f(D_tau x)|| / ||f(x)|| of the raw pixels and of each CNN's features (flattened "
          f"after its last pooling), mean over {len(x_test)} test digits; clean accuracy "
          + ", ".join(f"{p} {100 * a:.1f} %" for p, a in clean.items()))
    width = max(map(len, representations))
    print("   max |tau|  ||grad tau||  " + "  ".join(f"{name:>{width}}" for name in representations))
    for amplitude in args.amplitudes:
        warped = np.stack([warp(image[0], amplitude * field) for image, field in zip(x_test, fields)])[:, None]
        warped = warped.astype(np.float32)
        results["amplitude"].append(amplitude)
        results["grad_tau"].append(float(np.mean([gradient_norm(amplitude * f) for f in fields])))
        for name, features in representations.items():
            results["change"][name].append(relative_change(features, x_test, warped))
        for pool, (_, model) in models.items():
            results["accuracy"][pool].append(float(np.mean(run(model)(warped).argmax(axis=1) == y_test)))
        print(f"   {amplitude:7.2f} px  {results['grad_tau'][-1]:10.2f}  "
              + "  ".join(f"{results['change'][name][-1]:{width}.3f}" for name in representations))
    print("   accuracy on the warped digits at each max |tau|:")
    for pool, values in results["accuracy"].items():
        print(f"   {pool:<22} " + " / ".join(f"{100 * v:.1f}" for v in values) + " %")
    results["clean_accuracy"] = clean

    fig = plt.figure(figsize=(15, 5))
    grid = fig.add_gridspec(2, 5)
    examples = [0] + [min(len(args.amplitudes) - 1, i) for i in (1, 3)]
    for column, index in enumerate(examples):
        amplitude = 0 if column == 0 else args.amplitudes[index]
        for row, digit in enumerate((0, 1)):
            ax = fig.add_subplot(grid[row, column])
            ax.imshow(warp(x_test[digit, 0], amplitude * fields[digit]), cmap="gray_r")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"max |tau| = {amplitude:g} px", fontsize=9)
    ax = fig.add_subplot(grid[:, 3])
    for name, values in results["change"].items():
        ax.plot(results["grad_tau"], values, "o-", label=name)
    ax.set_xlabel("||grad tau|| (mean of the max over pixels)")
    ax.set_ylabel("||f(x) - f(D_tau x)|| / ||f(x)||")
    ax.set_title("relative change under a smooth warp", fontsize=10)
    ax.legend(fontsize=8)
    ax = fig.add_subplot(grid[:, 4])
    for pool, values in results["accuracy"].items():
        ax.plot(results["amplitude"], [100 * v for v in values], "o-", label=pool)
    ax.set_xlabel("max |tau| (px)")
    ax.set_ylabel("test accuracy on warped digits (%)")
    ax.legend(fontsize=8)
    _common.save_figure(fig, args.out, "deformation_stability.png")
    return results


if __name__ == "__main__":
    main()
