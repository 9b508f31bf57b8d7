"""Convolution is shift-equivariant; strided max-pooling breaks it; blurring before subsampling restores much of it.

The lecture: a conv layer's output shifts with its input (S o f = f o S), and
max-pooling is said to add approximate shift invariance; "but striding ignores
the Nyquist sampling theorem and aliases" (Zhang, Making Convolutional
Networks Shift-Invariant Again, ICML 2019): the toy signal 0,0,1,1,0,0,1,1
max-pooled before and after a one-sample shift gives two very different
signals. This script measures:

1. conv equivariance: max |f(S x) - S f(x)| for `ops.conv2d` under circular
   shifts (circular padding emulated by np.pad(mode="wrap") + a valid conv);
2. the toy signal pooled with stride 2 before and after a one-sample shift,
   by max-pooling (`ops.max_pool1d`), average pooling and Zhang's MaxBlurPool
   (max over 2 at stride 1, then `ops.blur_pool1d`);
3. the same on conv features of a photograph: the equivariance error of each
   stride-2 pooling for shifts of 1 and 2 pixels (a stride-2 map can follow
   even shifts exactly; odd ones show the aliasing);
4. Zhang's consistency: how often one small CNN trained on scikit-learn's
   digits, with max-, average- or blur-pooling, predicts the same class for two
   random shifts of a test image.

Pooling is made circular here so that borders play no part: the signals are
periodic and every shift is a rotation.

Run: python examples/shift_equivariance.py [--epochs E] [--seeds K] [--max-shift P] [--out DIR];
writes shift_equivariance.png.
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

TOY = np.array([0, 0, 1, 1] * 4, float)
POOLS = ("max", "avg", "maxblur3", "maxblur5")


def circular_conv2d(x, w):
    """conv2d with circular padding: wrap the (N, C, H, W) input by half the odd kernel, then a valid conv."""
    ph, pw = w.shape[2] // 2, w.shape[3] // 2
    return ops.conv2d(np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), mode="wrap"), w)


def _wrap(x, before, after):
    """np.pad(mode='wrap') on the spatial (last 1 or 2) axes of an (N, C, ...) array."""
    return np.pad(x, ((0, 0), (0, 0)) + ((before, after),) * (x.ndim - 2), mode="wrap")


def circular_pool(x, kind):
    """Stride-2 pooling of a periodic (N, C, L) or (N, C, H, W) signal of even sides.

    kind: 'max', 'avg', or 'maxblur3' / 'maxblur5' (Zhang's MaxBlurPool with a 3- or 5-tap binomial blur).
    blur_pool reflects at the border; wrapping by an even width W >= filt_size first and keeping
    outputs W/2 .. W/2 + L/2 - 1 makes it circular: output j is centred on input sample 2j.
    """
    pools = {1: (ops.max_pool1d, ops.avg_pool1d, ops.blur_pool1d), 2: (ops.max_pool2d, ops.avg_pool2d, ops.blur_pool2d)}
    max_pool, avg_pool, blur_pool = pools[x.ndim - 2]
    if kind == "max":
        return max_pool(x, 2)
    if kind == "avg":
        return avg_pool(x, 2)
    if kind not in ("maxblur3", "maxblur5"):
        raise ValueError(f"unknown pooling {kind!r}")
    filt_size = int(kind[-1])
    width = filt_size + filt_size % 2
    dense_max = max_pool(_wrap(x, 0, 1), 2, 1)  # MaxBlurPool: max over 2 at stride 1 ...
    blurred = blur_pool(_wrap(dense_max, width, width), filt_size, 2)  # ... then a binomial blur, subsampled by 2
    keep = tuple(slice(width // 2, width // 2 + n // 2) for n in x.shape[2:])
    return np.ascontiguousarray(blurred[(Ellipsis,) + keep])


def shift(x, offsets):
    """Circular shift of the last len(offsets) axes."""
    return np.roll(x, offsets, axis=tuple(range(-len(offsets), 0)))


def conv_equivariance(rng, image, shifts=8):
    """Max over random circular shifts of |conv(S x) - S conv(x)|, relative to max |conv(x)|, float64 and float32."""
    errors = {}
    for dtype in (np.float64, np.float32):
        x = image[None, None].astype(dtype)
        w = rng.standard_normal((4, 1, 5, 5)).astype(dtype)
        y = circular_conv2d(x, w)
        worst = 0.0
        for _ in range(shifts):
            offsets = tuple(int(v) for v in rng.integers(-image.shape[0] // 2, image.shape[0] // 2, size=2))
            worst = max(worst, float(np.abs(circular_conv2d(shift(x, offsets), w) - shift(y, offsets)).max()))
        errors[str(np.dtype(dtype))] = worst / float(np.abs(y).max())
    return errors


def toy_signal():
    """The lecture's 0,0,1,1,... pooled before and after one-sample shifts: {kind: (pooled, pooled shift 1, pooled shift 2)}."""
    x = TOY[None, None]
    return {kind: tuple(circular_pool(shift(x, (s,)), kind)[0, 0] for s in (0, 1, 2)) for kind in POOLS}


def pooled_equivariance(rng, image):
    """Relative error of stride-2 pooling of ReLU(conv) features under 1- and 2-pixel shifts.

    A stride-2 map can at best move by half the input's shift: for a shift of s pixels along x
    the error is min over t in {floor(s/2), ceil(s/2)} of ||P(S_s x) - S_t P(x)|| / ||P(x)||.
    """
    x = image[None, None]
    w = rng.standard_normal((8, 1, 5, 5))

    def features(img):
        return np.maximum(circular_conv2d(img, w), 0)

    errors = {}
    for kind in POOLS:
        base = circular_pool(features(x), kind)
        errors[kind] = {}
        for s in (1, 2):
            moved = circular_pool(features(shift(x, (0, s))), kind)
            errors[kind][s] = min(float(np.linalg.norm(moved - shift(base, (0, t))) / np.linalg.norm(base))
                                  for t in {s // 2, (s + 1) // 2})
    return errors


CNN_POOLS = {"max": lambda nn: nn.MaxPool2d(2), "avg": lambda nn: nn.AvgPool2d(2),
             "maxblur3": lambda nn: nn.BlurPool2d(3, 2, max_pool=True)}


def on_canvas(digits, offsets, canvas):
    """(N, 1, 8, 8) digits centred on a canvas x canvas zero image, then image n circularly shifted by offsets[n]."""
    n, side = len(digits), digits.shape[-1]
    margin = (canvas - side) // 2
    centred = np.zeros((n, 1, canvas, canvas), np.float32)
    centred[:, :, margin:margin + side, margin:margin + side] = digits
    rows = (np.arange(canvas)[None, :] - offsets[:, :1]) % canvas  # (N, canvas): source row of each target row
    cols = (np.arange(canvas)[None, :] - offsets[:, 1:]) % canvas
    return np.ascontiguousarray(centred[np.arange(n)[:, None, None], 0, rows[:, :, None], cols[:, None, :]][:, None])


def small_cnn(nn, pool):
    """conv 3x3 (8) - ReLU - pool - conv 3x3 (16) - ReLU - pool - linear, for 1 x 16 x 16 inputs."""
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), CNN_POOLS[pool](nn),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), CNN_POOLS[pool](nn),
                         nn.Flatten(), nn.Linear(16 * 4 * 4, 10))


