"""Fully connected, locally connected, convolutional: n^2 vs k*n vs k parameters, and what each learns in equal time.

The lecture: a fully connected layer y_j = sum_i w_ji x_i on n inputs has n^2
weights (36M^2 for a 36-megapixel image); connecting each output to its k
neighbours only (sparse, as in LeCun's early work) leaves k*n; sharing those k
weights across positions (weight sharing: a convolution) leaves k. This script:

1. counts the three layers' weights on the lecture's 1-D example (k = 3) and
   on the 8x8 digits (n = 64 pixels, a 3x3 neighbourhood: k = 9), per output
   channel;
2. checks that they are nested: a locally connected layer whose k*n weights
   repeat one 3x3 filter at every position is that conv, and a fully connected
   layer whose n x n matrix is the conv's banded matrix is that conv too;
3. trains the three as the first layer of one small classifier (layer with C
   output channels at 8x8 - ReLU - linear 10) on the digits for the same wall
   time each, and prints their test accuracy.

Run: python examples/weight_sharing.py [--seconds S] [--channels C] [--train-size N] [--out DIR];
writes weight_sharing.png.
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
from engine import functional as F  # noqa: E402
from engine import nn  # noqa: E402

SIDE, KERNEL = 8, 3
LAYERS = ("fully connected", "locally connected", "convolution")


def weight_counts(n, k):
    """Weights of one output channel (biases aside): fully connected n^2, locally connected k*n, shared k."""
    return {"fully connected": n * n, "locally connected": k * n, "convolution": k}


class LocallyConnected2d(nn.Module):
    """A conv's connectivity without its sharing: every output position has its own kernel_size^2 weights.

    x (N, 1, H, W) -> (N, C, H, W) with 'same' zero padding; weight (C, kernel_size^2, H * W), bias (C, H * W).
    The input's neighbourhoods come from one conv with a bank of one-hot filters (each picks one tap).
    """

    def __init__(self, out_channels, side, kernel_size, dtype=np.float32):
        super().__init__()
        taps = kernel_size * kernel_size
        self.side, self.kernel_size = side, kernel_size
        self.picks = E.tensor(np.eye(taps, dtype=dtype).reshape(taps, 1, kernel_size, kernel_size))
        self.weight = nn.Parameter(np.empty((out_channels, taps, side * side), dtype))
        self.bias = nn.Parameter(np.empty((out_channels, side * side), dtype))
        nn.init.default_(self.weight, self.bias)

    def forward(self, x):
        n = x.shape[0]
        patches = F.conv2d(x, self.picks, padding=self.kernel_size // 2).reshape(n, 1, -1, self.side * self.side)
        out = (patches * self.weight).sum(dim=2) + self.bias
        return out.reshape(n, -1, self.side, self.side)


class Dense2d(nn.Module):
    """A fully connected layer from an (N, 1, H, W) image to C maps of H x W: weight (C * H * W, H * W)."""

    def __init__(self, out_channels, side):
        super().__init__()
        self.out_channels, self.side = out_channels, side
        self.linear = nn.Linear(side * side, out_channels * side * side)

    def forward(self, x):
        return self.linear(x.flatten(1)).reshape(x.shape[0], self.out_channels, self.side, self.side)


def first_layer(kind, channels):
    if kind == "fully connected":
        return Dense2d(channels, SIDE)
    if kind == "locally connected":
        return LocallyConnected2d(channels, SIDE, KERNEL)
    return nn.Conv2d(1, channels, KERNEL, padding=KERNEL // 2)


def classifier(kind, channels):
    return nn.Sequential(first_layer(kind, channels), nn.ReLU(), nn.Flatten(), nn.Linear(channels * SIDE * SIDE, 10))


def nesting_errors(rng, channels=2):
    """max |layer(x) - conv(x)| when the locally connected and the fully connected layer hold the conv's weights."""
    x = rng.standard_normal((3, 1, SIDE, SIDE))
    w = rng.standard_normal((channels, 1, KERNEL, KERNEL))
    conv = ops.conv2d(x, w, padding=KERNEL // 2)
    local = LocallyConnected2d(channels, SIDE, KERNEL, dtype=np.float64)
    local.weight.data[...] = w.reshape(channels, -1, 1)  # the same 3x3 filter at every position
    local.bias.data[...] = 0
    # the fully connected layer's matrix: column i is the conv's response to the i-th unit image
    units = np.eye(SIDE * SIDE).reshape(-1, 1, SIDE, SIDE)
    banded = ops.conv2d(units, w, padding=KERNEL // 2).reshape(SIDE * SIDE, -1).T
    with E.no_grad():
        local_out = local(E.tensor(x)).numpy()
    dense_out = (x.reshape(len(x), -1) @ banded.T).reshape(conv.shape)
    nonzero = float(np.mean(banded != 0))
    return {"locally connected": float(np.abs(local_out - conv).max()),
            "fully connected": float(np.abs(dense_out - conv).max())}, banded, nonzero


def accuracy(model, x, y):
    model.eval()
    with E.no_grad():
        return float(np.mean(model(E.tensor(x)).numpy().argmax(axis=1) == y))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="training wall time per layer kind")
    parser.add_argument("--channels", type=int, default=8, help="output channels of the first layer")
    parser.add_argument("--seed", type=int, default=0, help="seeds initialisation and batch order")
    _common.training_options(parser, lr=2e-3, out_name="weight_sharing.png")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)

    lecture = weight_counts(36_000_000, 3)
    digits = weight_counts(SIDE * SIDE, KERNEL * KERNEL)
    print("1. weights per output channel: n^2 / k*n / k")
    print("   lecture, n = 36M inputs, k = 3:  " + " / ".join(f"{v:.3g}" for v in lecture.values()))
    print("   digits, n = 64 pixels, k = 3x3:  " + " / ".join(str(v) for v in digits.values()))

    errors, banded, nonzero = nesting_errors(rng)
    print(f"2. nested: with the conv's weights, max |layer(x) - conv(x)| = locally connected "
          f"{errors['locally connected']:.2g}, fully connected {errors['fully connected']:.2g} "
          f"(the conv's 64 x 64 matrix: {100 * nonzero:.0f} % non-zero, each interior row the same 9 weights)")

    results = {}
    if args.seconds > 0:
        (x_train, y_train), (x_test, y_test) = E.data.load_digits()
        x_train, y_train = x_train[:args.train_size], y_train[:args.train_size]
        print(f"3. first layer with {args.channels} channels at 8x8 - ReLU - linear 10, trained {args.seconds:g} s each "
              f"on {len(x_train)} digits, tested on {len(x_test)}")
        for kind in LAYERS:
            E.manual_seed(args.seed)
            model = classifier(kind, args.channels)
            layer_weights = sum(p.numel() for p in model[0].parameters())
            steps, epochs, _ = _common.fit(model, x_train, y_train, seconds=args.seconds, batch_size=args.batch,
                                           lr=args.lr, seed=args.seed)
            results[kind] = {"layer_parameters": layer_weights, "parameters": sum(p.numel() for p in model.parameters()),
                             "steps": steps, "epochs": epochs, "train_acc": accuracy(model, x_train, y_train),
                             "test_acc": accuracy(model, x_test, y_test)}
            row = results[kind]
            print(f"   {kind:<17} first layer {row['layer_parameters']:6d} parameters (model {row['parameters']:6d}): "
                  f"{steps:5d} steps ({epochs:.1f} epochs), train {100 * row['train_acc']:.1f} %, "
                  f"test {100 * row['test_acc']:.1f} %")

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    axes[0].bar(range(3), list(digits.values()), color=["tab:red", "tab:orange", "tab:green"])
    axes[0].set_yscale("log")
    axes[0].set_xticks(range(3), ["fully conn.\nn^2", "locally conn.\nk n", "conv\nk"])
    axes[0].set_title("weights per output channel, 8x8 input, 3x3 neighbourhood", fontsize=10)
    limit = float(np.abs(banded).max())
    axes[1].imshow(banded[:SIDE * SIDE], cmap="RdBu_r", vmin=-limit, vmax=limit)  # the first output channel
    axes[1].set_title("a 3x3 conv as a 64 x 64 matrix: sparse and shared", fontsize=10)
    if results:
        names = list(results)
        axes[2].bar(range(3), [100 * results[k]["test_acc"] for k in names], color=["tab:red", "tab:orange", "tab:green"])
        axes[2].set_xticks(range(3), [f"{k}\n{results[k]['layer_parameters']} par." for k in names], fontsize=8)
        axes[2].set_ylim(50, 100)
        axes[2].set_ylabel("test accuracy (%)")
        axes[2].set_title(f"digits, {args.seconds:g} s of training each", fontsize=10)
    else:
        axes[2].axis("off")
    _common.save_figure(fig, args.out, "weight_sharing.png")
    return {"lecture": lecture, "digits": digits, "nesting": errors, "training": results}


if __name__ == "__main__":
    main()
