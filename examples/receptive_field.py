"""Output sizes under padding and stride, and how the receptive field grows with depth.

The lecture's example: a 7x7 input and a 3x3 filter give a 5x5 output at
stride 1 and 3x3 at stride 2 without padding; with one ring of zero padding,
7x7 and 4x4. This script computes those sizes with the engine's shape
arithmetic (`ops.shapes.conv_geometry`), checks them against what `ops.conv2d`
actually returns, and then measures the receptive field of stacked layers: the
input pixels that can change one output unit, found by back-propagating an
impulse from that unit with `ops.conv2d_grad_input` / `ops.avg_pool2d_grad_input`
(all-positive weights, so no contribution cancels). It is compared with the
recurrence r <- r + (k - 1) * j, j <- j * s (j: the layer's input step in pixels).

Run: python examples/receptive_field.py [--depth N] [--out DIR]; writes receptive_field.png.
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

import ops  # noqa: E402
from ops import shapes  # noqa: E402

OUT = _common.OUT

# (stride, padding, the output side the lecture states) for a 7x7 input and a 3x3 filter
LECTURE_CASES = [(1, 0, 5), (2, 0, 3), (1, 1, 7), (2, 1, 4)]


def output_sizes(rng):
    """The lecture's four cases: geometry from ops.shapes against the shape of a real ops.conv2d result."""
    x = rng.standard_normal((1, 1, 7, 7))
    w = rng.standard_normal((1, 1, 3, 3))
    rows = []
    for stride, padding, claimed in LECTURE_CASES:
        geom = shapes.conv_geometry(x.shape, w.shape, 2, stride=stride, padding=padding)
        actual = ops.conv2d(x, w, stride=stride, padding=padding).shape[2:]
        rows.append({"stride": stride, "padding": padding, "claimed": (claimed, claimed),
                     "geometry": geom.out_spatial, "conv2d": tuple(actual)})
    return rows


def stacks(depth):
    """Layer stacks as lists of (kind, kernel, stride); 'conv' has no padding, 'pool' is average pooling."""
    return {"3x3 conv, stride 1": [("conv", 3, 1)] * depth,
            "5x5 conv, stride 1": [("conv", 5, 1)] * depth,
            "3x3 conv, stride 2": [("conv", 3, 2)] * depth,
            "LeNet: 5x5 conv, 2x2 pool": [("conv", 5, 1), ("pool", 2, 2)] * ((depth + 1) // 2)}


def predicted_fields(layers):
    """Receptive field side after each layer by the recurrence r += (k - 1) * j, j *= s."""
    field, step, out = 1, 1, []
    for _, k, s in layers:
        field += (k - 1) * step
        step *= s
        out.append(field)
    return out


def measured_field(layers, size):
    """Back-propagate an impulse at the central unit of the last layer to a size x size input.

    Returns (side of the nonzero gradient's bounding box, the input gradient).
    """
    shapes_in, shape = [], (1, 1, size, size)
    for kind, k, s in layers:
        shapes_in.append(shape)
        geom = (shapes.conv_geometry(shape, (1, 1, k, k), 2, stride=s) if kind == "conv"
                else shapes.pool_geometry(shape, 2, k, s))
        shape = geom.output_shape
    grad = np.zeros(shape)
    grad[0, 0, shape[2] // 2, shape[3] // 2] = 1.0
    for (kind, k, s), in_shape in zip(reversed(layers), reversed(shapes_in)):
        if kind == "conv":
            grad = ops.conv2d_grad_input(grad, np.ones((1, 1, k, k)), in_shape, stride=s)
        else:
            grad = ops.avg_pool2d_grad_input(grad, in_shape, k, s)
    rows, cols = np.nonzero(grad[0, 0])
    assert rows.max() - rows.min() == cols.max() - cols.min()
    return int(rows.max() - rows.min() + 1), grad[0, 0]


def input_size_for(layers):
    """Smallest square input that still leaves a 3x3 output after every valid layer."""
    size = 3
    for _, k, s in reversed(layers):
        size = (size - 1) * s + k
    return size


def draw_case(ax, stride, padding, out_side):
    """The padded 7x7 input with the centres of the 3x3 windows the conv evaluates."""
    side = 7 + 2 * padding
    ax.add_patch(plt.Rectangle((-0.5, -0.5), side, side, color="0.85"))
    ax.add_patch(plt.Rectangle((padding - 0.5, padding - 0.5), 7, 7, color="tab:blue", alpha=0.35))
    centres = 1 + stride * np.arange(out_side)
    cy, cx = np.meshgrid(centres, centres)
    ax.plot(cx.ravel(), cy.ravel(), "k.", markersize=9)
    ax.add_patch(plt.Rectangle((-0.5, -0.5), 3, 3, fill=False, edgecolor="tab:red", linewidth=2))
    ax.set_xlim(-0.7, side - 0.3)
    ax.set_ylim(side - 0.3, -0.7)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal")
    ax.set_title(f"stride {stride}, padding {padding}: {out_side}x{out_side}", fontsize=9)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=6, help="layers per stack")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for receptive_field.png")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)

    sizes = output_sizes(rng)
    print("7x7 input, 3x3 filter: output side = (7 + 2 * padding - 3) // stride + 1")
    print(f"{'stride':>6} {'padding':>7} {'lecture':>8} {'conv_geometry':>14} {'ops.conv2d':>11}")
    for row in sizes:
        print(f"{row['stride']:>6} {row['padding']:>7} {str(row['claimed']):>8} {str(row['geometry']):>14} {str(row['conv2d']):>11}")

    fields = {}
    print("\nreceptive field side after each layer: measured by back-propagating an impulse (predicted by the recurrence)")
    for name, layers in stacks(args.depth).items():
        predicted = predicted_fields(layers)
        measured, grads = [], []
        for n in range(1, len(layers) + 1):
            side, grad = measured_field(layers[:n], input_size_for(layers[:n]))
            measured.append(side)
            grads.append(grad)
        fields[name] = {"layers": layers, "predicted": predicted, "measured": measured, "gradient": grads[-1]}
        print(f"{name:<27} " + " ".join(f"{m}({p})" for m, p in zip(measured, predicted)))

    fig = plt.figure(figsize=(15, 6.5))
    for i, (stride, padding, claimed) in enumerate(LECTURE_CASES):
        draw_case(fig.add_subplot(2, 4, 1 + i + 2 * (i // 2)), stride, padding, claimed)
    ax = fig.add_subplot(1, 4, 3)
    for name, row in fields.items():
        ax.plot(range(1, len(row["measured"]) + 1), row["measured"], "o-", label=name)
    ax.set_xlabel("layers")
    ax.set_ylabel("receptive field side (pixels)")
    ax.set_yscale("log", base=2)
    ax.legend(fontsize=8)
    ax.set_title("receptive field growth (measured)", fontsize=10)
    ax = fig.add_subplot(1, 4, 4)
    deep = fields["3x3 conv, stride 1"]
    ax.imshow(deep["gradient"], cmap="magma")
    ax.set_title(f"input gradient of one unit after {len(deep['layers'])} 3x3 convs\n"
                 f"(receptive field {deep['measured'][-1]}x{deep['measured'][-1]}, weight peaks in the centre)", fontsize=9)
    ax.axis("off")
    _common.save_figure(fig, args.out, "receptive_field.png")
    return {"sizes": sizes, "fields": fields}


if __name__ == "__main__":
    main()