def train_and_measure(pool, seed, train, test_views, args):
    """Train small_cnn(pool) on randomly shifted digits; return its accuracy and consistency on test_views.

    test_views: (centred images, labels, first shifted copies, second shifted copies, their labels).
    Every pooling sees the same initial weights, augmentation and batch order for a given seed.
    """
    import engine as E
    from engine import nn, optim
    from engine.data import DataLoader

    (x_train, y_train), (centred, y_test, first, second, y_pairs) = train, test_views
    rng = np.random.default_rng(seed)
    E.manual_seed(seed)
    model = small_cnn(nn, pool)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    for _ in range(args.epochs):
        shifted = on_canvas(x_train, rng.integers(-args.max_shift, args.max_shift + 1, (len(x_train), 2)), 16)
        for x, y in DataLoader(shifted, y_train, batch_size=args.batch, shuffle=True):
            loss = E.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with E.no_grad():
        def predict(images):
            return model(E.tensor(images)).numpy().argmax(axis=1)
        p_first, p_second = predict(first), predict(second)
        return {"accuracy": float(np.mean(predict(centred) == y_test)),
                "shifted_accuracy": float(np.mean(p_first == y_pairs)),
                "consistency": float(np.mean(p_first == p_second))}


def consistency(args):
    """Zhang's consistency of one small CNN per pooling: the share of (test image, two random shifts)
    pairs given the same class, with accuracies; means over args.seeds trainings.

    Returns {pool: {"accuracy", "shifted_accuracy", "consistency", "consistency_std", "seconds"}}.
    """
    import time

    from engine.data import load_digits

    (x_train, y_train), (x_test, y_test) = load_digits()
    train = (x_train[:args.train_size], y_train[:args.train_size])
    rng = np.random.default_rng(12345)
    pairs = np.repeat(np.arange(len(x_test)), args.pairs)
    first, second = (on_canvas(x_test[pairs], rng.integers(-args.max_shift, args.max_shift + 1, (len(pairs), 2)), 16)
                     for _ in range(2))
    test_views = (on_canvas(x_test, np.zeros((len(x_test), 2), int), 16), y_test, first, second, y_test[pairs])
    results = {}
    for pool in CNN_POOLS:
        start = time.perf_counter()
        runs = [train_and_measure(pool, seed, train, test_views, args) for seed in range(args.seeds)]
        results[pool] = {key: float(np.mean([r[key] for r in runs])) for key in runs[0]}
        results[pool]["consistency_std"] = float(np.std([r["consistency"] for r in runs]))
        results[pool]["collapsed"] = sum(r["accuracy"] < 0.2 for r in runs)
        results[pool]["seconds"] = time.perf_counter() - start
    return results


