"""A p4 group convolution is equivariant to 90-degree turns, exactly; a plain CNN is not.

The lecture: "standard CNNs are not naturally equivariant to rotations";
group-equivariant networks (here Cohen & Welling's p4 CNN, the discrete
cousin of the lecture's Harmonic Networks) build the symmetry in. A p4 layer
correlates its input with its filter turned four times (`ops.p4_conv2d`,
`engine.nn.P4Conv2d`); its output has a rotation axis of size 4. This
script measures:

1. equivariance: turning the input of a lifting and a group layer by 90
   degrees turns every output map and shifts the rotation axis by one, to
   rounding (float64), while a plain conv layer's output is another image;
2. the p4 CNN (lift - ReLU - max-pool - group conv - ReLU - max over turns
   and space - linear) and a plain CNN of (nearly) equal parameters (conv -
   ReLU - max-pool - conv - ReLU - max over space - linear), both trained on
   upright digits, tested on the test digits turned by 0, 90, 180 and 270
   degrees: the p4 CNN is invariant by construction (the same accuracy at
   every turn; it cannot tell a 6 from a turned 9), the plain one is not;
   and the plain CNN again, trained on digits each turned by a random quarter
   turn: what the same parameters reach when they must learn the turns.

Run: python examples/rotation_equivariance.py [--epochs E] [--width C] [--train-size N] [--out DIR];
writes rotation_equivariance.png.
"""
import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import engine as E  # noqa: E402
import ops  # noqa: E402
from engine import nn  # noqa: E402

TURNS = (0, 1, 2, 3)
SOBEL = np.array([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]]).reshape(1, 1, 3, 3)


def turn(a, times=1):
    """Turn an (N, C, H, W) image or an (N, C, 4, H, W) p4 map counter-clockwise: spatially, and for a p4 map
    one step along its rotation axis per quarter turn (what the filters turned by r become)."""
    turned = np.ascontiguousarray(np.rot90(a, times, axes=(-2, -1)))
    return turned if a.ndim == 4 else np.roll(turned, times, axis=2)


def equivariance_errors(rng, size=9):
    """max |f(turn x) - turn f(x)| / max |f(x)| for a lifting layer, lifting + group layer, and a plain conv (float64)."""
    x = rng.standard_normal((2, 3, size, size))
    lift, group, plain = (rng.standard_normal(s) for s in [(4, 3, 3, 3), (5, 4, 4, 3, 3), (4, 3, 3, 3)])
    layers = {"p4 lifting layer": lambda v: ops.p4_conv2d(v, lift, padding=1),
              "p4 lifting + group layer": lambda v: ops.p4_conv2d(np.maximum(ops.p4_conv2d(v, lift, padding=1), 0),
                                                                  group, padding=1),
              "plain conv layer": lambda v: ops.conv2d(v, plain, padding=1)}
    errors = {}
    for name, f in layers.items():
        y = f(x)
        errors[name] = max(float(np.abs(f(turn(x, t)) - turn(y, t)).max()) for t in (1, 2, 3)) / float(np.abs(y).max())
    return errors


class P4MaxPool2d(nn.Module):
    """Spatial max-pooling of a p4 map (N, C, 4, H, W): each of the 4C maps pooled alike."""

    def __init__(self, kernel_size):
        super().__init__()
        self.pool = nn.MaxPool2d(kernel_size)

    def forward(self, x):
        n, c, turns, h, w = x.shape
        pooled = self.pool(x.reshape(n, c * turns, h, w))
        return pooled.reshape(n, c, turns, *pooled.shape[2:])


class GlobalMax(nn.Module):
    """(N, C, H, W) or (N, C, 4, H, W) -> (N, C): the maximum over space (and turns), which a turn of the input
    leaves unchanged for a p4 map."""

    def forward(self, x):
        pool = E.functional.max_pool3d if x.ndim == 5 else E.functional.max_pool2d
        return pool(x, x.shape[2:]).flatten(1)


def p4_cnn(width):
    return nn.Sequential(nn.P4Conv2d(1, width, 3, padding=1, lifting=True), nn.ReLU(), P4MaxPool2d(2),
                         nn.P4Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), GlobalMax(), nn.Linear(2 * width, 10))


def plain_cnn(width):
    return nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), GlobalMax(), nn.Linear(2 * width, 10))


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


def matching_plain_width(target):
    """The plain CNN width whose parameter count is closest to target (the count grows with the width)."""
    width = 1
    while parameter_count(plain_cnn(width + 1)) <= target:
        width += 1
    return min((width, width + 1), key=lambda w: abs(parameter_count(plain_cnn(w)) - target))


