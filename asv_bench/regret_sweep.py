"""How far 'auto' lands from the fastest forced CPU conv algorithm, on seeded random convs (not the bench shapes).

Each case is drawn at random (kernel 1-15, image 6-200, channels 2-192, batch 1-50, stride 1-3, groups 1, a
common divisor or depthwise; mostly 2-D, some 1-D and 3-D), redrawn while its forward pass exceeds --max-flops.
Each pass (forward, grad_input, grad_weight) is timed by 'auto' and by every algorithm of
ops.select.CONV_ALGORITHMS['cpu'] but the reference (those that raise NotImplementedError are left out):
one warm-up call each, then rounds of one call per candidate in turn, best of the rounds; a candidate more
than 4x slower than the best after a round is dropped. The regret is t_auto / t_best (1 when auto took the
fastest, up to the noise).

    .venv/bin/python asv_bench/regret_sweep.py [--cases 60] [--seed 0] [--threads 2] [--dtype float32]
                                               [--json out.json]
"""
import argparse
import json
import math
import os
import time

import numpy as np

import ops
from ops import select, shapes

PASSES = ("forward", "grad_input", "grad_weight")
ROUNDS = 5           # timed calls per candidate at most ...
ROUND_SECONDS = 0.5  # ... and fewer once a pass has spent this long
DROPPED = 4.0        # a candidate this many times slower than the best is not timed again


def log_uniform(rng, low, high):
    """An int in [low, high], uniform in log scale (small sizes as often as large ones)."""
    return round(math.exp(rng.uniform(math.log(low), math.log(high))))


