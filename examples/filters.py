"""Classic image filters on the lecture's cat, with correlation vs true convolution.

The lecture: convolution is correlation with the kernel flipped, so "for real
functions it differs from cross-correlation only in that one function is
reflected". This script filters a photograph (scikit-image's `chelsea`) with
edge detection, sharpen and Gaussian blur kernels through `ops.correlate` and
`ops.convolve`, and measures where the flip matters:

- symmetric kernels (edge, sharpen, Gaussian): flip(k) == k, the two results
  are identical (max difference 0);
- Sobel is antisymmetric (flip(k) == -k): convolution gives the negative of
  correlation (max |corr + conv| = 0);
- a one-hot kernel off the centre moves the image: correlation and convolution
  move it in opposite directions (mirror images of one another).

Run: python examples/filters.py [--size N] [--out DIR]; writes filters.png.
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

OUT = _common.OUT

EDGE = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], float)
SHARPEN = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], float)
SOBEL_X = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], float)


def gaussian_kernel(size=7, sigma=1.5):
    """Normalised size x size Gaussian: symmetric, so correlation and convolution agree."""
    t = np.arange(size) - (size - 1) / 2
    g = np.exp(-t ** 2 / (2 * sigma ** 2))
    return np.outer(g, g) / g.sum() ** 2


def shift_kernel(size=25):
    """A one-hot kernel at the top-left corner: correlating with it moves the image by size // 2 pixels."""
    k = np.zeros((size, size))
    k[0, 0] = 1.0
    return k


def load_cat(size=None):
    """scikit-image's `chelsea` as a grey float64 image in [0, 1], centre-cropped to size x size if given."""
    from skimage import color, data
    image = color.rgb2gray(data.chelsea())
    if size:
        top, left = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
        image = image[top:top + size, left:left + size]
    return np.ascontiguousarray(image)


def max_abs(a):
    return float(np.abs(a).max())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=None, help="centre-crop the photograph to SIZE x SIZE")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for filters.png")
    args = parser.parse_args(argv)

    image = load_cat(args.size)
    kernels = {"edge": EDGE, "sharpen": SHARPEN, "gaussian blur": gaussian_kernel(),
               "sobel x": SOBEL_X, "shift": shift_kernel()}
    results = {}
    print(f"image {image.shape}, 'same' mode")
    print(f"{'kernel':<14} {'symmetric':>9} {'max|corr-conv|':>15} {'max|corr+conv|':>15} {'max|conv-corr(flip k)|':>23}")
    for name, k in kernels.items():
        corr = ops.correlate(image, k, mode="same")
        conv = ops.convolve(image, k, mode="same")
        flipped = ops.correlate(image, np.flip(k), mode="same")
        row = {"corr": corr, "conv": conv, "symmetric": bool(np.array_equal(k, np.flip(k))),
               "diff": max_abs(corr - conv), "sum": max_abs(corr + conv), "flip_identity": max_abs(conv - flipped)}
        results[name] = row
        print(f"{name:<14} {str(row['symmetric']):>9} {row['diff']:>15.3g} {row['sum']:>15.3g} {row['flip_identity']:>23.3g}")

    # The shift kernel's two results are the image moved by +-size//2: find each displacement by matching.
    half = kernels["shift"].shape[0] // 2
    inner = (slice(2 * half, -2 * half),) * 2
    for name in ("corr", "conv"):
        moved = results["shift"][name]
        errors = {(dy, dx): max_abs(moved[inner] - np.roll(image, (dy, dx), axis=(0, 1))[inner])
                  for dy in (-half, half) for dx in (-half, half)}
        (dy, dx), _ = min(errors.items(), key=lambda item: item[1])
        results["shift"][name + "_displacement"] = (dy, dx)
        print(f"shift kernel: {name} moves the image by (dy, dx) = ({dy:+d}, {dx:+d})")

    # (title, picture, colour map, signed): signed maps are shown symmetric around 0.
    panels = [("original", image, "gray", False),
              ("edge (corr = conv)", results["edge"]["corr"], "gray", True),
              ("sharpen (corr = conv)", np.clip(results["sharpen"]["corr"], 0, 1), "gray", False),
              ("gaussian blur (corr = conv)", results["gaussian blur"]["corr"], "gray", False),
              ("sobel x: correlate", results["sobel x"]["corr"], "RdBu", True),
              ("sobel x: convolve = -correlate", results["sobel x"]["conv"], "RdBu", True),
              ("shift kernel: correlate", results["shift"]["corr"], "gray", False),
              ("shift kernel: convolve (mirrored shift)", results["shift"]["conv"], "gray", False)]
    fig, axes = plt.subplots(2, 4, figsize=(16, 7))
    for ax, (title, picture, cmap, signed) in zip(axes.flat, panels):
        if signed:  # zero padding makes strong edges at the border: scale to the interior's range
            limit = float(np.percentile(np.abs(picture), 99.5))
            ax.imshow(picture, cmap=cmap, vmin=-limit, vmax=limit)
        else:
            ax.imshow(picture, cmap=cmap, vmin=0, vmax=1)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    _common.save_figure(fig, args.out, "filters.png")
    return results


if __name__ == "__main__":
    main()
