"""The engine on device="cuda" against itself on the CPU: every op forward and backward, moves between devices,
optimizers, state_dict, and a small CNN's training steps, which must not copy data between host and device."""
import contextlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest

import engine as E
from engine import functional as F
from engine import nn
from tests.helpers import assert_close

pytestmark = pytest.mark.cuda

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _grad(shape):
    return ("grad", shape)


def _positive(shape):
    return ("positive", shape)


def _const(shape):
    return ("const", shape)


def _variance(shape):
    return ("variance", shape)


def _labels(n, classes):
    return ("labels", (n, classes))


# name: (function of tensors -> tensor, its inputs); shapes stay tiny, the simulator runs every thread in Python
CASES = {
    "add-sub-broadcast": (lambda a, b: (a + b) - 0.5 * b, [_grad((2, 3, 1)), _grad((4,))]),
    "mul-div-broadcast": (lambda a, b: a * b / (b + a), [_positive((2, 1, 3)), _positive((2, 4, 1))]),
    "scalars-neg-pow": (lambda a: 1.5 - (-a) ** 3 + 2 / (a ** 2 + 1), [_grad((3, 2))]),
    "matmul-batched": (lambda a, b: a @ b, [_grad((2, 3, 4)), _grad((4, 5))]),
    "matmul-vectors": (lambda a, b: a @ b, [_grad((4,)), _grad((2, 4, 3))]),
    "sum-mean": (lambda a: a.sum(dim=(0, 2), keepdim=True) + a.mean(dim=1, keepdim=True) + a.mean(), [_grad((2, 3, 4))]),
    "shapes": (lambda a: a.reshape(4, 6).T.flatten() + a.permute(2, 0, 1).reshape(-1) + a.transpose(0, 1).reshape(24),
               [_grad((2, 3, 4))]),
    "getitem": (lambda a: a[1:, ::2, None, -1] * 2 + a[0, 2], [_grad((2, 3, 4))]),
    "activations": (lambda a: a.relu() + a.sigmoid() * a.tanh() + (a * a + 1).log() + (a / 3).exp(), [_grad((3, 5))]),
    "softmax": (lambda a: a.softmax(dim=1) + a.log_softmax(dim=-1), [_grad((2, 3, 4))]),
    "cast": (lambda a: (a.to(np.float32) * 3).to(np.float64), [_grad((2, 3))]),
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2), [_grad((2, 4, 5, 4)), _grad((4, 2, 3, 2)),
                                                                               _grad((4,))]),
    "conv1d-3d": (lambda x, w, v, u: F.conv1d(x, w, dilation=2).sum() + F.conv3d(v, u, padding=1).sum(),
                  [_grad((1, 2, 7)), _grad((3, 2, 2)), _grad((1, 1, 3, 2, 3)), _grad((2, 1, 2, 2, 2))]),
    "conv_transpose2d": (lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
                         [_grad((1, 2, 3, 2)), _grad((2, 3, 3, 3)), _grad((3,))]),
    "pools": (lambda x: F.max_pool2d(x, 3, stride=2, padding=1).sum(dim=(2, 3)) + F.avg_pool2d(x, 2).sum(dim=(2, 3))
              + F.blur_pool2d(x).sum(dim=(2, 3)), [_grad((2, 2, 5, 5))]),
    "max_pool1d": (lambda x: F.max_pool1d(x, 2), [_grad((1, 2, 7))]),
    "correlate-convolve": (lambda a, b: F.correlate(a, b, mode="same") + F.convolve(a, b, mode="same"),
                           [_grad((6, 5)), _grad((3, 2))]),
    "linear": (lambda x, w, b: F.linear(x, w, b), [_grad((2, 3, 4)), _grad((5, 4)), _grad((5,))]),
    "batch_norm-train": (lambda x, w, b, mean, var: F.batch_norm(x, mean, var, w, b, training=True),
                         [_grad((3, 2, 2, 2)), _grad((2,)), _grad((2,)), _const((2,)), _variance((2,))]),
    "batch_norm-eval": (lambda x, mean, var: F.batch_norm(x, mean, var), [_grad((3, 2, 4)), _const((2,)), _variance((2,))]),
    "dropout": (lambda x: F.dropout(x, 0.4, generator=np.random.default_rng(7)), [_grad((4, 5))]),
    "mse": (lambda a, b: F.mse_loss(a, b) + F.mse_loss(a, b, reduction="none").sum(dim=0), [_grad((3, 4)), _grad((3, 4))]),
    "cross_entropy": (lambda logits, labels: F.cross_entropy(logits, labels) + F.cross_entropy(logits, labels, "sum")
                      + F.cross_entropy(logits, labels, "none"), [_grad((4, 3)), _labels(4, 3)]),
}


