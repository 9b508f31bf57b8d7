"""A 5x5 conv vs two 3x3 convs vs a 1x5 + 5x1 pair: cost, exactness and speed.

The lecture: "a 5x5 convolution has 25 parameters per filter; two 3x3
convolutions have 18"; a separable 1x5 followed by 5x1 has 10, "but it is an
approximation: it works well only if the 5x5 filter can be accurately
approximated by the two smaller filters." This script measures:

1. parameters and FLOPs of the three variants, from the engine's own layers
   (`engine.nn.Conv2d(...).parameters()`, `ops.shapes.conv_geometry(...).flops`);
2. the exact identity: two stacked 3x3 convs with no nonlinearity in between
   are one 5x5 conv whose kernel is the full (true) convolution of the two
   3x3 kernels, summed over the middle channels; checked with `ops.conv2d`.
   It breaks at the border under zero padding and everywhere once a ReLU sits
   between the two;
3. the separable approximation of a 5x5 kernel by its rank-1 SVD: exact for a
   Gaussian, a poor fit for a random kernel;
4. the CPU time of each variant (median of a few runs), for a conv layer with
   many channels and for filtering one photograph.

Run: python examples/factorized_separable.py [--channels C] [--size S] [--repeats R] [--out DIR];
writes factorized_separable.png.
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

import ops  # noqa: E402
from ops import shapes  # noqa: E402

OUT = _common.OUT

# Each variant maps (N, C, H, W) to (N, C, H - 4, W - 4) with valid convs.
VARIANTS = {"5x5": [(5, 5)], "two 3x3": [(3, 3), (3, 3)], "1x5 + 5x1": [(1, 5), (5, 1)]}


def layer_costs(kernels, batch, channels, size):
    """(parameters, FLOPs) of a stack of channels -> channels valid convs without bias, built as engine layers.

    Parameters are counted on the engine's nn.Conv2d modules, FLOPs from the geometry of their weights.
    """
    from engine import nn
    shape, params, flops = (batch, channels, size, size), 0, 0
    for kernel in kernels:
        layer = nn.Conv2d(channels, channels, kernel, bias=False)
        params += sum(p.numel() for p in layer.parameters())
        geom = shapes.conv_geometry(shape, layer.weight.shape, 2)
        flops += geom.flops
        shape = geom.output_shape
    return params, flops


def compose_kernels(w1, w2):
    """The one kernel equal to conv2d(conv2d(x, w1), w2) with valid padding.

    w1 (M, C, a, b), w2 (K, M, c, d) -> (K, C, a + c - 1, b + d - 1): correlating with
    w1 then w2 is correlating with their full convolution, summed over the middle channels M.
    """
    k, m = w2.shape[:2]
    c = w1.shape[1]
    out = np.zeros((k, c, w1.shape[2] + w2.shape[2] - 1, w1.shape[3] + w2.shape[3] - 1), w1.dtype)
    for o in range(k):
        for i in range(c):
            for j in range(m):
                out[o, i] += ops.convolve(w1[j, i], w2[o, j], mode="full")
    return out


def composition_errors(rng, dtype):
    """Max |two 3x3 convs - one composed 5x5 conv| relative to the output's scale, in several settings."""
    x = rng.standard_normal((2, 3, 24, 24)).astype(dtype)
    w1 = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    b1 = rng.standard_normal(4).astype(dtype)
    w2 = rng.standard_normal((5, 4, 3, 3)).astype(dtype)
    b2 = rng.standard_normal(5).astype(dtype)
    w = compose_kernels(w1, w2)
    b = b2 + np.einsum("kmhw,m->k", w2, b1)  # the first bias passes through the second conv as a constant
    two = ops.conv2d(ops.conv2d(x, w1, b1), w2, b2)
    one = ops.conv2d(x, w, b)
    scale = float(np.abs(one).max())
    padded_two = ops.conv2d(ops.conv2d(x, w1, b1, padding=1), w2, b2, padding=1)
    padded_one = ops.conv2d(x, w, b, padding=2)
    border = np.abs(padded_two - padded_one)
    relu_two = ops.conv2d(np.maximum(ops.conv2d(x, w1, b1), 0), w2, b2)
    return {"valid": float(np.abs(two - one).max()) / scale,
            "same, interior": float(border[..., 2:-2, 2:-2].max()) / scale,
            "same, border": float(border.max()) / scale,
            "valid, ReLU between": float(np.abs(relu_two - one).max()) / scale,
            "kernel": w[0, 0]}


