"""Memory a compiled LeNet-5 training step (E.compile) holds after one step at each batch size from 1 to 60:
each trace it keeps holds about one step's activations.

    .venv/bin/python asv_bench/compile_memory.py                    # the default bound (8 traces)
    .venv/bin/python asv_bench/compile_memory.py --max-plans 60     # every size kept, as without a bound

Counts NumPy's allocations with tracemalloc, the engine's buffer cache off (cached buffers would hide what the
traces release).
"""
import argparse
import gc
import tracemalloc

import numpy as np
from compare_training import lenet

import engine as E


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-plans", type=int, default=8, help="E.compile's max_plans (default 8)")
    parser.add_argument("--sizes", type=int, default=60, help="batch sizes 1..SIZES, one step each")
    args = parser.parse_args()
    E.buffers.enable(False)
    model = lenet(E.nn)
    opt = E.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    step = E.compile(lambda x, y: E.functional.cross_entropy(model(x), y), max_plans=args.max_plans)
    rng = np.random.default_rng(0)
    batches = [(E.tensor(rng.standard_normal((n, 1, 28, 28)).astype(np.float32)), E.tensor(rng.integers(0, 10, n)))
               for n in range(1, args.sizes + 1)]
    E.functional.cross_entropy(model(batches[0][0]), batches[0][1]).backward()
    opt.step()  # the momentum buffers exist before the count starts
    tracemalloc.start()
    gc.collect()
    start = tracemalloc.get_traced_memory()[0]
    for x, y in batches:
        opt.zero_grad()
        step(x, y)
        opt.step()
    opt.zero_grad()
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - start
    print(f"max_plans={args.max_plans}: {len(step.plans)} traces kept, {held / 2 ** 20:.1f} MiB held "
          f"after one step at each batch size 1..{args.sizes}")


if __name__ == "__main__":
    main()
