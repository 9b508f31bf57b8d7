"""The units of the CPU cost model that every algorithm's cost() is written in.

Seconds per unit of work on one core in float32 (float64 costs twice as much), fitted to one-thread timings
of the bench shapes and random geometries on an AVX-512 machine. Every algorithm's parallel loops scale with
threads up to its number of independent tasks (parallel). Each algorithm's own rates sit in its module.
"""
import math

CALL = 20e-6                # fixed cost of one call (Python, allocation, thread start)
GEMM_FLOP = 1 / 200e9       # float32 product on the AVX-512 kernel of ops/_native/sgemm.h
BLAS_FLOP = 1 / 100e9       # sgemm of OpenBLAS (float32 without AVX-512; dgemm costs twice)
PACK_ELEMENT = 0.15e-9      # one element of im2col, col2im or a padded copy, written to the L2 cache
FFT_UNIT = 0.12e-9          # one n log2 n unit of a real FFT (pocketfft) ...
FFT_LARGE = 3.0             # ... and this many times more when one dim is longer than FFT_CACHED
FFT_CACHED = 1 << 16


def parallel(seconds, tasks, threads):
    """`seconds` of one core's work split over min(threads, tasks) threads."""
    return seconds / max(1, min(threads, tasks))


def fft_seconds(shape):
    """One real N-D FFT of this shape."""
    size = math.prod(shape)
    return size * math.log2(max(size, 2)) * FFT_UNIT * (FFT_LARGE if max(shape) > FFT_CACHED else 1.0)


def fast_products(itemsize):
    """Whether products of this itemsize run on the AVX-512 kernel (float32 on a CPU that has it)."""
    from .._native import products
    return itemsize == 4 and products.fast_sgemm()


def product_flop(itemsize):
    """Seconds per flop of a matrix product: the AVX-512 kernel, else BLAS (float64 costs twice)."""
    return GEMM_FLOP if fast_products(itemsize) else BLAS_FLOP * itemsize / 4


def tile_waste(rows):
    """The AVX-512 kernel computes 8 rows of output at a time: the share of its work that is wasted."""
    return -(-rows // 8) * 8 / rows


def padded_extent(geom):
    """The zero-padded input's spatial shape."""
    return [s + lo + hi for s, (lo, hi) in zip(geom.in_spatial, geom.padding)]
