"""Denoise the 8x8 digits with a small U-Net: strided downsampling, ConvTranspose upsampling, skip concatenations.

Written as a PyTorch script: the same code runs on convref's engine (the default) or on PyTorch
(--framework torch, if installed), only the imports differ. Each training image gets fresh Gaussian
noise (sigma --noise) at every step; the network learns to return the clean digit under an MSE loss.
Encoder: two 3x3 convs (16 channels, replicate padding) at 8x8, a stride-2 conv to 4x4 (32 channels);
decoder: ConvTranspose2d back to 8x8, concatenated with the encoder's 8x8 features (the skip), two 3x3
convs and a 1x1 conv to one channel. Adam with a OneCycleLR schedule over all steps.

Run: python examples/denoise_autoencoder.py [--framework engine|torch] [--device cpu|cuda] [--epochs N] [--noise S]
Prints the test MSE of the noisy input and of the denoised output per epoch and the median time of a
training step; writes denoise_autoencoder.png (rows: noisy, denoised, clean test digits).
Needs scikit-learn (pip install -e ".[examples]").
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


def make_model(lib, nn):
    class UNet(nn.Module):
        def __init__(self, width=16):
            super().__init__()
            self.encode = nn.Sequential(nn.Conv2d(1, width, 3, padding="same", padding_mode="replicate"), nn.SiLU(),
                                        nn.Conv2d(width, width, 3, padding="same", padding_mode="replicate"), nn.SiLU())
            self.down = nn.Sequential(nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.SiLU(),
                                      nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.SiLU())
            self.up = nn.ConvTranspose2d(2 * width, width, 2, stride=2)
            self.decode = nn.Sequential(nn.Conv2d(2 * width, width, 3, padding=1), nn.SiLU(),
                                        nn.Conv2d(width, width, 3, padding=1), nn.SiLU(), nn.Conv2d(width, 1, 1))

        def forward(self, x):
            skip = self.encode(x)
            merged = lib.cat([self.up(self.down(skip)), skip], dim=1)
            return x + self.decode(merged)  # predict the correction: the identity is the starting point

    return UNet()


def noisy(lib, clean, sigma, generator):
    noise = generator.standard_normal(tuple(clean.shape)).astype(np.float32) * sigma
    return clean + lib.tensor(noise, device=clean.device)


def test_mse(fw, model, x_test, sigma, device):
    """(MSE of the noisy test images, MSE of the denoised ones) against the clean, one fixed noise draw."""
    noisy_test = x_test + np.random.default_rng(1).standard_normal(x_test.shape).astype(np.float32) * sigma
    model.eval()
    with fw.lib.no_grad():
        denoised = model(fw.lib.tensor(noisy_test, device=device)).cpu().numpy()
    model.train()
    return float(np.mean((noisy_test - x_test) ** 2)), float(np.mean((denoised - x_test) ** 2)), noisy_test, denoised


def plot(noisy_test, denoised, clean, path, title, count=10):
    fig, axes = plt.subplots(3, count, figsize=(count * 1.1, 3.8))
    for row, (images, label) in enumerate(((noisy_test, "noisy"), (denoised, "denoised"), (clean, "clean"))):
        for i in range(count):
            ax = axes[row, i]
            ax.imshow(np.clip(images[i, 0], 0, 1), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_ylabel(label, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    p = _common.framework_parser(__doc__.splitlines()[0], epochs=20, out_name="denoise_autoencoder.png")
    p.add_argument("--noise", type=float, default=0.3, help="standard deviation of the added noise (pixels in [0, 1])")
    args = p.parse_args(argv)
    fw = _common.framework(args.framework)
    _common.framework_setup(args, fw)
    (x_train, _), (x_test, _) = E.data.load_digits()
    x_train = _common.subset((x_train,), args.subset)[0]
    loader = fw.data.DataLoader(fw.data.TensorDataset(fw.lib.tensor(x_train, device=args.device)),
                                batch_size=args.batch_size, shuffle=True, drop_last=True)
    model = make_model(fw.lib, fw.nn).to(args.device)
    optimizer = fw.optim.Adam(model.parameters(), lr=3e-3)
    scheduler = fw.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-2, epochs=args.epochs,
                                                 steps_per_epoch=len(loader))
    criterion = fw.nn.MSELoss()
    generator = np.random.default_rng(args.seed)
    print(f"{args.framework}: U-Net with {sum(p.numel() for p in model.parameters())} parameters, "
          f"{len(x_train)} train / {len(x_test)} test digits, noise sigma {args.noise}")
    history = {"loss": [], "test_mse": []}
    step_times, start = [], time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        total = count = 0
        for (clean,) in loader:
            inputs = noisy(fw.lib, clean, args.noise, generator)
            began = time.perf_counter()
            loss = criterion(model(inputs), clean)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            value = loss.item()
            step_times.append(time.perf_counter() - began)
            total, count = total + value * len(clean), count + len(clean)
        noisy_mse, denoised_mse, noisy_test, denoised = test_mse(fw, model, x_test, args.noise, args.device)
        history["loss"].append(total / count)
        history["test_mse"].append(denoised_mse)
        print(f"epoch {epoch:3d}/{args.epochs} train MSE {history['loss'][-1]:.4f}  test MSE noisy {noisy_mse:.4f} "
              f"-> denoised {denoised_mse:.4f}", flush=True)
    seconds = time.perf_counter() - start
    step_ms = 1e3 * float(np.median(step_times))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "denoise_autoencoder.png"
    plot(noisy_test, denoised, x_test, path, f"{args.framework}: test MSE {noisy_mse:.4f} (noisy) -> "
         f"{denoised_mse:.4f} (denoised)")
    print(f"test MSE {noisy_mse:.4f} noisy -> {denoised_mse:.4f} denoised after {args.epochs} epochs in "
          f"{seconds:.1f} s; median training step {step_ms:.2f} ms (batch {args.batch_size}); wrote {path}")
    return {"history": history, "noisy_mse": noisy_mse, "denoised_mse": denoised_mse, "seconds": seconds,
            "step_ms": step_ms}


if __name__ == "__main__":
    main()
