"""One LeNet-5 training step (bench-shapes.md: batch 64 of 1x28x28, SGD with momentum) in convref's engine or
in PyTorch, one library per process so their thread pools don't meet.

    .venv/bin/python asv_bench/compare_training.py engine
    .venv/bin/python asv_bench/compare_training.py torch      # torch.set_num_threads(2)

Prints the best mean time per step over 5 runs of 50 steps, after 20 warm-up steps.
"""
import sys
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
        loss_fn, x, y = E.functional.cross_entropy, E.tensor(x), E.tensor(y)

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    return step


def main(library):
    rng = np.random.default_rng(0)
    step = make_step(library, rng.standard_normal((64, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 64))
    for _ in range(20):
        step()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(50):
            step()
        best = min(best, (time.perf_counter() - start) / 50)
    print(f"{library}: {best * 1e3:.2f} ms/step, {1 / best:.0f} steps/s")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "engine")