def turned_accuracies(model, x, y):
    model.eval()
    with E.no_grad():
        return {90 * t: float(np.mean(model(E.tensor(turn(x, t))).numpy().argmax(axis=1) == y)) for t in TURNS}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6, help="training epochs per CNN (0 skips the training part)")
    parser.add_argument("--width", type=int, default=8, help="channels of the p4 CNN's first layer (the second has 2x)")
    parser.add_argument("--seed", type=int, default=0, help="seeds initialisation and batch order")
    _common.training_options(parser, lr=1e-2, out_name="rotation_equivariance.png")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)

    errors = equivariance_errors(rng)
    print("1. max |f(turn x) - turn f(x)| / max |f(x)| over quarter turns 1-3, float64 (turn of a p4 map: "
          "rot90 of each map and a cyclic shift of the rotation axis)")
    for name, error in errors.items():
        print(f"   {name:<26} {error:.2g}")

    results = {}
    if args.epochs:
        (x_train, y_train), (x_test, y_test) = E.data.load_digits()
        x_train, y_train = x_train[:args.train_size], y_train[:args.train_size]
        turns = np.random.default_rng(args.seed).integers(0, 4, len(x_train))
        x_turned = np.concatenate([turn(image[None], int(t)) for image, t in zip(x_train, turns)])
        E.manual_seed(args.seed)
        p4 = p4_cnn(args.width)
        plain_width = matching_plain_width(parameter_count(p4))
        runs = (("p4 CNN", p4, x_train), ("plain CNN", plain_cnn(plain_width), x_train),
                ("plain CNN, turned training digits", plain_cnn(plain_width), x_turned))
        print(f"2. trained {args.epochs} epochs on {len(x_train)} upright digits (8x8; the last row: each turned by a "
              f"random quarter turn), tested on {len(x_test)} test digits turned by 0 / 90 / 180 / 270 degrees")
        for name, model, x_fit in runs:
            _, _, seconds = _common.fit(model, x_fit, y_train, epochs=args.epochs, batch_size=args.batch, lr=args.lr,
                                        seed=args.seed)
            results[name] = {"parameters": parameter_count(model), "seconds": seconds,
                             "accuracy": turned_accuracies(model, x_test, y_test)}
            row = results[name]
            print(f"   {name:<33} {row['parameters']:5d} parameters: accuracy "
                  + " / ".join(f"{100 * a:.1f}" for a in row["accuracy"].values())
                  + f" %  (trained in {seconds:.1f} s)")

    fig, axes = plt.subplots(2, 5, figsize=(15, 6.5))
    digit = E.data.load_digits()[1][0][:1].astype(np.float64)  # a test digit, lifted by a Sobel edge filter
    y = ops.p4_conv2d(digit, SOBEL, padding=1)
    y_turned = ops.p4_conv2d(turn(digit), SOBEL, padding=1)
    for r in range(4):
        axes[0, r].imshow(y[0, 0, r], cmap="RdBu_r")
        axes[0, r].set_title(f"a digit lifted: Sobel filter turned {90 * r} deg", fontsize=9)
        axes[1, r].imshow(y_turned[0, 0, r], cmap="RdBu_r")
        axes[1, r].set_title(f"digit turned 90 deg: map {r} = map {(r - 1) % 4} turned", fontsize=9)
    for ax in axes[:, :4].ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 4].bar(range(len(errors)), [max(e, 1e-17) for e in errors.values()], color="tab:purple")
    axes[0, 4].set_yscale("log")
    axes[0, 4].set_xticks(range(len(errors)), ["lift", "lift+group", "plain"], fontsize=8)
    axes[0, 4].set_title("relative equivariance error", fontsize=9)
    if results:
        for name, row in results.items():
            axes[1, 4].plot(list(row["accuracy"]), [100 * a for a in row["accuracy"].values()], "o-",
                            label=f"{name} ({row['parameters']} par.)")
        axes[1, 4].set_xticks([90 * t for t in TURNS])
        axes[1, 4].set_xlabel("test digits turned by (deg)")
        axes[1, 4].set_ylabel("accuracy (%)")
        axes[1, 4].set_ylim(0, 100)
        axes[1, 4].legend(fontsize=6)
    else:
        axes[1, 4].axis("off")
    _common.save_figure(fig, args.out, "rotation_equivariance.png")
    return {"equivariance": errors, "cnn": results}


if __name__ == "__main__":
    main()
