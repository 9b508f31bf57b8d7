"""Shared pieces of the training examples: arguments, the epoch loop with its progress line, and plots."""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

import engine as E
import ops.threads

OUT = Path(__file__).resolve().parent / "out"


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def parser(description, epochs, out_name):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=_positive, default=epochs, help=f"passes over the training set (default {epochs})")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where the tensors live")
    p.add_argument("--seed", type=int, default=0, help="seeds initialisation and shuffling")
    p.add_argument("--subset", type=_positive, default=None, help="train on the first SUBSET examples only (quick runs)")
    p.add_argument("--threads", type=_positive, default=None, help="cap the CPU threads of Numba and OpenMP (BLAS runs on one)")
    p.add_argument("--out", type=Path, default=OUT, help=f"folder for {out_name}")
    return p


def training_options(p, lr, out_name):
    """Add the options of the scripts that train small CNNs on the digits: --batch, --lr (Adam's, default lr),
    --train-size and --out."""
    p.add_argument("--batch", type=int, default=32, help="training batch size")
    p.add_argument("--lr", type=float, default=lr, help="Adam's learning rate")
    p.add_argument("--train-size", type=int, default=None, help="train on the first N training digits only")
    p.add_argument("--out", type=Path, default=OUT, help=f"folder for {out_name}")


def accuracy(model, x, y, device, batch_size=500):
    """Fraction of correct predictions, in evaluation mode and without a graph."""
    model.eval()
    correct = 0
    with E.no_grad():
        for xb, yb in E.data.DataLoader(x, y, batch_size=batch_size, device=device):
            correct += int((model(xb).argmax(dim=1).numpy() == yb.numpy()).sum())  # only the labels leave the device
    model.train()
    return correct / len(x)


def _bar(done, total, width=24):
    filled = round(width * done / total)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def train(model, optimizer, train_set, test_set, epochs, batch_size, device):
    """Train for `epochs`; print one progress line per epoch (a live bar on a terminal); return the history."""
    loader = E.data.DataLoader(*train_set, batch_size=batch_size, shuffle=True, device=device)
    history = {"loss": [], "train_acc": [], "test_acc": [], "seconds": []}
    live = sys.stdout.isatty()
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        total, count = 0.0, 0
        for i, (xb, yb) in enumerate(loader, start=1):
            loss = E.functional.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, count = total + loss.item() * len(yb), count + len(yb)
            if live:
                print(f"\repoch {epoch:3d}/{epochs} {_bar(i, len(loader))} loss {total / count:.4f}", end="", flush=True)
        history["loss"].append(total / count)
        history["train_acc"].append(accuracy(model, *train_set, device))
        history["test_acc"].append(accuracy(model, *test_set, device))
        history["seconds"].append(time.perf_counter() - start)
        print(f"\repoch {epoch:3d}/{epochs} {_bar(1, 1)} loss {history['loss'][-1]:.4f}  "
              f"train {100 * history['train_acc'][-1]:5.1f}%  test {100 * history['test_acc'][-1]:5.1f}%  "
              f"({history['seconds'][-1]:.1f} s)", flush=True)
    return history


