"""A 1x1 convolution is a matrix product across channels, applied at every pixel.

The lecture: a 1x1 conv "reduces depth": it is "a dot product across the depth
of the input volume" that "slides over all locations", so a network can "learn
to aggregate many channels into fewer". This script checks it:

1. a 1x1 conv from 64 channels to 16 (`ops.conv2d`) equals the per-pixel
   product y[n, k, h, w] = sum_c W[k, c] x[n, c, h, w] + b[k] (`np.einsum`);
2. its parameters and FLOPs against a 3x3 conv with the same channels, and
   the 1x1 - 3x3 - 1x1 bottleneck against a plain 64 -> 64 3x3 conv
   (`engine.nn.Conv2d` parameters, `ops.shapes.conv_geometry(...).flops`), with CPU times;
3. the most familiar 1x1 conv: RGB to grey is a 3 -> 1 channel 1x1 conv with
   the luminance weights, compared with scikit-image's rgb2gray.

Run: python examples/one_by_one.py [--batch N] [--size S] [--repeats R] [--out DIR]; writes one_by_one.png.
"""
import argparse
import timeit
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import ops  # noqa: E402
from ops import shapes  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
LUMINANCE = np.array([0.2125, 0.7154, 0.0721])  # ITU-R BT.709, the weights rgb2gray uses


def per_pixel_product(x, w, b):
    """y[n, k, h, w] = sum_c w[k, c] x[n, c, h, w] + b[k]: the 1x1 conv written without any conv."""
    return np.einsum("kc,nchw->nkhw", w[:, :, 0, 0], x) + b[None, :, None, None]


def cost(layers, batch, size):
    """(weights + biases, FLOPs) of a stack of (in_ch, out_ch, kernel) engine conv layers at stride 1, 'same' padding."""
    from engine import nn
    params = flops = 0
    for c_in, c_out, k in layers:
        layer = nn.Conv2d(c_in, c_out, k, padding="same")
        params += sum(p.numel() for p in layer.parameters())
        flops += shapes.conv_geometry((batch, c_in, size, size), layer.weight.shape, 2, padding="same").flops
    return params, flops


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=56, help="height = width of the feature maps")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per layer (the median is printed)")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for one_by_one.png")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)

    print(f"1. 1x1 conv 64 -> 16 channels on {args.batch}x64x{args.size}x{args.size} vs the per-pixel matrix product")
    errors = {}
    for dtype in (np.float64, np.float32):
        x = rng.standard_normal((args.batch, 64, args.size, args.size)).astype(dtype)
        w = rng.standard_normal((16, 64, 1, 1)).astype(dtype)
        b = rng.standard_normal(16).astype(dtype)
        conv = ops.conv2d(x, w, b)
        product = per_pixel_product(x, w, b)
        errors[str(np.dtype(dtype))] = float(np.abs(conv - product).max() / np.abs(product).max())
        print(f"   {np.dtype(dtype)}: output {conv.shape}, max |conv - einsum| / max |output| = {errors[str(np.dtype(dtype))]:.2g}")

    layers = {"1x1, 64 -> 16": [(64, 16, 1)],
              "3x3, 64 -> 16": [(64, 16, 3)],
              "3x3, 64 -> 64": [(64, 64, 3)],
              "bottleneck 1x1 -> 3x3 -> 1x1": [(64, 16, 1), (16, 16, 3), (16, 64, 1)]}
    x32 = rng.standard_normal((args.batch, 64, args.size, args.size)).astype(np.float32)
    weights = {name: [(rng.standard_normal((o, i, k, k)).astype(np.float32), np.zeros(o, np.float32)) for i, o, k in stack]
               for name, stack in layers.items()}

    def run(stack):
        def forward():
            y = x32
            for w, b in stack:
                y = ops.conv2d(y, w, b, padding="same")
            return y
        return forward

    print(f"2. cost on {args.batch}x64x{args.size}x{args.size} (float32 CPU time: median of {args.repeats})")
    costs = {}
    for name, stack in layers.items():
        params, flops = cost(stack, args.batch, args.size)
        seconds = float(np.median(timeit.repeat(run(weights[name]), number=1, repeat=args.repeats)))
        costs[name] = {"params": params, "flops": flops, "seconds": seconds}
        print(f"   {name:<29} parameters {params:>7,}  GFLOPs {flops / 1e9:6.3f}  time {seconds * 1e3:7.2f} ms")
    w16 = weights["1x1, 64 -> 16"][0][0][:, :, 0, 0]
    costs["einsum 64 -> 16"] = {"seconds": float(np.median(timeit.repeat(
        lambda: np.einsum("kc,nchw->nkhw", w16, x32), number=1, repeat=args.repeats)))}
    print(f"   {'the same 1x1 as np.einsum':<29} {'':>30}  time {costs['einsum 64 -> 16']['seconds'] * 1e3:7.2f} ms")

    from skimage import color, data
    rgb = data.chelsea().astype(np.float64) / 255
    x_rgb = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None])  # HWC -> NCHW
    grey = ops.conv2d(x_rgb, LUMINANCE.reshape(1, 3, 1, 1))[0, 0]
    grey_error = float(np.abs(grey - color.rgb2gray(rgb)).max())
    print(f"3. RGB -> grey as a 3 -> 1 channel 1x1 conv on chelsea {rgb.shape}: max |conv - skimage rgb2gray| = {grey_error:.2g}")

    args.out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 6, figsize=(20, 3.6), gridspec_kw={"width_ratios": [1, 1, 1, 1, 1.2, 1.2]})
    for ax, (title, picture) in zip(axes[:4], [("red", rgb[..., 0]), ("green", rgb[..., 1]), ("blue", rgb[..., 2]),
                                               ("1x1 conv: %.4f R + %.4f G + %.4f B" % tuple(LUMINANCE), grey)]):
        ax.imshow(picture, cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    names = list(layers)
    short = ["1x1\n64->16", "3x3\n64->16", "3x3\n64->64", "bottleneck\n64->16->64"]
    axes[4].bar(short, [costs[n]["params"] for n in names], color="tab:blue")
    axes[4].set_title("parameters", fontsize=10)
    axes[5].bar(short, [costs[n]["flops"] / 1e9 for n in names], color="tab:orange")
    axes[5].set_title("GFLOPs", fontsize=10)
    for ax in axes[4:]:
        ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    path = args.out / "one_by_one.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"wrote {path}")
    return {"errors": errors, "costs": costs, "grey_error": grey_error}


if __name__ == "__main__":
    main()
