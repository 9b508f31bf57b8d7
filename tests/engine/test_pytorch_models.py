"""Whole models PyTorch scripts build, defined once over a framework's nn and run on the engine and on PyTorch
with the same weights (float64): a MobileNet-style depthwise-separable net, a 1-D CNN on signals, and the
examples' ResNet and U-Net. Outputs, loss, every parameter's gradient and BatchNorm's running statistics agree."""
import numpy as np
import pytest

import engine as E
from tests.examples.loader import load_example

torch = pytest.importorskip("torch")


def mobilenet(nn):
    def separable(cin, cout, stride):
        return nn.Sequential(nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin, bias=False),
                             nn.BatchNorm2d(cin), nn.ReLU6(inplace=True), nn.Conv2d(cin, cout, 1, bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))

    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU6(),
                         separable(8, 16, 1), separable(16, 24, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Dropout(0.0), nn.Linear(24, 5))


def cnn1d(nn):
    return nn.Sequential(nn.Conv1d(2, 8, 5, padding="same", padding_mode="circular"), nn.BatchNorm1d(8), nn.GELU(),
                         nn.MaxPool1d(2), nn.Conv1d(8, 16, 3, dilation=2, padding="same"), nn.LeakyReLU(0.1),
                         nn.AdaptiveMaxPool1d(4), nn.Flatten(), nn.Linear(64, 16), nn.SiLU(), nn.Linear(16, 5))


def resnet(nn):
    return load_example("train_resnet_digits").make_model(nn, nn.functional)


def unet(nn):
    return load_example("denoise_autoencoder").make_model(torch if nn is torch.nn else E, nn)


MODELS = {  # name: (factory, input shape, loss)
    "mobilenet": (mobilenet, (4, 3, 9, 10), "ce"),
    "cnn1d": (cnn1d, (3, 2, 20), "ce"),
    "resnet": (resnet, (4, 1, 8, 8), "ce"),
    "unet": (unet, (3, 1, 8, 8), "mse"),
}


@pytest.mark.parametrize("name", MODELS)
def test_model_matches_pytorch(name, rng):
    make, shape, loss_name = MODELS[name]
    torch.manual_seed(0)
    theirs = make(torch.nn).double()
    ours = make(E.nn).to(np.float64)
    torch_state = {k: v.numpy() for k, v in theirs.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert sorted(torch_state) == sorted(ours.state_dict())  # PyTorch's parameter and buffer names
    ours.load_state_dict(torch_state)
    x = rng.standard_normal(shape)
    out, want = ours(E.tensor(x)), theirs(torch.tensor(x))
    if loss_name == "ce":
        labels = rng.integers(0, 5, shape[0])
        loss = E.nn.CrossEntropyLoss(label_smoothing=0.1)(out, E.tensor(labels))
        want_loss = torch.nn.CrossEntropyLoss(label_smoothing=0.1)(want, torch.tensor(labels))
    else:
        target = rng.standard_normal(out.shape)
        loss, want_loss = E.nn.MSELoss()(out, E.tensor(target)), torch.nn.MSELoss()(want, torch.tensor(target))
    loss.backward()
    want_loss.backward()
    np.testing.assert_allclose(out.numpy(), want.detach().numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(loss.item(), want_loss.item(), rtol=1e-10)
    grads = dict(theirs.named_parameters())
    for key, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads[key].grad.numpy(), rtol=1e-8, atol=1e-11, err_msg=key)
    after = theirs.state_dict()
    for key, value in ours.state_dict().items():  # running statistics updated alike
        np.testing.assert_allclose(value, after[key].numpy(), rtol=1e-10, atol=1e-12, err_msg=key)


def test_a_compiled_step_replays_the_new_ops(rng):
    """E.compile traces the step once and replays it: the same losses and parameters as eager steps."""
    x = E.tensor(rng.standard_normal((4, 3, 9, 10)))
    batches = [E.tensor(rng.integers(0, 5, 4)) for _ in range(3)]
    batches[2].data[:2] = 1  # the ignored class appears only after the trace was made

    def run(compiled):
        E.manual_seed(0)
        model = mobilenet(E.nn).to(np.float64)
        opt = E.optim.AdamW(model.parameters(), lr=0.01)
        loss_fn = E.nn.CrossEntropyLoss(ignore_index=1, label_smoothing=0.1)
        step = E.compile(lambda xb, yb: loss_fn(model(xb), yb)) if compiled else None
        losses = []
        for labels in batches:
            opt.zero_grad()
            if compiled:
                loss = step(x, labels)
            else:
                loss = loss_fn(model(x), labels)
                loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses, [p.numpy() for p in model.parameters()]

    (eager, eager_params), (compiled, compiled_params) = run(False), run(True)
    np.testing.assert_allclose(compiled, eager, rtol=1e-12)
    # the stem conv bias feeds BatchNorm: its true gradient is 0, its computed one rounding noise, which AdamW's
    # g / sqrt(v) turns into steps of size lr; so parameters agree to 1e-8, not to the last bit
    for a, b in zip(compiled_params, eager_params):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
