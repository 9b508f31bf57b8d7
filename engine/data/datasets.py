"""Datasets that need no download: scikit-learn's bundled digits and MNIST-1D generated locally.

Both need an optional package (pip install "convref[examples]"); each returns
((x_train, y_train), (x_test, y_test)) with x float32 (N, 1, *spatial) and y int64.
"""
import numpy as np


def _require(module, function):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as error:
        raise ImportError(f"engine.data.{function} needs the {module.split('.')[0]!r} package "
                          f"(pip install \"convref[examples]\")") from error


def load_digits(test_fraction=0.2, seed=0):
    """The 1,797 8x8 handwritten digits bundled with scikit-learn, scaled to [0, 1]: x (N, 1, 8, 8).

    A random split (fixed by `seed`) puts round(test_fraction * 1797) images in the test set.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    digits = _require("sklearn.datasets", "load_digits").load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = round(test_fraction * len(x))
    test, train = order[:n_test], order[n_test:]
    return (x[train], y[train]), (x[test], y[test])


def load_mnist1d():
    """MNIST-1D (Greydanus 2020) generated on the spot with its default arguments: 4,000 train and
    1,000 test signals of length 40, x (N, 1, 40). Uses make_dataset, never the downloading get_dataset."""
    data = _require("mnist1d.data", "load_mnist1d")
    generated = data.make_dataset(data.get_dataset_args())
    as_x = lambda a: np.asarray(a, np.float32)[:, None]  # noqa: E731
    return ((as_x(generated["x"]), np.asarray(generated["y"], np.int64)),
            (as_x(generated["x_test"]), np.asarray(generated["y_test"], np.int64)))
