"""Train a small ResNet (BatchNorm, residual adds, adaptive average pooling, cosine schedule) on the 8x8 digits.

Written as a PyTorch script: the same code runs on convref's engine (the default) or on PyTorch
(--framework torch, if installed), only the imports differ, so the two can be compared side by side.
The network: a 3x3 stem (16 channels), two basic residual blocks (16 channels at 8x8, then 32 at 4x4 with
a strided 1x1 projection shortcut), global average pooling and a linear classifier; SGD with Nesterov
momentum and weight decay, the learning rate annealed by CosineAnnealingLR, label smoothing 0.05.

Run: python examples/train_resnet_digits.py [--framework engine|torch] [--device cpu|cuda] [--epochs N] [--threads T]
Prints one line per epoch and the median time of a training step; writes train_resnet_digits.png
(loss, accuracy and learning rate per epoch). Needs scikit-learn (pip install -e ".[examples]").
"""
import sys
import time
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import engine as E  # noqa: E402


def make_model(nn, F):
    class BasicBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(out_channels)
            self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(out_channels)
            self.shortcut = nn.Identity()
            if stride != 1 or in_channels != out_channels:
                self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                              nn.BatchNorm2d(out_channels))

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return F.relu(out + self.shortcut(x))

    class ResNet(nn.Module):
        def __init__(self, widths=(16, 32), classes=10):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(1, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]),
                                      nn.ReLU(inplace=True))
            blocks, channels = [], widths[0]
            for i, width in enumerate(widths):
                blocks.append(BasicBlock(channels, width, stride=1 if i == 0 else 2))
                channels = width
            self.blocks = nn.ModuleList(blocks)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(channels, classes)

        def forward(self, x):
            x = self.stem(x)
            for block in self.blocks:
                x = block(x)
            return self.fc(self.pool(x).flatten(1))

    return ResNet()


def evaluate(fw, model, loader):
    model.eval()
    correct = count = 0
    with fw.lib.no_grad():
        for xb, yb in loader:
            correct += (model(xb).argmax(dim=1) == yb).sum().item()
            count += len(yb)
    model.train()
    return correct / count


def plot(history, path, label):
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    epochs = np.arange(1, len(history["loss"]) + 1)
    axes[0].plot(epochs, history["loss"])
    axes[0].set(xlabel="epoch", ylabel="training loss", yscale="log")
    axes[1].plot(epochs, 100 * np.array(history["test_acc"]), label="test")
    axes[1].set(xlabel="epoch", ylabel="accuracy (%)", title=f"{label}: test {100 * history['test_acc'][-1]:.1f} %")
    axes[2].plot(epochs, history["lr"])
    axes[2].set(xlabel="epoch", ylabel="learning rate", title="CosineAnnealingLR")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    p = _common.framework_parser(__doc__.splitlines()[0], epochs=15, out_name="train_resnet_digits.png")
    args = p.parse_args(argv)
    fw = _common.framework(args.framework)
    _common.framework_setup(args, fw)
    (x_train, y_train), (x_test, y_test) = E.data.load_digits()
    x_train, y_train = _common.subset((x_train, y_train), args.subset)
    as_tensor = lambda a: fw.lib.tensor(a, device=args.device)  # noqa: E731
    train_loader = fw.data.DataLoader(fw.data.TensorDataset(as_tensor(x_train), as_tensor(y_train)),
                                      batch_size=args.batch_size, shuffle=True, drop_last=True)
    test_loader = fw.data.DataLoader(fw.data.TensorDataset(as_tensor(x_test), as_tensor(y_test)), batch_size=500)
    model = make_model(fw.nn, fw.F).to(args.device)
    optimizer = fw.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    scheduler = fw.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    criterion = fw.nn.CrossEntropyLoss(label_smoothing=0.05)
    print(f"{args.framework}: ResNet with {sum(p.numel() for p in model.parameters())} parameters, "
          f"{len(x_train)} train / {len(x_test)} test digits")
    history = {"loss": [], "test_acc": [], "lr": []}
    step_times, start = [], time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        total = count = 0
        for xb, yb in train_loader:
            began = time.perf_counter()
            loss = criterion(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            value = loss.item()
            step_times.append(time.perf_counter() - began)
            total, count = total + value * len(yb), count + len(yb)
        history["lr"].append(scheduler.get_last_lr()[0])
        scheduler.step()
        history["loss"].append(total / count)
        history["test_acc"].append(evaluate(fw, model, test_loader))
        print(f"epoch {epoch:3d}/{args.epochs} loss {history['loss'][-1]:.4f} lr {history['lr'][-1]:.4f} "
              f"test {100 * history['test_acc'][-1]:5.1f}%", flush=True)
    seconds = time.perf_counter() - start
    step_ms = 1e3 * float(np.median(step_times))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "train_resnet_digits.png"
    plot(history, path, args.framework)
    print(f"test accuracy {100 * history['test_acc'][-1]:.1f} % after {args.epochs} epochs in {seconds:.1f} s; "
          f"median training step {step_ms:.2f} ms (batch {args.batch_size}); wrote {path}")
    return {"history": history, "test_acc": history["test_acc"][-1], "seconds": seconds, "step_ms": step_ms}


if __name__ == "__main__":
    main()
