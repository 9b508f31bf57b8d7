"""Train a 1-D CNN on MNIST-1D with convref's engine, or an MLP baseline (--mlp) to see what convolution buys.

MNIST-1D (Greydanus, 2020) is generated locally: 4,000 training and 1,000 test signals of
length 40, ten classes. The CNN is the dataset authors' (three Conv1d layers of 25 channels,
stride 2, ReLU, then a linear classifier; about 94 % in their paper); the MLP (40-100-100-10)
reaches about 68 %. Both train with Adam (lr 1e-2, batches of 100) as the authors did.

Run: python examples/train_mnist1d.py [--mlp] [--epochs N] [--device cpu|cuda] [--seed S] [--threads T] [--out DIR]
Writes train_mnist1d.png (or train_mnist1d_mlp.png): training curves, and for the CNN the first
layer's filters and its feature maps for one test signal. Needs mnist1d (pip install -e ".[examples]").
"""
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import engine as E  # noqa: E402
from engine import nn  # noqa: E402


def make_cnn(channels=25):
    # lengths 40 -> 19 -> 10 -> 5
    return nn.Sequential(
        nn.Conv1d(1, channels, 5, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(channels * 5, 10))


def make_mlp(hidden=100):
    return nn.Sequential(nn.Flatten(), nn.Linear(40, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, 10))


def plot(history, model, signal, mlp, path):
    fig = plt.figure(figsize=(12, 7.5 if not mlp else 3.8))
    outer = fig.add_gridspec(1 if mlp else 2, 3)
    plot_loss, plot_acc = fig.add_subplot(outer[0, 0]), fig.add_subplot(outer[0, 1])
    _common.plot_curves(plot_loss, plot_acc, history)
    plot_acc.set_title(f"{'MLP' if mlp else 'CNN'}: test accuracy {100 * history['test_acc'][-1]:.1f} %", fontsize=10)
    ax = fig.add_subplot(outer[0, 2])
    ax.plot(signal[0], color="k")
    ax.set_title("input (a test signal)", fontsize=10)
    if not mlp:
        conv1 = model[0]
        filters = conv1.weight.numpy()[:, 0]
        ax = fig.add_subplot(outer[1, 0])
        ax.imshow(filters, cmap="RdBu_r", vmin=-np.abs(filters).max(), vmax=np.abs(filters).max(), aspect="auto")
        ax.set_title("first-layer filters (25 x 5 taps)", fontsize=10)
        ax.set_xlabel("tap")
        ax.set_ylabel("filter")
        with E.no_grad():
            maps = model[1](conv1(E.tensor(signal[None]))).numpy()[0]
        ax = fig.add_subplot(outer[1, 1:])
        ax.imshow(maps, cmap="viridis", aspect="auto")
        ax.set_title("their feature maps for the signal above (after ReLU, length 19)", fontsize=10)
        ax.set_xlabel("position")
        ax.set_ylabel("channel")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = _common.parser(__doc__.splitlines()[0], epochs=150, out_name="train_mnist1d.png")
    p.add_argument("--mlp", action="store_true", help="train the MLP baseline instead of the CNN")
    args = p.parse_args(argv)
    _common.setup(args)
    train_set, test_set = E.data.load_mnist1d()
    train_set = _common.subset(train_set, args.subset)
    model = (make_mlp() if args.mlp else make_cnn()).to(args.device)
    optimizer = E.optim.Adam(model.parameters(), lr=1e-2)
    print(f"MNIST-1D: {len(train_set[0])} train / {len(test_set[0])} test signals of length 40; "
          f"{'MLP' if args.mlp else 'CNN'} with {sum(p.numel() for p in model.parameters())} parameters")
    return _common.run(args, model, optimizer, train_set, test_set, 100, f"train_mnist1d{'_mlp' if args.mlp else ''}.png",
                       lambda history, path: plot(history, model, test_set[0][0], args.mlp, path))

if __name__ == "__main__":
    main()
