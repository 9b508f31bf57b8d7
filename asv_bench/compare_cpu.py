"""convref's CPU kernels against PyTorch and scipy.signal on the bench shapes, as ratios from one sitting.

    .venv/bin/python asv_bench/compare_cpu.py [--threads 2] [--rounds 3] [--only conv,pool,signal] [--clock wall]

Each side runs in its own process (two OpenMP runtimes in one process distort
both): ours (ops, 'auto' algorithms), PyTorch (oneDNN, torch.set_num_threads)
and SciPy. The three processes run one after another, `rounds` times over, and
every case keeps its best time across rounds, so a burst of load on a shared
machine spoils one round and not the table. Each process also measures the
machine's sgemm peak (NumPy's, our kernel's and PyTorch's matmul on 2048x2048) in the same
sitting. Times are in ms; a ratio below 1 means ours is faster.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmarks.shapes import CONV, POOL, POOL_INPUT, SIGNAL  # noqa: E402

PEAK_SIZE = 2048
LARGE_CONVS = ("cifar2", "res3x3", "pw1x1")


CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}
_clock = {"now": time.perf_counter}


def best_seconds(fn, budget=0.4):
    """Best mean time per call over batches of about 10 ms each, for `budget` seconds, after two warm-up calls.

    Many short batches: on a shared machine the best of them is the one least disturbed by others.
    """
    now = _clock["now"]
    fn()
    fn()
    start = now()
    fn()
    once = max(now() - start, 1e-7)
    reps = max(1, int(0.01 / once))
    batches = max(3, int(budget / (reps * once)))
    best = math.inf
    for _ in range(batches):
        start = now()
        for _ in range(reps):
            fn()
        best = min(best, (now() - start) / reps)
    return best


def data(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def conv_flops(case):
    out = [(s + 2 * case.padding - k) // case.stride + 1 for s, k in zip(case.input_shape[2:], case.weight_shape[2:])]
    return 2 * case.input_shape[0] * math.prod(case.weight_shape) * math.prod(out)


def sgemm_peak(matmul, a, b):
    return 2 * PEAK_SIZE ** 3 / best_seconds(lambda: matmul(a, b), budget=2.0)


# --- the three sides, each in its own process --------------------------------------------------------------

def run_ours(threads, parts):
    import ops
    ops.set_num_threads(threads)
    from ops._native import matmul, products
    a, b = data((PEAK_SIZE,) * 2, 1), data((PEAK_SIZE,) * 2, 2)
    times = {"sgemm GFLOP/s": sgemm_peak(np.matmul, a, b) / 1e9}
    if products.fast_sgemm():
        out = np.empty_like(a)
        times["own sgemm GFLOP/s"] = sgemm_peak(lambda a, b: matmul.matmul(a, b, out, threads), a, b) / 1e9
    if "conv" in parts:
        for name, case in CONV.items():
            nd = case.nd
            conv = getattr(ops, f"conv{nd}d")
            x, w = data(case.input_shape, 1), data(case.weight_shape, 2)
            args = dict(stride=case.stride, padding=case.padding, groups=case.groups)
            out = conv(x, w, **args)
            g = data(out.shape, 3)
            times[f"conv {name} forward"] = best_seconds(lambda: conv(x, w, **args))
            times[f"conv {name} grad_input"] = best_seconds(
                lambda: getattr(ops, f"conv{nd}d_grad_input")(g, w, x.shape, **args))
            times[f"conv {name} grad_weight"] = best_seconds(
                lambda: getattr(ops, f"conv{nd}d_grad_weight")(x, g, w.shape, **args))
    if "pool" in parts:
        x = data(POOL_INPUT, 1)
        for name, case in POOL.items():
            if case.kind == "max":
                out, idx = ops.max_pool2d(x, case.kernel, case.stride, case.padding, return_indices=True)
                times[f"pool {name} forward"] = best_seconds(
                    lambda: ops.max_pool2d(x, case.kernel, case.stride, case.padding, return_indices=True))
                times[f"pool {name} backward"] = best_seconds(
                    lambda: ops.max_pool2d_grad_input(out, idx, x.shape, case.kernel, case.stride, case.padding))
            elif case.kind == "avg":
                out = ops.avg_pool2d(x, case.kernel, case.stride, case.padding)
                times[f"pool {name} forward"] = best_seconds(lambda: ops.avg_pool2d(x, case.kernel, case.stride, case.padding))
                times[f"pool {name} backward"] = best_seconds(
                    lambda: ops.avg_pool2d_grad_input(out, x.shape, case.kernel, case.stride, case.padding))
            else:
                out = ops.blur_pool2d(x, case.kernel, case.stride)
                times[f"pool {name} forward"] = best_seconds(lambda: ops.blur_pool2d(x, case.kernel, case.stride))
                times[f"pool {name} backward"] = best_seconds(
                    lambda: ops.blur_pool2d_grad_input(out, x.shape, case.kernel, case.stride))
    if "signal" in parts:
        for name, case in SIGNAL.items():
            a, b = data(case.signal_shape, 1), data(case.kernel_shape, 2)
            times[f"signal {name} correlate"] = best_seconds(lambda: ops.correlate(a, b, case.mode))
            times[f"signal {name} convolve"] = best_seconds(lambda: ops.convolve(a, b, case.mode))
            times[f"signal {name} fftconvolve"] = best_seconds(lambda: ops.fftconvolve(a, b, case.mode))
    return times


def run_torch(threads, parts):
    import torch
    torch.set_num_threads(threads)
    F = torch.nn.functional
    tensor = lambda shape, seed: torch.from_numpy(data(shape, seed))
    peak = sgemm_peak(torch.matmul, tensor((PEAK_SIZE,) * 2, 1), tensor((PEAK_SIZE,) * 2, 2))
    times = {"sgemm GFLOP/s": peak / 1e9}
    with torch.no_grad():
        if "conv" in parts:
            for name, case in CONV.items():
                conv = getattr(F, f"conv{case.nd}d")
                x, w = tensor(case.input_shape, 1), tensor(case.weight_shape, 2)
                s, p, d = [case.stride] * case.nd, [case.padding] * case.nd, [1] * case.nd
                out = conv(x, w, None, case.stride, case.padding, 1, case.groups)
                g = tensor(tuple(out.shape), 3)
                backward = lambda mask: torch.ops.aten.convolution_backward(
                    g, x, w, None, s, p, d, False, [0] * case.nd, case.groups, mask)
                times[f"conv {name} forward"] = best_seconds(lambda: conv(x, w, None, case.stride, case.padding, 1, case.groups))
                times[f"conv {name} grad_input"] = best_seconds(lambda: backward([True, False, False]))
                times[f"conv {name} grad_weight"] = best_seconds(lambda: backward([False, True, False]))
        if "pool" in parts:
            x = tensor(POOL_INPUT, 1)
            for name, case in POOL.items():
                k, s, p = [case.kernel] * 2, [case.stride] * 2, [case.padding] * 2
                if case.kind == "max":
                    out, idx = F.max_pool2d(x, k, s, p, return_indices=True)
                    times[f"pool {name} forward"] = best_seconds(lambda: F.max_pool2d(x, k, s, p, return_indices=True))
                    times[f"pool {name} backward"] = best_seconds(
                        lambda: torch.ops.aten.max_pool2d_with_indices_backward(out, x, k, s, p, [1, 1], False, idx))
                elif case.kind == "avg":
                    out = F.avg_pool2d(x, k, s, p)
                    times[f"pool {name} forward"] = best_seconds(lambda: F.avg_pool2d(x, k, s, p))
                    times[f"pool {name} backward"] = best_seconds(
                        lambda: torch.ops.aten.avg_pool2d_backward(out, x, k, s, p, False, True, None))
                else:  # no blur-pool in PyTorch: reflect pad + depthwise binomial conv, as the layer is usually written
                    from ops.shapes import blur_filter
                    c = x.shape[1]
                    filt = torch.from_numpy(np.ascontiguousarray(np.broadcast_to(blur_filter(case.kernel, 2, np.float32),
                                                                                 (c, 1, case.kernel, case.kernel))))
                    pads = [(case.kernel - 1) // 2, case.kernel // 2] * 2
                    blur = lambda v: F.conv2d(F.pad(v, pads, mode="reflect"), filt, None, case.stride, 0, 1, c)
                    xg = x.clone().requires_grad_()
                    with torch.enable_grad():
                        out = blur(xg)
                    g = torch.ones_like(out)
                    times[f"pool {name} forward"] = best_seconds(lambda: blur(x))

                    def blur_backward():
                        with torch.enable_grad():
                            torch.autograd.grad(blur(xg), xg, g)
                    times[f"pool {name} backward"] = best_seconds(blur_backward)
    return times


def run_scipy(threads, parts):
    import scipy.signal
    times = {}
    if "signal" in parts:
        for name, case in SIGNAL.items():
            a, b = data(case.signal_shape, 1), data(case.kernel_shape, 2)
            times[f"signal {name} correlate"] = best_seconds(lambda: scipy.signal.correlate(a, b, case.mode))
            times[f"signal {name} convolve"] = best_seconds(lambda: scipy.signal.convolve(a, b, case.mode))
            times[f"signal {name} fftconvolve"] = best_seconds(lambda: scipy.signal.fftconvolve(a, b, case.mode))
    return times


SIDES = {"ours": run_ours, "torch": run_torch, "scipy": run_scipy}


# --- the sitting ---------------------------------------------------------------------------------------------

def measure(side, threads, parts, clock):
    """Run one side in a fresh process; its times by case."""
    command = [sys.executable, os.path.abspath(__file__), "--worker", side, "--threads", str(threads),
               "--only", ",".join(parts), "--clock", clock]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"the {side} process failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def ratio(ours, theirs):
    return f"{ours / theirs:.2f}" if ours and theirs else "-"


def ms(seconds):
    return f"{seconds * 1e3:.3f}" if seconds else "-"


def report(best, threads, clock):
    ours, torch, scipy = best["ours"], best["torch"], best["scipy"]
    peak = ours.get("sgemm GFLOP/s", 0)
    own = ours.get("own sgemm GFLOP/s", 0)
    lines = [f"threads: {threads}, clock: {clock}; sgemm peak ({PEAK_SIZE}^2 float32): NumPy/OpenBLAS {peak:.0f} GFLOP/s, "
             f"ours (ops/_native/sgemm.h) {own:.0f} GFLOP/s, PyTorch {torch.get('sgemm GFLOP/s', 0):.0f} GFLOP/s; "
             f"'% of sgemm peak' is of the best of the three", ""]
    peak = max(peak, own, torch.get("sgemm GFLOP/s", 0))
    convs = [n for n in CONV if f"conv {n} forward" in ours]
    if convs:
        lines += ["| conv (fwd + grad_input + grad_weight) | ours ms | torch ms | ours/torch | ours GFLOP/s | % of sgemm peak |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for name in convs:
            keys = [f"conv {name} {op}" for op in ("forward", "grad_input", "grad_weight")]
            a, b = sum(ours[k] for k in keys), sum(torch.get(k, math.nan) for k in keys)
            rate = 3 * conv_flops(CONV[name]) / a / 1e9
            lines.append(f"| {name} | {ms(a)} | {ms(b)} | {ratio(a, b)} | {rate:.0f} | {100 * rate / peak:.0f} % |")
        lines += ["", "| conv pass | ours ms | torch ms | ours/torch |", "| --- | --- | --- | --- |"]
        for name in convs:
            for op in ("forward", "grad_input", "grad_weight"):
                k = f"conv {name} {op}"
                lines.append(f"| {name} {op} | {ms(ours[k])} | {ms(torch.get(k))} | {ratio(ours[k], torch.get(k))} |")
        lines.append("")
    pools = [k for k in ours if k.startswith("pool ")]
    if pools:
        lines += ["| pooling (64, 32, 28, 28) | ours ms | torch ms | ours/torch |", "| --- | --- | --- | --- |"]
        lines += [f"| {k[5:]} | {ms(ours[k])} | {ms(torch.get(k))} | {ratio(ours[k], torch.get(k))} |" for k in pools]
        lines.append("")
    signals = [k for k in ours if k.startswith("signal ")]
    if signals:
        lines += ["| signal (auto; fftconvolve) | ours ms | scipy.signal ms | ours/scipy |", "| --- | --- | --- | --- |"]
        lines += [f"| {k[7:]} | {ms(ours[k])} | {ms(scipy.get(k))} | {ratio(ours[k], scipy.get(k))} |" for k in signals]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="conv,pool,signal", help="comma-separated parts: conv, pool, signal")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall: elapsed time; cpu: the calling thread's CPU time, which other processes on a "
                             "busy machine do not inflate (exact only with --threads 1, where all work runs there)")
    parser.add_argument("--worker", choices=sorted(SIDES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    parts = args.only.split(",")
    if args.clock == "cpu" and args.threads != 1:
        parser.error("--clock cpu measures the calling thread only: use it with --threads 1")
    _clock["now"] = CLOCKS[args.clock]
    if args.worker:
        print(json.dumps(SIDES[args.worker](args.threads, parts)))
        return
    best = {side: {} for side in SIDES}
    for round_ in range(args.rounds):
        for side in SIDES:
            for key, value in measure(side, args.threads, parts, args.clock).items():
                keep = max if key.endswith("GFLOP/s") else min
                best[side][key] = keep(best[side].get(key, value), value)
        print(f"round {round_ + 1} of {args.rounds} done; load average {os.getloadavg()[0]:.1f}", file=sys.stderr)
    print(report(best, args.threads, args.clock))


if __name__ == "__main__":
    main()
