"""Find the face: sliding-window correlation vs normalised cross-correlation.

The lecture slides a template (a face cut from the image) over the image and
computes C[i, j] = sum_xy I[i + x, j + y] * K[x, y], then asks: "Do you think
that this will find George for us? No, this approach on its own is not robust
even if the kernel is directly taken from the original image."

This script measures why. Raw correlation grows with the brightness of the
window, so its peak lands on bright regions. Normalised cross-correlation
(NCC) divides each window's zero-mean correlation by the window's and the
template's energies, so it peaks where the pattern matches, whatever the local
brightness and contrast:

    NCC[i, j] = sum (I_w - mean I_w) (K - mean K) / (||I_w - mean I_w|| ||K - mean K||)

Every local sum is one `ops.correlate(..., mode="valid")`: with the zero-mean
template for the numerator, and with a box filter of ones over I and I**2 for
each window's mean and energy. The search image is the photograph plus
Gaussian noise, so the template is not a bit-exact copy.

Run: python examples/template_matching.py [--scale S] [--noise SIGMA] [--out DIR];
writes template_matching.png.
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
FACE = (80, 175, 80, 80)  # top, left, height, width of the astronaut's face in the 512x512 photograph


def load_scene(scale):
    """scikit-image's `astronaut` in grey, shrunk by an integer factor (block means), and the face box at that scale."""
    from skimage import color, data
    image = color.rgb2gray(data.astronaut())
    h, w = (s // scale * scale for s in image.shape)
    image = image[:h, :w].reshape(h // scale, scale, w // scale, scale).mean(axis=(1, 3))
    return np.ascontiguousarray(image), tuple(v // scale for v in FACE)


def raw_correlation(image, template):
    """The lecture's C[i, j]: the template's dot product with every window (top-left corner i, j)."""
    return ops.correlate(image, template, mode="valid")


def normalised_cross_correlation(image, template, eps=1e-12):
    """NCC of every valid window with the template, in [-1, 1]; windows of constant intensity get 0."""
    box = np.ones_like(template)
    n = template.size
    zero_mean = template - template.mean()
    window_sum = ops.correlate(image, box, mode="valid")
    window_energy = ops.correlate(image * image, box, mode="valid")
    centred_energy = np.maximum(window_energy - window_sum ** 2 / n, 0.0)  # sum (I_w - mean I_w)^2
    numerator = ops.correlate(image, zero_mean, mode="valid")  # sum I_w (K - mean K) = sum (I_w - mean) (K - mean)
    denominator = np.sqrt(centred_energy) * np.linalg.norm(zero_mean)
    return np.where(denominator > eps, numerator / np.maximum(denominator, eps), 0.0)


def peak(score):
    return tuple(int(v) for v in np.unravel_index(np.argmax(score), score.shape))


def near_mask(shape, centre, radius):
    """Mask of the positions within `radius` (Chebyshev) of `centre`."""
    rows, cols = np.indices(shape)
    return np.maximum(np.abs(rows - centre[0]), np.abs(cols - centre[1])) <= radius



def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1, help="shrink the 512x512 photograph by this integer factor")
    parser.add_argument("--noise", type=float, default=0.1, help="std of the Gaussian noise added to the search image")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for template_matching.png")
    args = parser.parse_args(argv)

    clean, (top, left, height, width) = load_scene(args.scale)
    template = np.ascontiguousarray(clean[top:top + height, left:left + width])
    image = clean + args.noise * np.random.default_rng(0).standard_normal(clean.shape)
    raw = raw_correlation(image, template)
    ncc = normalised_cross_correlation(image, template)
    truth, raw_peak, ncc_peak = (top, left), peak(raw), peak(ncc)
    brightness = ops.correlate(image, np.ones_like(template), mode="valid") / template.size

    print(f"image {image.shape} (noise std {args.noise}), template {template.shape} cut from the clean image")
    print(f"true location (top, left)     {truth}")
    print(f"raw correlation peak          {raw_peak}  (off by {np.hypot(*np.subtract(raw_peak, truth)):.1f} px; "
          f"window mean there {brightness[raw_peak]:.3f}, at the face {brightness[truth]:.3f}, image mean {image.mean():.3f})")
    print(f"normalised correlation peak   {ncc_peak}  (off by {np.hypot(*np.subtract(ncc_peak, truth)):.1f} px; "
          f"NCC there {ncc[ncc_peak]:.3f}, runner-up outside the face {np.max(np.where(near_mask(ncc.shape, truth, height // 2), -1, ncc)):.3f})")
    print(f"raw correlation at the face is {raw[truth] / raw.max():.3f} of its maximum; "
          f"{np.mean(raw > raw[truth]):.1%} of windows score higher")

    fig, axes = plt.subplots(1, 4, figsize=(17, 4.6), gridspec_kw={"width_ratios": [1, 0.35, 1, 1]})
    axes[0].imshow(image, cmap="gray", vmin=0, vmax=1)
    for (y, x), colour, label in [(truth, "lime", "true face"), (raw_peak, "red", "raw peak"), (ncc_peak, "cyan", "NCC peak")]:
        axes[0].add_patch(plt.Rectangle((x - 0.5, y - 0.5), width, height, fill=False, edgecolor=colour,
                                        linewidth=2, linestyle="--" if label == "NCC peak" else "-", label=label))
    axes[0].legend(loc="lower left", fontsize=8)
    axes[0].set_title("search image (+ noise)")
    axes[1].imshow(template, cmap="gray", vmin=0, vmax=1)
    axes[1].set_title("template")
    for ax, score, title, mark in [(axes[2], raw, "raw correlation", raw_peak), (axes[3], ncc, "normalised cross-correlation", ncc_peak)]:
        shown = ax.imshow(score, cmap="viridis")
        ax.plot(mark[1], mark[0], "r+", markersize=14, markeredgewidth=2)
        ax.set_title(f"{title}: peak at {mark}")
        fig.colorbar(shown, ax=ax, fraction=0.046)
    for ax in axes:
        ax.axis("off")
    _common.save_figure(fig, args.out, "template_matching.png")
    return {"truth": truth, "raw_peak": raw_peak, "ncc_peak": ncc_peak, "ncc": ncc, "raw": raw,
            "image": image, "template": template}


if __name__ == "__main__":
    main()
