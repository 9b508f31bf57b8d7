"""One LeNet-5 training step (bench-shapes.md: batch 64 of 1x28x28, SGD with momentum) in convref's engine or
in PyTorch, one library per process so their thread pools don't meet.

    .venv/bin/python asv_bench/compare_training.py engine
    .venv/bin/python asv_bench/compare_training.py engine-compiled      # the step through E.compile
    .venv/bin/python asv_bench/compare_training.py torch                # torch.set_num_threads(2)
    .venv/bin/python asv_bench/compare_training.py engine --rss         # resident memory at steps 100 and 1000

Prints the best mean time per step over 5 runs of 50 steps, after 20 warm-up steps.
"""
import argparse
import resource
import time

import numpy as np


def lenet(nn):
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10))


def make_step(library, x, y):
    if library == "torch":
        import torch
        torch.set_num_threads(2)
        model = lenet(torch.nn)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss_fn, x, y = torch.nn.functional.cross_entropy, torch.from_numpy(x), torch.from_numpy(y)
    else:
        import engine as E
        model = lenet(E.nn)
        opt = E.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x, y = E.tensor(x), E.tensor(y)
        if library == "engine-compiled":
            compiled = E.compile(lambda x, y: E.functional.cross_entropy(model(x), y))

            def step():
                opt.zero_grad()
                compiled(x, y)
                opt.step()
            return step
        loss_fn = E.functional.cross_entropy

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    return step


def rss_mib():
    """Resident memory now (Linux /proc), in MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2 ** 20


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("library", nargs="?", default="engine", choices=["engine", "engine-compiled", "torch"])
    parser.add_argument("--rss", action="store_true", help="run 1000 steps and print resident memory at 100 and 1000")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    step = make_step(args.library, rng.standard_normal((64, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 64))
    if args.rss:
        for i in range(1, 1001):
            step()
            if i in (100, 1000):
                print(f"{args.library}: RSS at step {i}: {rss_mib():.1f} MiB")
        return
    for _ in range(20):
        step()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(50):
            step()
        best = min(best, (time.perf_counter() - start) / 50)
    print(f"{args.library}: {best * 1e3:.2f} ms/step, {1 / best:.0f} steps/s")


if __name__ == "__main__":
    main()
