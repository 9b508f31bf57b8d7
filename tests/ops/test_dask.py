"""ops.dask: each op over a chunked dask array gives the in-memory op's numbers, whatever the chunking
(chunks cut through the kernel's reach, odd sizes, chunks narrower than the halo), and refuses bad input."""
import subprocess
import sys

import numpy as np
import pytest
import scipy.signal

da = pytest.importorskip("dask.array")
import dask  # noqa: E402

import ops  # noqa: E402
import ops.dask  # noqa: E402
from tests.helpers import assert_close  # noqa: E402


@pytest.fixture(autouse=True)
def synchronous_on_one_thread():
    """Many tiny blocks: a parallel region's start costs more than the block (20 ms vs 1 ms on a busy 2 cores)."""
    threads = ops.get_num_threads()
    ops.set_num_threads(1)
    with dask.config.set(scheduler="synchronous"):
        yield
    ops.set_num_threads(threads)


CHUNKINGS_2D = [(7, 5), (3, 11), (2, 2), (13, 4)]


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("op", ["correlate", "convolve"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_signal_2d_matches_in_memory(rng, op, mode, dtype):
    image = rng.standard_normal((23, 19)).astype(dtype)
    for kernel_shape, chunks in zip([(5, 4), (3, 3), (6, 1), (2, 7)], CHUNKINGS_2D):
        kernel = rng.standard_normal(kernel_shape).astype(dtype)
        expected = getattr(ops, op)(image, kernel, mode)
        result = getattr(ops.dask, op)(da.from_array(image, chunks=chunks), kernel, mode)
        assert result.dtype == dtype
        assert_close(result.compute(), expected)
        assert_close(result.compute(), getattr(scipy.signal, op)(image, kernel, mode))


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_signal_1d_and_3d_and_fft_method(rng, mode):
    signal = rng.standard_normal(101)
    kernel = rng.standard_normal(9)
    result = ops.dask.correlate(da.from_array(signal, chunks=17), kernel, mode, method="fft")
    assert_close(result.compute(), ops.correlate(signal, kernel, mode))
    volume = rng.standard_normal((9, 10, 11))
    kernel3 = rng.standard_normal((3, 2, 4))
    result = ops.dask.convolve(da.from_array(volume, chunks=(4, 3, 5)), kernel3, mode)
    assert_close(result.compute(), ops.convolve(volume, kernel3, mode))


def test_kernel_larger_than_the_input_in_full_and_same(rng):
    image = rng.standard_normal((6, 9))
    kernel = rng.standard_normal((8, 3))
    for mode in ("full", "same"):
        result = ops.dask.correlate(da.from_array(image, chunks=(2, 4)), kernel, mode)
        assert_close(result.compute(), scipy.signal.correlate(image, kernel, mode))


def test_mixed_dtypes_promote_like_the_in_memory_op(rng):
    image = rng.standard_normal((12, 12)).astype(np.float32)
    kernel = rng.standard_normal((3, 3))
    result = ops.dask.correlate(da.from_array(image, chunks=5), kernel, "same")
    assert result.dtype == np.float64
    assert_close(result.compute(), ops.correlate(image, kernel, "same"))


CONV_CASES = [  # (x shape, weight shape, stride, padding, dilation, groups, chunks of H, W)
    ((2, 3, 17, 14), (4, 3, 3, 3), 1, 1, 1, 1, (5, 4)),
    ((1, 4, 19, 16), (6, 2, 3, 5), 2, (1, 2), 1, 2, (6, 5)),
    ((2, 2, 20, 21), (3, 2, 3, 3), (3, 2), 0, 2, 1, (7, 3)),
    ((1, 3, 15, 15), (2, 3, 4, 2), 1, "same", 1, 1, (4, 6)),
    ((1, 3, 16, 13), (3, 1, 5, 5), 2, 2, 1, 3, (3, 3)),
    ((3, 1, 12, 12), (2, 1, 1, 1), 3, 0, 1, 1, (5, 5)),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups, chunks", CONV_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_matches_in_memory(rng, dtype, x_shape, w_shape, stride, padding, dilation, groups, chunks):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    lazy = da.from_array(x, chunks=(1, 1) + chunks)  # channels in chunks too: each block reads them all
    result = ops.dask.conv2d(lazy, w, b, stride, padding, dilation, groups)
    expected = ops.conv2d(x, w, b, stride, padding, dilation, groups, algorithm="reference")
    assert result.shape == expected.shape
    assert_close(result.compute(), expected)


POOL_CASES = [  # (kernel_size, stride, padding, dilation, ceil_mode, chunks of H, W)
    (3, 2, 1, 1, False, (5, 4)),
    (2, None, 0, 1, True, (3, 7)),
    ((3, 2), (2, 1), (1, 0), (2, 1), True, (4, 4)),
    (5, 3, 2, 1, False, (6, 2)),
]


@pytest.mark.parametrize("kernel_size, stride, padding, dilation, ceil_mode, chunks", POOL_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool2d_matches_in_memory(rng, dtype, kernel_size, stride, padding, dilation, ceil_mode, chunks):
    x = rng.standard_normal((2, 3, 17, 15)).astype(dtype)
    result = ops.dask.max_pool2d(da.from_array(x, chunks=(1, 2) + chunks), kernel_size, stride, padding, dilation,
                                 ceil_mode)
    expected = ops.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode)
    assert result.chunks[:2] == ((1, 1), (2, 1))
    np.testing.assert_array_equal(result.compute(), expected)


@pytest.mark.parametrize("filt_size, stride, chunks", [(3, 2, (5, 4)), (4, 2, (3, 7)), (5, 3, (6, 6)), (1, 2, (4, 3)),
                                                       (7, 1, (8, 5))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blur_pool2d_matches_in_memory(rng, dtype, filt_size, stride, chunks):
    x = rng.standard_normal((1, 2, 18, 15)).astype(dtype)
    result = ops.dask.blur_pool2d(da.from_array(x, chunks=(1, 1) + chunks), filt_size, stride)
    assert_close(result.compute(), ops.blur_pool2d(x, filt_size, stride))


def test_every_chunk_is_computed_by_the_kernels_on_one_block(rng):
    """The graph has one task per output chunk (no global gather): chunk count tracks the input's."""
    x = da.from_array(rng.standard_normal((60, 60)).astype(np.float32), chunks=20)
    result = ops.dask.correlate(x, rng.standard_normal((5, 5)).astype(np.float32), "same")
    assert result.numblocks == (3, 3)
    assert result.chunks == ((20, 20, 20), (20, 20, 20))


def test_bad_input_is_refused_by_name(rng):
    image = da.from_array(rng.standard_normal((10, 10)), chunks=5)
    kernel = rng.standard_normal((3, 3))
    with pytest.raises(TypeError, match="in1 must be a dask array"):
        ops.dask.correlate(np.zeros((10, 10)), kernel)
    with pytest.raises(TypeError, match="in2 must be an in-memory"):
        ops.dask.correlate(image, da.from_array(kernel))
    with pytest.raises(TypeError, match="in1 has dtype int64"):
        ops.dask.correlate(da.arange(10, chunks=5), np.ones(3))
    with pytest.raises(ValueError, match="mode must be one of"):
        ops.dask.correlate(image, kernel, "middle")
    with pytest.raises(ValueError, match="must fit inside in1"):
        ops.dask.correlate(image, rng.standard_normal((11, 12)), "valid")
    x = da.from_array(rng.standard_normal((1, 2, 8, 8)), chunks=4)
    with pytest.raises(TypeError, match="weight has dtype float32"):
        ops.dask.conv2d(x, np.ones((1, 2, 3, 3), np.float32))
    with pytest.raises(ValueError, match="bias must have shape"):
        ops.dask.conv2d(x, rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(2))
    with pytest.raises(ValueError, match="input channels"):
        ops.dask.conv2d(x, rng.standard_normal((3, 1, 3, 3)), groups=3)
    with pytest.raises(ValueError, match="padding 2 must be at most half"):
        ops.dask.max_pool2d(x, 3, padding=2)
    with pytest.raises(ValueError, match="filt_size must be 1 to 7"):
        ops.dask.blur_pool2d(x, filt_size=9)


def test_import_ops_does_not_import_dask():
    code = "import sys, ops, engine; print('dask' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_on_a_local_cluster_of_two_workers(rng):
    distributed = pytest.importorskip("distributed")
    image = rng.standard_normal((64, 48)).astype(np.float32)
    kernel = rng.standard_normal((7, 7)).astype(np.float32)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        result = ops.dask.correlate(da.from_array(image, chunks=(21, 17)), kernel, "same").compute()
    assert_close(result, ops.correlate(image, kernel, "same"))
