"""Train a small CNN on scikit-learn's 8x8 handwritten digits with convref's engine.

The model is the one PyTorch reaches 98 % with on this split: conv 16@3x3 - conv 32@3x3 -
max-pool 2 - fc 64 - fc 10 (ReLU between), trained with Adam. The digits are small enough
(8x8) to need no upsampling: padding 1 keeps both convolutions at full size.

Run: python examples/train_digits.py [--epochs N] [--device cpu|cuda] [--seed S] [--threads T] [--out DIR]
Writes train_digits.png: training curves, the first layer's 3x3 filters, and its feature maps
for one test digit. Needs scikit-learn (pip install -e ".[examples]").
"""
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import engine as E  # noqa: E402
from engine import nn  # noqa: E402


def make_model():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10))


def plot(history, model, image, path):
    fig = plt.figure(figsize=(12, 7.5))
    outer = fig.add_gridspec(2, 3, height_ratios=[1, 1.2])
    plot_loss, plot_acc = fig.add_subplot(outer[0, 0]), fig.add_subplot(outer[0, 1])
    _common.plot_curves(plot_loss, plot_acc, history)
    plot_acc.set_title(f"test accuracy {100 * history['test_acc'][-1]:.1f} %", fontsize=10)
    digit = fig.add_subplot(outer[0, 2])
    digit.imshow(image[0], cmap="gray_r")
    digit.set_title("input (a test digit)", fontsize=10)
    digit.set_xticks([])
    digit.set_yticks([])
    conv1 = model[0]
    _common.image_grid(fig, outer[1, 0], conv1.weight.numpy()[:, 0], "first-layer 3x3 filters")
    with E.no_grad():
        maps = model[1](conv1(E.tensor(image[None]))).numpy()[0]
    _common.image_grid(fig, outer[1, 1:], maps, "their feature maps (after ReLU)", cmap="viridis", cols=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    args = _common.parser(__doc__.splitlines()[0], epochs=20, out_name="train_digits.png").parse_args(argv)
    _common.setup(args)
    train_set, test_set = E.data.load_digits()
    train_set = _common.subset(train_set, args.subset)
    model = make_model().to(args.device)
    optimizer = E.optim.Adam(model.parameters(), lr=1e-3)
    print(f"digits: {len(train_set[0])} train / {len(test_set[0])} test images of 8x8; "
          f"{sum(p.numel() for p in model.parameters())} parameters")
    return _common.run(args, model, optimizer, train_set, test_set, 32, "train_digits.png",
                       lambda history, path: plot(history, model, test_set[0][0], path))

if __name__ == "__main__":
    main()