def draw_case(rng, max_flops):
    """(x shape, w shape, stride, padding, groups) of one random conv under max_flops, its geometry."""
    while True:
        nd = int(rng.choice([1, 2, 3], p=[0.15, 0.7, 0.15]))
        channels = log_uniform(rng, 2, 192)
        kind = rng.choice(["dense", "grouped", "depthwise"], p=[0.6, 0.2, 0.2])
        if kind == "depthwise":
            groups = filters = channels
        else:
            filters = log_uniform(rng, 2, 192)
            common = [g for g in range(2, min(channels, filters) + 1) if channels % g == 0 and filters % g == 0]
            groups = int(rng.choice(common)) if kind == "grouped" and common else 1
        image = tuple(log_uniform(rng, 6, 200) for _ in range(nd))
        kernel = tuple(min(log_uniform(rng, 1, 15), s) for s in image)
        stride = int(rng.integers(1, 4))
        padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
        x_shape = (log_uniform(rng, 1, 50), channels) + image
        w_shape = (filters, channels // groups) + kernel
        geom = shapes.conv_geometry(x_shape, w_shape, nd, stride, padding, 1, groups)
        if geom.flops <= max_flops:
            return (x_shape, w_shape, stride, padding, groups), geom


def pass_call(op, nd, arrays, case, algorithm):
    """A no-argument call of one pass of the case by one algorithm."""
    x, w, grad_out = arrays
    x_shape, w_shape, stride, padding, groups = case
    args = dict(stride=stride, padding=padding, groups=groups, algorithm=algorithm)
    if op == "forward":
        return lambda: getattr(ops, f"conv{nd}d")(x, w, **args)
    if op == "grad_input":
        return lambda: getattr(ops, f"conv{nd}d_grad_input")(grad_out, w, x_shape, **args)
    return lambda: getattr(ops, f"conv{nd}d_grad_weight")(x, grad_out, w_shape, **args)


def seconds(call):
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def time_pass(calls):
    """{name: best seconds} of candidates timed in interleaved rounds; 'auto' is timed in every round."""
    for name, call in list(calls.items()):
        try:
            call()  # compiles, or loads Numba's cache; warms the caches
        except NotImplementedError:
            del calls[name]
    best = dict.fromkeys(calls, math.inf)
    started = time.perf_counter()
    for _ in range(ROUNDS):
        for name, call in calls.items():
            best[name] = min(best[name], seconds(call))
        fastest = min(best.values())
        calls = {name: call for name, call in calls.items() if name == "auto" or best[name] <= DROPPED * fastest}
        if time.perf_counter() - started > ROUND_SECONDS:
            break
    return best


def sweep(cases, seed, dtype, max_flops, report=print):
    """One record per case and pass: the case, auto's pick, the fastest algorithm, every time, the regret
    (and pick_regret: the forced pick's time over the best, the regret without auto's own dispatch)."""
    rng = np.random.default_rng(seed)
    algorithms = [name for name in select.CONV_ALGORITHMS["cpu"] if name != "reference"]
    records = []
    for index in range(cases):
        case, geom = draw_case(rng, max_flops)
        x = rng.standard_normal(geom.input_shape).astype(dtype)
        w = rng.standard_normal(geom.weight_shape).astype(dtype)
        grad_out = rng.standard_normal(geom.output_shape).astype(dtype)
        for op in PASSES:
            calls = {name: pass_call(op, geom.nd, (x, w, grad_out), case, name) for name in ["auto", *algorithms]}
            times = time_pass(calls)
            forced = {name: t for name, t in times.items() if name != "auto"}
            fastest = min(forced, key=forced.get)
            pick = select.chosen(op, geom, np.dtype(dtype))
            record = dict(case=index, x=geom.input_shape, w=geom.weight_shape, stride=case[2], padding=case[3],
                          groups=case[4], gflop=geom.flops / 1e9, op=op, pick=pick, fastest=fastest,
                          regret=times["auto"] / forced[fastest],
                          pick_regret=forced[pick] / forced[fastest] if pick in forced else None, seconds=times)
            records.append(record)
            report(f"{index:3d} x{record['x']} w{record['w']} s{record['stride']} p{record['padding']} "
                   f"g{record['groups']} {op:11s} auto={pick:8s} {times['auto'] * 1e3:8.3f} ms  "
                   f"fastest={fastest:8s} {forced[fastest] * 1e3:8.3f} ms  regret {record['regret']:.2f}")
    return records


def summary(records):
    regrets = [r["regret"] for r in records]
    worst = max(records, key=lambda r: r["regret"])
    return dict(passes=len(records), geometric_mean=math.exp(sum(map(math.log, regrets)) / len(regrets)),
                within_1_25=sum(r <= 1.25 for r in regrets) / len(regrets),
                worst={key: worst[key] for key in ("case", "x", "w", "stride", "padding", "groups", "op", "pick",
                                                   "fastest", "regret")})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="ops.set_num_threads (default: Numba's)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--max-flops", type=float, default=2e9,
                        help="largest forward pass drawn (flops); 2e9 keeps the best time near 100 ms")
    parser.add_argument("--json", help="write the records and the summary to this file")
    args = parser.parse_args(argv)
    if args.threads is not None:
        ops.set_num_threads(args.threads)
    load = os.getloadavg()
    print(f"threads {ops.get_num_threads()}, {args.dtype}, seed {args.seed}, load average {load[0]:.2f}", flush=True)
    records = sweep(args.cases, args.seed, np.dtype(args.dtype), args.max_flops,
                    report=lambda line: print(line, flush=True))
    result = summary(records)
    worst = result["worst"]
    print(f"worst: case {worst['case']} {worst['op']} x{worst['x']} w{worst['w']} s{worst['stride']} "
          f"p{worst['padding']} g{worst['groups']}: auto={worst['pick']}, fastest={worst['fastest']}, "
          f"regret {worst['regret']:.2f}")
    print(f"geometric mean regret {result['geometric_mean']:.3f}; {result['within_1_25']:.0%} of "
          f"{result['passes']} passes within 1.25x; load average {load[0]:.2f} -> {os.getloadavg()[0]:.2f}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(dict(threads=ops.get_num_threads(), dtype=args.dtype, seed=args.seed, load=[load[0],
                           os.getloadavg()[0]], summary=result, records=records), out, indent=1)


if __name__ == "__main__":
    main()