def rank1(kernel):
    """Best rank-1 approximation column x row (Eckart-Young) and the singular values."""
    u, s, vt = np.linalg.svd(kernel)
    return np.sqrt(s[0]) * u[:, 0], np.sqrt(s[0]) * vt[0], s


def laplacian_of_gaussian(size=5, sigma=1.0):
    t = np.arange(size) - (size - 1) / 2
    r2 = t[:, None] ** 2 + t[None, :] ** 2
    k = (r2 / (2 * sigma ** 2) - 1) * np.exp(-r2 / (2 * sigma ** 2))
    return k - k.mean()


def separable_fits(rng, image, random_trials):
    """Relative Frobenius error of the rank-1 fit, and of its 5x1-then-1x5 filtering of `image`."""
    binomial = np.array([1.0, 4.0, 6.0, 4.0, 1.0])
    kernels = {"gaussian (binomial)": np.outer(binomial, binomial) / 256,
               "sobel 5x5": np.outer([1, 4, 6, 4, 1], [1, 2, 0, -2, -1]).astype(float),
               "laplacian of gaussian": laplacian_of_gaussian(),
               "random": rng.standard_normal((5, 5))}
    fits = {}
    for name, k in kernels.items():
        col, row, s = rank1(k)
        full = ops.correlate(image, k, mode="valid")
        separable = ops.correlate(ops.correlate(image, col[:, None], mode="valid"), row[None, :], mode="valid")
        fits[name] = {"kernel": k, "approx": np.outer(col, row), "singular": s,
                      "kernel_error": float(np.linalg.norm(k - np.outer(col, row)) / np.linalg.norm(k)),
                      "output_error": float(np.linalg.norm(full - separable) / np.linalg.norm(full))}
    errors = [np.sqrt(1 - s[0] ** 2 / np.sum(s ** 2))
              for s in np.linalg.svd(rng.standard_normal((random_trials, 5, 5)), compute_uv=False)]
    fits["random"]["mean_over_trials"] = float(np.mean(errors))
    return fits


