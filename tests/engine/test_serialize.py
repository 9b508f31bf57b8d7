"""E.save / E.load and state_dict round trips; truncated, foreign and mismatched files give clear errors."""
import numpy as np
import pytest

import engine as E
from engine import nn


def _model(seed):
    E.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 2))


def test_state_dict_round_trip_through_a_file(rng, tmp_path):
    model = _model(0)
    x = E.tensor(rng.standard_normal((4, 1, 4, 4)).astype(np.float32))
    model(x)  # move the running statistics away from their initial values
    model.eval()
    path = tmp_path / "model.npz"
    E.save(model.state_dict(), path)
    assert path.exists()  # the exact name, no second .npz appended
    restored = _model(1).eval()
    assert not np.array_equal(restored(x).numpy(), model(x).numpy())
    state = E.load(path)
    assert set(state) == set(model.state_dict()) and state["1.running_mean"].dtype == np.float32
    restored.load_state_dict(state)
    np.testing.assert_array_equal(restored(x).numpy(), model(x).numpy())


def test_state_dict_is_a_copy_and_loading_is_in_place():
    model = _model(0)
    state = model.state_dict()
    state["0.weight"][...] = 0
    assert np.abs(model[0].weight.numpy()).sum() > 0
    weight = model[0].weight
    model.load_state_dict({k: E.tensor(v) for k, v in state.items()})
    assert model[0].weight is weight and np.abs(weight.numpy()).sum() == 0


def test_load_state_dict_mismatches(tmp_path):
    model = _model(0)
    state = model.state_dict()
    with pytest.raises(KeyError, match="missing.*0.bias"):
        model.load_state_dict({k: v for k, v in state.items() if k != "0.bias"})
    with pytest.raises(KeyError, match="unexpected.*extra"):
        model.load_state_dict({**state, "extra": np.ones(1)})
    model.load_state_dict({k: v for k, v in state.items() if k != "0.bias"}, strict=False)
    with pytest.raises(ValueError, match="4.weight.*shape"):
        model.load_state_dict({**state, "4.weight": np.ones((3, 12))})


def test_truncated_file_raises(tmp_path):
    path = tmp_path / "model.npz"
    E.save(_model(0).state_dict(), path)
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 30):
        truncated = tmp_path / f"cut{cut}.npz"
        truncated.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="cut"):
            E.load(truncated)


def test_foreign_files_raise(tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, weights=np.ones(3))
    with pytest.raises(ValueError, match="not written by engine.save"):
        E.load(other)
    single = tmp_path / "single.npy"
    np.save(single, np.ones(3))
    with pytest.raises(ValueError, match="single array"):
        E.load(single)
    text = tmp_path / "notes.txt"
    text.write_text("not an archive at all")
    with pytest.raises(ValueError, match="notes.txt"):
        E.load(text)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, __convref_format__=np.array(1), obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickled"):
        E.load(pickled)
    with pytest.raises(FileNotFoundError):
        E.load(tmp_path / "missing.npz")


def test_save_refuses_what_it_cannot_store(tmp_path):
    with pytest.raises(TypeError, match="numeric"):
        E.save({"names": np.array(["a", "b"])}, tmp_path / "x.npz")
    with pytest.raises(ValueError, match="keys"):
        E.save({3: np.ones(2)}, tmp_path / "x.npz")
