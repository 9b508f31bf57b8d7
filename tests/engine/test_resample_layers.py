"""F.pad, F.interpolate, adaptive pooling and conv layers with padding='same' / padding_mode: gradients against
finite differences in float64, layers against PyTorch when installed."""
import numpy as np
import pytest

import engine as E
from engine import functional as F
from engine import nn
from tests.engine.gradients import assert_grads_match, leaves, weighted_sum

F64 = dict(dtype=np.float64)
CASES = {  # name: (function of x, input shape)
    "pad-constant": (lambda x: F.pad(x, (1, 2, 0, 1), value=0.5), (2, 2, 3, 4)),
    "pad-reflect-1d": (lambda x: F.pad(x, (2, 3), "reflect"), (1, 2, 5)),
    "pad-replicate-3d": (lambda x: F.pad(x, (1, 0, 0, 2, 1, 1), "replicate"), (1, 1, 2, 3, 3)),
    "pad-circular": (lambda x: F.pad(x, (3, 1, 2, 2), "circular"), (1, 2, 3, 4)),
    "nearest": (lambda x: F.interpolate(x, scale_factor=2), (1, 2, 3, 3)),
    "bilinear": (lambda x: F.interpolate(x, size=(5, 7), mode="bilinear"), (1, 2, 3, 4)),
    "bilinear-corners": (lambda x: F.interpolate(x, scale_factor=1.5, mode="bilinear", align_corners=True), (2, 1, 3, 4)),
    "linear-down": (lambda x: F.interpolate(x, size=3, mode="linear"), (2, 2, 7)),
    "adaptive-avg": (lambda x: nn.AdaptiveAvgPool2d((2, 3))(x), (2, 2, 5, 7)),
    "adaptive-avg-1d-3d": (lambda x: nn.AdaptiveAvgPool1d(2)(x.flatten(2)).sum() + nn.AdaptiveAvgPool3d(1)(
        x.unsqueeze(2)).sum(), (1, 2, 3, 4)),
    "adaptive-max": (lambda x: nn.AdaptiveMaxPool2d((2, 2))(x), (2, 2, 5, 4)),
    "upsample": (lambda x: nn.Upsample(scale_factor=2, mode="bilinear")(x), (1, 2, 2, 3)),
}


@pytest.mark.parametrize("case", CASES)
def test_gradients_match_finite_differences(case, rng):
    fn, shape = CASES[case]
    (x,) = leaves(rng, shape)
    assert_grads_match(lambda: weighted_sum(fn(x)), [x])


CONVS = [  # (layer, input shape)
    (lambda: nn.Conv2d(2, 3, 3, padding="same", **F64), (2, 2, 5, 6)),
    (lambda: nn.Conv2d(2, 2, 4, padding="same", dilation=2, **F64), (1, 2, 9, 8)),
    (lambda: nn.Conv1d(2, 3, 4, padding="same", padding_mode="reflect", **F64), (2, 2, 7)),
    (lambda: nn.Conv2d(2, 4, 3, padding=1, padding_mode="circular", groups=2, **F64), (1, 2, 5, 4)),
    (lambda: nn.Conv2d(2, 2, (3, 2), stride=2, padding=(1, 2), padding_mode="replicate", **F64), (1, 2, 6, 5)),
    (lambda: nn.Conv3d(1, 2, 3, padding="same", padding_mode="reflect", **F64), (1, 1, 3, 4, 4)),
]


@pytest.mark.parametrize("index", range(len(CONVS)))
def test_conv_padding_gradients(index, rng):
    make, shape = CONVS[index]
    layer = make()
    (x,) = leaves(rng, shape)
    out = layer(x)
    if layer.padding == "same":
        assert out.shape[2:] == shape[2:]
    assert_grads_match(lambda: weighted_sum(layer(x)), [x, layer.weight, layer.bias])


@pytest.mark.parametrize("index", range(len(CONVS)))
def test_conv_padding_matches_pytorch(index, rng):
    torch = pytest.importorskip("torch")
    make, shape = CONVS[index]
    layer = make()
    x = rng.standard_normal(shape)
    theirs = getattr(torch.nn, type(layer).__name__)(
        layer.in_channels, layer.out_channels, layer.kernel_size, stride=layer.stride, padding=layer.padding,
        dilation=layer.dilation, groups=layer.groups, padding_mode=layer.padding_mode, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(layer.weight.numpy()))
        theirs.bias.copy_(torch.tensor(layer.bias.numpy()))
    np.testing.assert_allclose(layer(E.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10,
                               atol=1e-12)


def test_padding_mode_is_checked():
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(1, 1, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="stride 1"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same", padding_mode="reflect")


def test_adaptive_max_returns_indices(rng):
    x = E.tensor(rng.standard_normal((1, 2, 4, 4)))
    out, indices = nn.AdaptiveMaxPool2d(2, return_indices=True)(x)
    assert out.shape == (1, 2, 2, 2) and indices.dtype == np.int64
    assert np.array_equal(np.take_along_axis(x.numpy().reshape(1, 2, -1), indices.numpy().reshape(1, 2, -1), 2),
                          out.numpy().reshape(1, 2, -1))
