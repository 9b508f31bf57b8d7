"""What strided pooling does to an image's frequencies: max and average pooling alias, blurring first mostly does not.

The lecture: "striding ignores the Nyquist sampling theorem and aliases"
(Zhang, ICML 2019). Subsampling by 2 halves the Nyquist frequency to 0.25
cycles per input pixel; whatever the pooling lets through above it folds back
onto lower frequencies. This script pools with stride 2 by max-pooling
(`ops.max_pool2d`), average pooling (`ops.avg_pool2d`), blur-pooling
(`ops.blur_pool2d`, 3- and 5-tap binomial filters) and Zhang's MaxBlurPool
(max over 2 at stride 1, then the 3-tap blur at stride 2), and measures:

1. gratings: a vertical cosine of f cycles per pixel, pooled; the amplitude of
   the component that comes out at the alias frequency 0.5 - f (in input
   units) for f above the new Nyquist frequency, relative to the input's;
2. a photograph (scikit-image's camera): the aliased share of each pooled
   image, ||P(x) - P(x_low)|| / ||P(x)||, where x_low is x with every
   frequency above 0.25 cycles per pixel removed (an ideal low-pass in the
   FFT): what the frequencies the subsampled grid cannot hold change in the
   output;
3. the spectra of a zone plate (a chirp whose local frequency grows from 0 at
   the centre to the Nyquist frequency, 0.5 cycles per pixel, at the border) before and after each pooling, drawn.

Run: python examples/aliasing.py [--size S] [--out DIR]; writes aliasing.png.
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
FREQUENCIES = (0.05, 0.15, 0.3, 0.375, 0.45)
POOLS = {
    "max": lambda x: ops.max_pool2d(x, 2),
    "avg": lambda x: ops.avg_pool2d(x, 2),
    "blur3": lambda x: ops.blur_pool2d(x, 3, 2),
    "blur5": lambda x: ops.blur_pool2d(x, 5, 2),
    "maxblur3": lambda x: ops.blur_pool2d(ops.max_pool2d(np.pad(x, ((0, 0), (0, 0), (0, 1), (0, 1)), mode="edge"), 2, 1),
                                          3, 2),
}


def grating(size, frequency):
    """(1, 1, size, size): cos(2 pi f column), constant down the rows."""
    return np.ascontiguousarray(np.broadcast_to(np.cos(2 * np.pi * frequency * np.arange(size)), (1, 1, size, size)))


def amplitude_at(image, frequency):
    """Amplitude of the cosine of `frequency` (cycles per pixel of `image`) along its columns: the least-squares fit
    of a cos(2 pi f n) + b sin(2 pi f n) + c to the mean row (exact for a pure tone, unlike reading an FFT bin)."""
    row = image[0, 0].mean(axis=0)
    phase = 2 * np.pi * frequency * np.arange(len(row))
    basis = np.stack([np.cos(phase), np.sin(phase), np.ones_like(phase)], axis=1)
    (a, b, _), *_ = np.linalg.lstsq(basis, row, rcond=None)
    return float(np.hypot(a, b))


def grating_response(size):
    """{pool: {f: (amplitude at f or at its alias, the frequency it comes out at, in input cycles per pixel)}}."""
    results = {}
    for name, pool in POOLS.items():
        results[name] = {}
        for f in FREQUENCIES:
            out_frequency = f if f < 0.25 else 0.5 - f  # in cycles per input pixel
            results[name][f] = (amplitude_at(pool(grating(size, f)), 2 * out_frequency), out_frequency)
    return results


def low_pass(image, cutoff=0.25):
    """Remove every frequency at or above `cutoff` cycles per pixel (along either axis), by FFT."""
    spectrum = np.fft.fft2(image)
    rows, cols = (np.abs(np.fft.fftfreq(n))[:, None] for n in image.shape[-2:])
    keep = (rows < cutoff) & (cols.T < cutoff)
    return np.ascontiguousarray(np.fft.ifft2(spectrum * keep).real)


def aliased_share(image):
    """{pool: ||P(x) - P(x_low)|| / ||P(x)||} for a (size, size) image."""
    x, x_low = image[None, None], low_pass(image)[None, None]
    return {name: float(np.linalg.norm(pool(x) - pool(x_low)) / np.linalg.norm(pool(x))) for name, pool in POOLS.items()}


def zone_plate(size):
    """cos(pi r^2 / size) around the centre: local frequency r / size, from 0 to 0.5 cycles per pixel at the border."""
    u = np.arange(size) - size / 2
    r2 = u[:, None] ** 2 + u[None, :] ** 2
    return np.cos(np.pi * r2 / size)


def log_spectrum(image):
    return np.log10(np.abs(np.fft.fftshift(np.fft.fft2(image - image.mean()))) + 1e-3)


def load_photo(size):
    from skimage import data
    image = data.camera().astype(np.float64) / 255
    step = max(1, 512 // size)
    return np.ascontiguousarray(image[::step, ::step][:size, :size])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="side of the test images (even)")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for aliasing.png")
    args = parser.parse_args(argv)

    gratings = grating_response(args.size)
    print("1. a cosine grating of f cycles/pixel pooled with stride 2: output amplitude (input 1) at f, or for f above "
          "0.25 at its alias 0.5 - f")
    print("   f       " + "  ".join(f"{name:>9}" for name in POOLS))
    for f in FREQUENCIES:
        alias = gratings["max"][f][1]
        label = f"{f:.3f}" if f < 0.25 else f"{f:.3f}->{alias:.3f}"
        print(f"   {label:<12}" + "  ".join(f"{gratings[name][f][0]:9.3f}" for name in POOLS))

    photo = load_photo(args.size)
    shares = aliased_share(photo)
    print(f"2. a {args.size}x{args.size} photograph: aliased share ||P(x) - P(x_low)|| / ||P(x)|| "
          f"(x_low: x without its frequencies >= 0.25 cycles/pixel)")
    print("   " + ", ".join(f"{name} {share:.3f}" for name, share in shares.items()))

    plate = zone_plate(args.size)
    images = [("input", plate, photo)] + [(name, pool(plate[None, None])[0, 0], pool(photo[None, None])[0, 0])
                                          for name, pool in POOLS.items()]
    fig, axes = plt.subplots(2, len(images), figsize=(3.2 * len(images), 6.8))
    for column, (name, pooled_plate, pooled_photo) in enumerate(images):
        axes[0, column].imshow(pooled_plate, cmap="gray")
        axes[1, column].imshow(log_spectrum(pooled_photo), cmap="magma", vmin=-1)
        axes[0, column].set_title(f"{name}" + ("" if column == 0 else ", stride 2"), fontsize=10)
        axes[1, column].set_title("photo, log |FFT|" + ("" if column == 0 else f": aliased {shares[name]:.3f}"),
                                  fontsize=9)
        for ax in axes[:, column]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("top: a zone plate (local frequency 0 at the centre, 0.5 cycles/pixel at the edge); after stride 2 "
                 "everything from 0.25 up folds back (the rings beyond mid-radius are aliases). bottom: the photograph's "
                 "spectrum (centre: low frequencies)", fontsize=10)
    _common.save_figure(fig, args.out, "aliasing.png")
    return {"gratings": gratings, "aliased_share": shares}


if __name__ == "__main__":
    main()