def _inputs(rng, specs):
    arrays = []
    for kind, shape in specs:
        if kind == "labels":
            arrays.append(rng.integers(0, shape[1], shape[0]))
        else:
            values = rng.standard_normal(shape)
            arrays.append(np.abs(values) + 0.5 if kind in ("positive", "variance") else values)
    return arrays


def _run(fn, specs, arrays, device):
    """fn on tensors on `device`: (result, input gradients, inputs' values after the call) as NumPy arrays."""
    tensors = [E.tensor(a, device=device, requires_grad=kind in ("grad", "positive")) for a, (kind, _) in zip(arrays, specs)]
    out = fn(*tensors)
    assert out.device == device
    weights = E.tensor(np.random.default_rng(0).standard_normal(out.shape), device=device)
    (out * weights).sum().backward()
    grads = [t.grad.numpy() for t in tensors if t.requires_grad]
    assert all(t.grad.device == device for t in tensors if t.requires_grad)
    return out.numpy(), grads, [t.numpy() for t in tensors]


def assert_matches_the_cpu(fn, specs, rng):
    """fn's result, input gradients and inputs afterwards on the device equal the CPU's."""
    arrays = _inputs(rng, specs)
    out, grads, values = _run(fn, specs, arrays, "cpu")
    cuda_out, cuda_grads, cuda_values = _run(fn, specs, arrays, "cuda")
    for got, want in zip([cuda_out] + cuda_grads + cuda_values, [out] + grads + values):
        assert_close(got, want, np.float64)


@pytest.mark.parametrize("case", CASES)
def test_each_op_on_cuda_matches_the_cpu(case, rng):
    assert_matches_the_cpu(*CASES[case], rng)


def _cnn(dtype):
    E.manual_seed(3)
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(8, 5, dtype=dtype), nn.ReLU(), nn.Linear(5, 3, dtype=dtype))


OPTIMIZERS = {
    "sgd": lambda params: E.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda params: E.optim.Adam(params, lr=1e-2, weight_decay=1e-3),
}


@contextlib.contextmanager
def no_host_device_copies():
    """Fail if anything inside copies an array between host and device."""
    from numba import cuda
    array_type = type(cuda.device_array(1))
    copies = []

    def counting(name, original):
        def copy(*args, **kwargs):
            copies.append(name)
            return original(*args, **kwargs)
        return copy

    patches = [(cuda, "to_device"), (array_type, "copy_to_host"), (array_type, "copy_to_device")]
    saved = [getattr(owner, name) for owner, name in patches]
    for owner, name in patches:
        setattr(owner, name, counting(name, getattr(owner, name)))
    try:
        yield
    finally:
        for (owner, name), original in zip(patches, saved):
            setattr(owner, name, original)
    assert not copies, f"host <-> device copies inside a training step: {copies}"


def _train(device, dtype, optimizer, x, labels, steps=3):
    model = _cnn(dtype).to(device)
    opt = OPTIMIZERS[optimizer](model.parameters())
    xb, yb = E.tensor(x, device=device), E.tensor(labels, device=device)
    losses = []
    for _ in range(steps):
        with no_host_device_copies() if device == "cuda" else contextlib.nullcontext():
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        losses.append(loss.item())
    return losses, {name: t.numpy() for name, t in model.named_parameters()}


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cnn_training_steps_on_cuda_match_the_cpu(dtype, optimizer, rng):
    x = rng.standard_normal((2, 1, 4, 4)).astype(dtype)
    labels = rng.integers(0, 3, 2)
    cpu_losses, cpu_params = _train("cpu", dtype, optimizer, x, labels)
    cuda_losses, cuda_params = _train("cuda", dtype, optimizer, x, labels)
    assert_close(cuda_losses, cpu_losses, dtype)
    assert cpu_losses[-1] < cpu_losses[0]
    for name in cpu_params:
        assert_close(cuda_params[name], cpu_params[name], dtype)


def test_compiled_step_on_cuda_matches_eager_cpu(rng):
    x = rng.standard_normal((2, 1, 4, 4))
    labels = rng.integers(0, 3, 2)
    eager_losses, eager_params = _train("cpu", np.float64, "sgd", x, labels, steps=2)
    model = _cnn(np.float64).to("cuda")
    opt = OPTIMIZERS["sgd"](model.parameters())
    step = E.compile(lambda xb, yb: F.cross_entropy(model(xb), yb))
    xb, yb = E.tensor(x, device="cuda"), E.tensor(labels, device="cuda")
    losses = []
    for _ in range(2):
        opt.zero_grad()
        losses.append(step(xb, yb).item())
        opt.step()
    assert_close(losses, eager_losses)
    for name, t in model.named_parameters():
        assert_close(t.numpy(), eager_params[name])


