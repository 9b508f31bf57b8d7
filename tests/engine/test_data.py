"""engine.data: batching and shuffling arrays; the bundled digits and generated MNIST-1D."""
import numpy as np
import pytest

import engine as E
from engine.data import DataLoader


def test_batches_cover_the_data_in_order_without_shuffle():
    x, y = np.arange(10, dtype=np.float32).reshape(10, 1), np.arange(10)
    loader = DataLoader(x, y, batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [b[0].shape for b in batches] == [(4, 1), (4, 1), (2, 1)]
    assert all(isinstance(t, E.Tensor) and not t.requires_grad for b in batches for t in b)
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), y)
    assert len(DataLoader(x, batch_size=4, drop_last=True)) == 2
    assert [b[0].shape[0] for b in DataLoader(x, batch_size=4, drop_last=True)] == [4, 4]


def test_shuffle_is_a_fresh_permutation_each_epoch_and_seedable():
    x = np.arange(20)
    loader = DataLoader(x, batch_size=6, shuffle=True, generator=np.random.default_rng(0))
    first = np.concatenate([b[0].numpy() for b in loader])
    second = np.concatenate([b[0].numpy() for b in loader])
    assert sorted(first) == list(x) and sorted(second) == list(x) and not np.array_equal(first, second)
    E.manual_seed(5)
    a = np.concatenate([b[0].numpy() for b in DataLoader(x, batch_size=6, shuffle=True)])
    E.manual_seed(5)
    b = np.concatenate([b[0].numpy() for b in DataLoader(x, batch_size=6, shuffle=True)])
    np.testing.assert_array_equal(a, b)


def test_loader_argument_errors():
    with pytest.raises(ValueError, match="one length"):
        DataLoader(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(np.ones(3), batch_size=0)
    with pytest.raises(ValueError, match="at least one"):
        DataLoader()


def test_load_digits():
    pytest.importorskip("sklearn")
    (x, y), (xt, yt) = E.data.load_digits()
    assert x.shape == (1438, 1, 8, 8) and xt.shape == (359, 1, 8, 8)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0 and set(np.unique(y)) == set(range(10))
    (x2, _), _ = E.data.load_digits()
    np.testing.assert_array_equal(x, x2)  # the split is fixed by its seed
    with pytest.raises(ValueError, match="test_fraction"):
        E.data.load_digits(test_fraction=1.5)


def test_load_mnist1d():
    pytest.importorskip("mnist1d")
    (x, y), (xt, yt) = E.data.load_mnist1d()
    assert x.shape == (4000, 1, 40) and xt.shape == (1000, 1, 40) and y.shape == (4000,)
    assert x.dtype == np.float32 and y.dtype == np.int64 and set(np.unique(y)) == set(range(10))
