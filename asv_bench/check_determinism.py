"""How many distinct results 20 identical calls of each conv pass give, per shape, dtype, algorithm and thread
count (1 means reproducible). Prints one line per case; `--all` also prints the reproducible ones.

    .venv/bin/python asv_bench/check_determinism.py [--calls 20] [--all]
"""
import argparse

import numba
import numpy as np

import ops

SHAPES = {  # (N, C, H, W, K, k, stride, padding, groups), from shared/bench-shapes.md
    "lenet1": (64, 1, 28, 28, 6, 5, 1, 2, 1), "lenet2": (64, 6, 14, 14, 16, 5, 1, 0, 1),
    "cifar2": (32, 32, 32, 32, 64, 3, 1, 1, 1), "down": (16, 32, 32, 32, 32, 3, 2, 1, 1),
    "dw3x3": (8, 64, 56, 56, 64, 3, 1, 1, 64), "pw1x1": (8, 64, 56, 56, 128, 1, 1, 0, 1),
}


def distinct(run, calls):
    return len({run().tobytes() for _ in range(calls)})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--all", action="store_true", help="also print the cases with one result")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    cases = varying = 0
    for threads in range(1, numba.config.NUMBA_NUM_THREADS + 1):
        ops.set_num_threads(threads)
        for name, (n, c, h, w_, k, ks, s, p, g) in SHAPES.items():
            for dtype in (np.float32, np.float64):
                x = rng.standard_normal((n, c, h, w_)).astype(dtype)
                w = rng.standard_normal((k, c // g, ks, ks)).astype(dtype)
                a = dict(stride=s, padding=p, groups=g)
                gy = rng.standard_normal(ops.conv2d(x, w, **a).shape).astype(dtype)
                for algorithm in ("auto", "gemm", "direct", "fft"):
                    a["algorithm"] = algorithm
                    counts = [distinct(lambda: ops.conv2d(x, w, **a), args.calls),
                              distinct(lambda: ops.conv2d_grad_input(gy, w, x.shape, **a), args.calls),
                              distinct(lambda: ops.conv2d_grad_weight(x, gy, w.shape, **a), args.calls)]
                    cases += 1
                    varying += max(counts) > 1
                    if args.all or max(counts) > 1:
                        print(f"threads={threads} {name:7s} {np.dtype(dtype).name:8s} {algorithm:7s} "
                              f"distinct forward/grad_input/grad_weight: {counts}", flush=True)
    print(f"{varying} of {cases} cases gave more than one result in {args.calls} calls")


if __name__ == "__main__":
    main()