def test_to_round_trips(rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    t = E.tensor(x, requires_grad=True)
    on_gpu = t.to("cuda")
    assert on_gpu.device == "cuda" and on_gpu.dtype == np.float32 and on_gpu.requires_grad and on_gpu.is_leaf
    assert on_gpu.to("cuda") is on_gpu
    back = on_gpu.to("cpu")
    assert back.device == "cpu" and np.array_equal(back.numpy(), x)
    copy = E.tensor(on_gpu, device="cuda", dtype=np.float64)
    assert copy.device == "cuda" and copy.dtype == np.float64 and np.array_equal(copy.numpy(), x.astype(np.float64))
    assert E.tensor([[1, 2]], device="cuda").dtype == np.int64
    assert E.tensor(2.5, device="cuda").item() == 2.5
    assert np.array_equal(E.tensor(x, device="cuda").argmax(dim=1).numpy(), x.argmax(axis=1))
    assert "device='cuda'" in repr(on_gpu)


def test_module_to_moves_parameters_and_state_dict_saves_and_loads(tmp_path, rng):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3))
    before = model.state_dict()
    assert model.to("cuda") is model
    assert all(t.device == "cuda" for t in list(model.parameters()) + list(model.buffers()))
    state = model.state_dict()
    assert all(isinstance(v, np.ndarray) and np.array_equal(v, before[k]) for k, v in state.items())
    E.save(state, tmp_path / "model.npz")

    fresh = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3)).to("cuda")
    fresh.load_state_dict(E.load(tmp_path / "model.npz"))
    x = E.tensor(rng.standard_normal((2, 1, 4, 4)).astype(np.float32), device="cuda")
    model.eval(), fresh.eval()
    assert np.array_equal(fresh(x).numpy(), model(x).numpy())
    assert_close(model.to("cpu")(x.to("cpu")).numpy(), fresh(x).numpy())
    assert model.to(np.float64).to("cuda")[0].weight.dtype == np.float64


def test_data_loader_batches_onto_the_device(rng):
    x, y = rng.standard_normal((5, 2)).astype(np.float32), np.arange(5)
    batches = list(E.data.DataLoader(x, y, batch_size=2, device="cuda"))
    assert len(batches) == 3 and all(t.device == "cuda" for batch in batches for t in batch)
    assert np.array_equal(batches[2][1].numpy(), [4])


def test_operands_on_different_devices_raise(rng):
    cpu = E.tensor(rng.standard_normal((2, 3)))
    gpu = E.tensor(rng.standard_normal((2, 3)), device="cuda")
    with pytest.raises(ValueError, match=r"different devices \(cpu, cuda\)"):
        cpu + gpu
    with pytest.raises(ValueError, match="different devices"):
        gpu @ cpu.T
    with pytest.raises(ValueError, match="different devices"):
        F.conv2d(gpu.reshape(1, 1, 2, 3), cpu.reshape(1, 1, 2, 3))
    with pytest.raises(TypeError, match="host .*NumPy.* array"):
        gpu * np.ones((2, 3))
    with pytest.raises(ValueError, match="different devices"):
        F.linear(gpu, E.tensor(rng.standard_normal((4, 3))))


def test_cross_entropy_with_a_bad_label_is_nan_on_the_device(rng):
    logits = E.tensor(rng.standard_normal((2, 3)), device="cuda")
    assert np.isnan(F.cross_entropy(logits, E.tensor([0, 3], device="cuda")).item())


def test_advanced_indexing_on_the_device_is_refused(rng):
    gpu = E.tensor(rng.standard_normal((3, 2)), device="cuda")
    with pytest.raises(NotImplementedError, match="basic"):
        gpu[np.array([0, 2])]


def test_example_training_loop_runs_on_cuda(rng, capsys):
    """examples/_common.py's epoch loop and accuracy with --device cuda (a tiny model: the simulator is slow)."""
    spec = importlib.util.spec_from_file_location("examples_common", EXAMPLES / "_common.py")
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)
    x, y = rng.standard_normal((6, 1, 3)).astype(np.float32), rng.integers(0, 2, 6)
    E.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3, 2)).to("cuda")
    history = common.train(model, E.optim.Adam(model.parameters(), lr=0.1), (x, y), (x, y), 2, 3, "cuda")
    assert len(history["loss"]) == 2 and history["loss"][1] < history["loss"][0]
    assert history["test_acc"][-1] == common.accuracy(model.to("cpu"), x, y, "cpu")
    assert "epoch   2/2" in capsys.readouterr().out