def run(args, model, optimizer, train_set, test_set, batch_size, png_name, plot):
    """Train, draw plot(history, path) into args.out / png_name, print a summary; return the results."""
    history = train(model, optimizer, train_set, test_set, args.epochs, batch_size, args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / png_name
    plot(history, path)
    seconds, test_acc = history["seconds"][-1], history["test_acc"][-1]
    print(f"test accuracy {100 * test_acc:.1f} % after {args.epochs} epochs in {seconds:.1f} s; wrote {path}")
    return {"history": history, "test_acc": test_acc, "seconds": seconds, "model": model}


def subset(train_set, n):
    return train_set if n is None else tuple(a[:n] for a in train_set)


def plot_curves(ax_loss, ax_acc, history, label=""):
    epochs = np.arange(1, len(history["loss"]) + 1)
    ax_loss.plot(epochs, history["loss"], label=f"{label}train loss".strip())
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy")
    ax_loss.set_yscale("log")
    ax_acc.plot(epochs, 100 * np.array(history["train_acc"]), label=f"{label} train".strip())
    ax_acc.plot(epochs, 100 * np.array(history["test_acc"]), label=f"{label} test".strip())
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.legend()


def image_grid(fig, spec, images, title, cmap="RdBu_r", cols=None):
    """Show (count, h, w) images in a row-major grid inside one subplot-spec cell (RdBu_r: symmetric colour scale)."""
    count = len(images)
    cols = cols or int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / cols))
    grid = spec.subgridspec(rows, cols, wspace=0.05, hspace=0.05)
    limit = float(np.abs(images).max()) or 1.0
    for i in range(rows * cols):
        ax = fig.add_subplot(grid[i // cols, i % cols])
        ax.set_xticks([])
        ax.set_yticks([])
        if i < count:
            ax.imshow(images[i], cmap=cmap, vmin=-limit if cmap == "RdBu_r" else None, vmax=limit)
        else:
            ax.axis("off")
        if i == 0:
            ax.set_title(title, loc="left", fontsize=9)


def setup(args):
    """Seed, cap the threads if asked, and fail early (with the engine's message) if the device is unavailable."""
    try:
        E.tensor([0.0], device=args.device)
    except RuntimeError as error:  # no GPU (and no simulator): the message says what to install
        raise SystemExit(f"--device {args.device}: {error}")
    if args.threads:
        ops.threads.set_num_threads(args.threads)
    E.manual_seed(args.seed)


def fit(model, x, y, epochs=None, seconds=None, batch_size=32, lr=1e-3, seed=0):
    """Adam on shuffled batches of the host arrays x, y: `epochs` passes, or as many steps as fit in `seconds` of
    wall time (checked after every step). Returns (steps, epochs done, seconds taken)."""
    if (epochs is None) == (seconds is None):
        raise ValueError("give exactly one of epochs and seconds")
    rng = np.random.default_rng(seed)
    opt = E.optim.Adam(model.parameters(), lr=lr)
    steps, passes, start = 0, 0, time.perf_counter()

    def out_of_time():
        return seconds is not None and time.perf_counter() - start >= seconds

    while passes < epochs if epochs is not None else not out_of_time():
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch_size):
            batch = order[i:i + batch_size]
            loss = E.functional.cross_entropy(model(E.tensor(x[batch])), E.tensor(y[batch]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
            if out_of_time():
                break
        passes += 1
    done = passes if epochs is not None else steps * batch_size / len(x)
    return steps, done, time.perf_counter() - start


def save_figure(fig, folder, name, dpi=80):
    """Lay out, write folder / name, close; print and return the path."""
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    path = folder / name
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    print(f"wrote {path}")
    return path


def framework_parser(description, epochs, out_name):
    """parser() plus the options of the scripts that also run on PyTorch: --framework and --batch-size."""
    p = parser(description, epochs, out_name)
    p.add_argument("--framework", choices=["engine", "torch"], default="engine", help="convref's engine or PyTorch")
    p.add_argument("--batch-size", type=_positive, default=64, help="training batch size (default 64)")
    return p


def framework(name):
    """The modules a PyTorch script imports, from convref's engine or ('torch') from PyTorch itself, so one
    script runs on both: lib (torch / engine), nn, F (nn.functional), optim, data (torch.utils.data)."""
    from types import SimpleNamespace
    if name == "torch":
        try:
            import torch
        except ImportError:
            raise SystemExit("--framework torch needs PyTorch (pip install torch); it is no dependency of convref")
        return SimpleNamespace(lib=torch, nn=torch.nn, F=torch.nn.functional, optim=torch.optim, data=torch.utils.data)
    return SimpleNamespace(lib=E, nn=E.nn, F=E.functional, optim=E.optim, data=E.data)


def framework_setup(args, fw):
    """Seed and cap the threads of the chosen framework (--threads applies to both, for a fair comparison)."""
    fw.lib.manual_seed(args.seed)
    if args.threads:
        if fw.lib is E:
            ops.threads.set_num_threads(args.threads)
        else:
            fw.lib.set_num_threads(args.threads)
