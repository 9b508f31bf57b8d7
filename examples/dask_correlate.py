"""Smooth an image larger than one process should hold: ops.dask.correlate on a dask LocalCluster.

The image (default 20000 x 20000 float32, 1.6 GB, and as much again for the result) is never
in memory whole: dask makes it chunk by chunk (soft blobs plus noise), each worker
correlates its chunks, with the 15-pixel halo a 31 x 31 kernel needs borrowed from the
neighbours, through convref's kernels, and only reductions (mean, spread) and a corner of
the result come back. The script prints the time and each worker's peak memory, checks a
window that straddles four chunks against the in-memory op, and with --compare also runs
the in-memory op (ops.correlate on the whole image) in a fresh process for its time and peak.

Run: python examples/dask_correlate.py [--size N] [--kernel K] [--chunk C] [--workers W] [--compare] [--out DIR]
Writes dask_correlate.png. Needs dask and distributed (pip install -e ".[dask]").
"""
import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import ops  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
PREVIEW = 400


def gaussian_kernel(size):
    t = np.arange(size) - (size - 1) / 2
    g = np.exp(-t ** 2 / (2 * (size / 6) ** 2))
    return (np.outer(g, g) / g.sum() ** 2).astype(np.float32)


def make_image(size, chunk, seed=0):
    """A lazy float32 image: a checkerboard of soft blobs plus uniform noise, the same numbers for the same
    size and chunk (outer product and uniform draws: cheap to make again, so the timing is the correlation's)."""
    import dask.array as da
    wave = da.sin(da.arange(size, chunks=chunk, dtype=np.float32) / np.float32(40))
    noise = da.random.default_rng(seed).random((size, size), chunks=chunk, dtype=np.float32)
    return wave[:, None] * wave[None, :] + noise


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def in_memory(size, kernel_size, chunk):
    """The whole image in this process, then ops.correlate on it: (seconds, peak MiB)."""
    image = make_image(size, chunk).compute(scheduler="synchronous")
    start = time.perf_counter()
    ops.correlate(image, gaussian_kernel(kernel_size), "same")
    return time.perf_counter() - start, peak_mib()


def chunked(size, kernel_size, chunk, workers):
    """ops.dask.correlate on a LocalCluster of `workers` processes of one thread each."""
    import dask.array as da
    from distributed import Client, LocalCluster

    import ops.dask
    kernel = gaussian_kernel(kernel_size)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.run(ops.set_num_threads, 1)  # one dask thread per worker: its kernels must not start more
        image = make_image(size, chunk)
        smooth = ops.dask.correlate(image, kernel, "same")
        start = time.perf_counter()
        image.mean().compute()
        making = time.perf_counter() - start  # the correlation's run below makes the image again
        start = time.perf_counter()
        mean, spread, corner = da.compute(smooth.mean(), smooth.std(), smooth[:PREVIEW, :PREVIEW])
        seconds = time.perf_counter() - start
        peaks = sorted(client.run(peak_mib).values())
        # a window straddling four chunks, against the in-memory op on the inputs it reads
        at, half, reach = min(chunk, size // 2), 20, kernel_size // 2
        window = (slice(at - half, at + half),) * 2
        patch = image[(slice(at - half - reach, at + half + reach),) * 2].compute()
        error = float(np.abs(smooth[window].compute() - ops.correlate(patch, kernel, "valid")).max())
        input_corner = image[:PREVIEW, :PREVIEW].compute()
    return {"seconds": seconds, "making_seconds": making, "worker_peak_mib": peaks, "client_peak_mib": peak_mib(), "mean": float(mean),
            "std": float(spread), "window_error": error, "corner": corner, "input_corner": input_corner}


def plot(result, path):
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    for ax, image, title in ((axes[0], result["input_corner"], "input (a corner)"),
                             (axes[1], result["corner"], "correlated with the Gaussian")):
        ax.imshow(image, cmap="gray")
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    names = ["dask, per worker"] + (["in memory"] if "in_memory" in result else [])
    peaks = [max(result["worker_peak_mib"])] + ([result["in_memory"]["peak_mib"]] if "in_memory" in result else [])
    bars = axes[2].bar(names, peaks, color=["tab:blue", "tab:orange"][:len(names)])
    times = [result["seconds"]] + ([result["in_memory"]["seconds"]] if "in_memory" in result else [])
    for bar, seconds in zip(bars, times):
        axes[2].annotate(f"{seconds:.1f} s", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center",
                         va="bottom")
    axes[2].set_ylabel("peak resident memory (MiB)")
    axes[2].set_title(f"{result['size']}^2 float32, {result['kernel']}^2 kernel", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=20000, help="image side (default 20000)")
    p.add_argument("--kernel", type=int, default=31, help="kernel side (default 31)")
    p.add_argument("--chunk", type=int, default=2500, help="chunk side (default 2500)")
    p.add_argument("--workers", type=int, default=2, help="dask worker processes (default 2)")
    p.add_argument("--compare", action="store_true", help="also run the in-memory op, in a fresh process")
    p.add_argument("--in-memory", action="store_true", help=argparse.SUPPRESS)  # what --compare runs
    p.add_argument("--out", type=Path, default=OUT, help="folder for dask_correlate.png")
    args = p.parse_args(argv)
    if args.in_memory:
        seconds, peak = in_memory(args.size, args.kernel, args.chunk)
        print(json.dumps({"seconds": seconds, "peak_mib": peak}))
        return None
    result = {"size": args.size, "kernel": args.kernel,
              **chunked(args.size, args.kernel, args.chunk, args.workers)}
    print(f"{args.size} x {args.size} float32 ({args.size ** 2 * 4 / 2 ** 20:.0f} MiB), {args.kernel} x {args.kernel} "
          f"kernel, chunks of {args.chunk}, {args.workers} workers: making the image alone "
          f"{result['making_seconds']:.1f} s, making and correlating it {result['seconds']:.1f} s; peak memory per "
          f"worker {', '.join(f'{m:.0f}' for m in result['worker_peak_mib'])} MiB (client {result['client_peak_mib']:.0f}"
          f" MiB); result mean {result['mean']:.4f}, std {result['std']:.4f}; "
          f"max |chunked - in-memory| on a window across chunks {result['window_error']:.2g}")
    if args.compare:
        command = [sys.executable, __file__, "--in-memory", "--size", str(args.size), "--kernel", str(args.kernel),
                   "--chunk", str(args.chunk)]
        result["in_memory"] = json.loads(subprocess.run(command, capture_output=True, text=True,
                                                        check=True).stdout.splitlines()[-1])
        print(f"in memory (one process, {ops.get_num_threads()} threads): {result['in_memory']['seconds']:.1f} s, "
              f"peak memory {result['in_memory']['peak_mib']:.0f} MiB")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "dask_correlate.png"
    plot(result, path)
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