def load_image(size):
    """A size x size grey crop of scikit-image's camera (the cameraman), float64 in [0, 1]."""
    from skimage import data
    image = data.camera().astype(np.float64) / 255
    step = max(1, 256 // size)
    return np.ascontiguousarray(image[100:100 + size * step:step, 120:120 + size * step:step])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128, help="side of the photograph crop (even)")
    parser.add_argument("--epochs", type=int, default=5, help="training epochs per CNN (0 skips the CNN part)")
    parser.add_argument("--max-shift", type=int, default=1, help="random shifts are in [-max_shift, max_shift] pixels")
    parser.add_argument("--pairs", type=int, default=5, help="random shift pairs per test image")
    parser.add_argument("--seeds", type=int, default=1, help="trainings per pooling (the mean is printed)")
    _common.training_options(parser, lr=5e-3, out_name="shift_equivariance.png")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    image = load_image(args.size)

    equivariance = conv_equivariance(rng, image)
    print(f"1. conv is shift-equivariant: max |conv(S x) - S conv(x)| / max |conv(x)| over random circular shifts "
          f"of a {image.shape[0]}x{image.shape[1]} image: " + ", ".join(f"{k} {v:.2g}" for k, v in equivariance.items()))

    toy = toy_signal()
    print(f"2. the toy signal {TOY.astype(int).tolist()} pooled with stride 2, before / after a one-sample shift")
    toy_change = {}
    for kind, (before, after, after2) in toy.items():
        toy_change[kind] = float(np.abs(after - before).max())
        print(f"   {kind:<8} {np.array2string(before[:4], precision=2)} / {np.array2string(after[:4], precision=2)}  "
              f"max change {toy_change[kind]:.2f}; a two-sample shift only moves it: "
              f"{np.abs(after2 - shift(before, (1,))).max():.2g}")

    pooled = pooled_equivariance(rng, image)
    print("3. stride-2 pooling of ReLU(conv) features: relative equivariance error for a shift of 1 / 2 pixels")
    for kind, errors in pooled.items():
        print(f"   {kind:<8} {errors[1]:.3f} / {errors[2]:.2g}")

    cnn = consistency(args) if args.epochs else {}
    if cnn:
        print(f"4. one small CNN per pooling, trained {args.epochs} epochs on the digits (16x16 canvas, random shifts "
              f"up to {args.max_shift} px), mean of {args.seeds} seed(s); consistency over {args.pairs} random shift "
              f"pairs per test image")
        for pool, row in cnn.items():
            spread = f" +- {row['consistency_std']:.1%}" if args.seeds > 1 else ""
            print(f"   {pool:<8} consistency {row['consistency']:.1%}{spread}, accuracy centred {row['accuracy']:.1%}, "
                  f"shifted {row['shifted_accuracy']:.1%}  (trained in {row['seconds']:.1f} s)"
                  + (f"  [{row['collapsed']} model(s) near chance: they predict almost one class]" if row["collapsed"] else ""))

    fig, axes = plt.subplots(2, 4, figsize=(18, 7.5))
    axes = axes.ravel()
    axes[0].step(range(len(TOY)), TOY, where="mid", label="x")
    axes[0].step(range(len(TOY)), shift(TOY, (1,)), where="mid", linestyle="--", label="x shifted by 1")
    axes[0].set_title("the toy signal", fontsize=10)
    axes[0].legend(fontsize=8)
    for ax, kind in zip(axes[1:5], toy):
        before, after, _ = toy[kind]
        positions = np.arange(len(before)) * 2 + 0.5
        ax.step(positions, before, where="mid", label="pool(x)")
        ax.step(positions, after, where="mid", linestyle="--", label="pool(x shifted by 1)")
        ax.set_ylim(-0.1, 1.1)
        ax.set_title(f"{kind} pool, stride 2: max change {toy_change[kind]:.2f}", fontsize=10)
        ax.legend(fontsize=8)
    axes[5].bar(list(pooled), [pooled[k][1] for k in pooled], color="tab:purple")
    axes[5].set_title("ReLU(conv) features, stride-2 pool:\nrelative equivariance error, 1-pixel shift", fontsize=10)
    if cnn:
        names = list(cnn)
        axes[6].bar(names, [cnn[k]["consistency"] for k in names], color="tab:green")
        axes[6].set_ylim(0, 1)
        axes[6].set_title(f"trained CNN: consistency under shifts <= {args.max_shift} px", fontsize=10)
        axes[7].bar(names, [cnn[k]["shifted_accuracy"] for k in names], color="tab:gray")
        axes[7].set_ylim(0, 1)
        axes[7].set_title("trained CNN: accuracy on shifted test digits", fontsize=10)
    else:
        axes[6].axis("off")
        axes[7].axis("off")
    _common.save_figure(fig, args.out, "shift_equivariance.png")
    return {"conv_equivariance": equivariance, "toy": toy, "toy_change": toy_change, "pooled": pooled, "cnn": cnn}


if __name__ == "__main__":
    main()