def median_times(fns, repeats):
    """Median seconds of each function; the runs are interleaved so that load changes hit all alike."""
    for fn in fns.values():
        fn()  # warm-up: first-call allocations and lazy imports
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def timings(rng, batch, channels, size, image, repeats):
    """Median seconds of each variant as a float32 conv layer stack, and as filters of one grey image."""
    x = rng.standard_normal((batch, channels, size, size)).astype(np.float32)
    weights = {name: [rng.standard_normal((channels, channels) + k).astype(np.float32) for k in kernels]
               for name, kernels in VARIANTS.items()}

    def stack(ws):
        def run():
            y = x
            for w in ws:
                y = ops.conv2d(y, w)
            return y
        return run

    layer = median_times({name: stack(ws) for name, ws in weights.items()}, repeats)
    k5, k3, col, row = (rng.standard_normal(s) for s in [(5, 5), (3, 3), (5, 1), (1, 5)])
    filters = {"5x5": lambda: ops.correlate(image, k5, mode="valid", method="direct"),
               "two 3x3": lambda: ops.correlate(ops.correlate(image, k3, mode="valid", method="direct"), k3,
                                                mode="valid", method="direct"),
               "1x5 + 5x1": lambda: ops.correlate(ops.correlate(image, row, mode="valid", method="direct"), col,
                                                  mode="valid", method="direct")}
    return layer, median_times(filters, repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--channels", type=int, default=64, help="input = output channels of the conv layers")
    parser.add_argument("--size", type=int, default=56, help="input height = width of the conv layers")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per variant (the median is printed)")
    parser.add_argument("--random-trials", type=int, default=10000, help="random 5x5 kernels for the mean rank-1 error")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for factorized_separable.png")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    from skimage import data
    image = data.camera().astype(np.float64) / 255

    print(f"1. cost of a {args.channels} -> {args.channels} channel layer on {args.batch}x{args.channels}x{args.size}x{args.size} "
          f"(valid convs, all end at {args.size - 4}x{args.size - 4}; no bias)")
    costs = {}
    for name, kernels in VARIANTS.items():
        params, flops = layer_costs(kernels, args.batch, args.channels, args.size)
        costs[name] = {"params": params, "flops": flops, "per_filter": sum(k[0] * k[1] for k in kernels)}
        print(f"   {name:<10} weights per filter pair {costs[name]['per_filter']:>3}, parameters {params:>8,}, "
              f"GFLOPs {flops / 1e9:6.3f} ({flops / costs['5x5']['flops']:.2f} x 5x5)")

    print("2. two 3x3 convs vs one 5x5 conv with the composed kernel (max error / max |output|)")
    identity = {str(np.dtype(dtype)): composition_errors(rng, dtype) for dtype in (np.float64, np.float32)}
    for dtype, errors in identity.items():
        print(f"   {dtype}: " + ", ".join(f"{k} {v:.2g}" for k, v in errors.items() if k != "kernel"))

    fits = separable_fits(rng, image, args.random_trials)
    print("3. rank-1 (1x5 then 5x1) approximation by SVD: relative error of the kernel / of the filtered camera image")
    for name, fit in fits.items():
        s = fit["singular"]
        print(f"   {name:<22} kernel {fit['kernel_error']:.3g}, image {fit['output_error']:.3g}, "
              f"singular values {np.array2string(s / s[0], precision=3)} (x s0)")
    print(f"   mean kernel error over {args.random_trials} random 5x5 kernels: {fits['random']['mean_over_trials']:.3f}")
    print("   (the LoG sums to 0 and blocks the image's mean brightness; its rank-1 fit does not, hence the image error)")

    layer, filters = timings(rng, args.batch, args.channels, args.size, image, args.repeats)
    print(f"4. CPU time, median of {args.repeats} runs")
    for name in VARIANTS:
        print(f"   {name:<10} conv layer (float32, ops.conv2d) {layer[name] * 1e3:8.2f} ms  (speed-up {layer['5x5'] / layer[name]:.2f})"
              f" | {image.shape[0]}x{image.shape[1]} image filter (float64, ops.correlate direct) {filters[name] * 1e3:7.2f} ms"
              f"  (speed-up {filters['5x5'] / filters[name]:.2f})")

    fig, axes = plt.subplots(2, 4, figsize=(17, 8))
    names = list(VARIANTS)
    for ax, values, title in [(axes[0, 0], [costs[n]["params"] for n in names], "parameters"),
                              (axes[0, 1], [costs[n]["flops"] / 1e9 for n in names], "GFLOPs"),
                              (axes[0, 2], [layer[n] * 1e3 for n in names], "conv layer time (ms)"),
                              (axes[0, 3], [filters[n] * 1e3 for n in names], "image filter time (ms)")]:
        ax.bar(names, values, color=["tab:blue", "tab:orange", "tab:green"])
        ax.set_title(title)
    kernel_panels = [("composed 5x5 = w1 * w2\n(two 3x3 kernels, full convolution)", identity["float64"]["kernel"]),
                     ("random 5x5 kernel", fits["random"]["kernel"]),
                     (f"its rank-1 fit (error {fits['random']['kernel_error']:.2f})", fits["random"]["approx"])]
    limit = max(np.abs(k).max() for _, k in kernel_panels)
    for ax, (title, k) in zip(axes[1, :3], kernel_panels):
        ax.imshow(k, cmap="RdBu", vmin=-limit, vmax=limit)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    for name, fit in fits.items():
        axes[1, 3].semilogy(range(1, 6), np.maximum(fit["singular"] / fit["singular"][0], 1e-17), "o-", label=name)
    axes[1, 3].set_title("singular values / largest (rank-1 exact when the rest vanish)", fontsize=9)
    axes[1, 3].set_xlabel("index")
    axes[1, 3].legend(fontsize=8)
    _common.save_figure(fig, args.out, "factorized_separable.png")
    return {"costs": costs, "identity": identity, "fits": fits, "layer_time": layer, "filter_time": filters}


if __name__ == "__main__":
    main()
