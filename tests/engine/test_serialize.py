"""E.save / E.load and state_dict round trips; truncated, foreign, forged and mismatched files give clear errors."""
import io
import struct
import zipfile

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


def _write_npz(path, entries, compression=zipfile.ZIP_STORED):
    """An archive of raw entries {member name: bytes}, as a damaged or forged file could hold."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def _npy(array, shape=None, dtype=None):
    """The .npy bytes of `array`, its header declaring `shape` / `dtype` when given (a forged header)."""
    array = np.asarray(array)
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype or array.dtype)), "fortran_order": False,
              "shape": tuple(array.shape if shape is None else shape)}
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + array.tobytes()


MARKER = {"__convref_format__.npy": _npy(np.array(1))}


def test_keys_that_differ_by_a_npy_suffix_round_trip(rng, tmp_path):
    state = {"a": rng.standard_normal(3), "a.npy": rng.standard_normal((2, 2)).astype(np.float32),
             "a.npy.npy": np.arange(4)}
    path = tmp_path / "suffixes.npz"
    E.save(state, path)
    loaded = E.load(path)
    assert loaded.keys() == state.keys()
    for key, value in state.items():
        assert loaded[key].dtype == value.dtype
        np.testing.assert_array_equal(loaded[key], value, err_msg=key)
    loaded["a"][0] = 7.0  # loaded arrays are writable, as np.load's
    fortran = np.asfortranarray(rng.standard_normal((3, 4)))
    E.save({"f": fortran, "scalar": np.float64(2.5), "empty": np.zeros((0, 3))}, path)
    loaded = E.load(path)
    np.testing.assert_array_equal(loaded["f"], fortran)
    assert loaded["scalar"].shape == () and loaded["scalar"] == 2.5 and loaded["empty"].shape == (0, 3)


def test_a_huge_declared_shape_is_a_value_error(tmp_path):
    path = tmp_path / "huge.npz"
    for shape in [(2 ** 40,), (2 ** 31, 2 ** 31, 2 ** 31), (3, 2 ** 62), (-1, -4)]:
        _write_npz(path, {**MARKER, "w.npy": _npy(np.ones(4, np.float32), shape=shape)})
        with pytest.raises(ValueError, match=r"huge.npz.*'w'.*shape"):
            E.load(path)
    _write_npz(path, {**MARKER, "w.npy": _npy(np.ones(4, np.float32), shape=(2,))})  # fewer elements than held
    with pytest.raises(ValueError, match="'w'.*holds 16 bytes"):
        E.load(path)
    # a forged zip directory too: the entry claims the 1 GiB its header declares, in a file of a few hundred bytes
    entry = _npy(np.ones(4, np.float32), shape=(2 ** 28,))
    _write_npz(path, {**MARKER, "w.npy": entry})
    data = bytearray(path.read_bytes())
    directory = data.rindex(b"PK\x01\x02")  # the last central directory record: w.npy's
    claimed = len(entry) - 16 + 2 ** 30
    data[directory + 20:directory + 28] = struct.pack("<II", claimed, claimed)  # compressed, uncompressed size
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"'w' declares {claimed} bytes, more than the file's {len(data)}"):
        E.load(path)


def test_malformed_markers_are_rejected(tmp_path):
    path = tmp_path / "marker.npz"
    for marker in [np.array([1, 1]), np.array(1.0), np.array(True), np.array("1"), np.array([[1]])]:
        _write_npz(path, {"__convref_format__.npy": _npy(marker), "w.npy": _npy(np.ones(2))})
        with pytest.raises(ValueError, match="'__convref_format__'.*(0-d integer|dtype <U1)"):
            E.load(path)
    _write_npz(path, {"__convref_format__.npy": _npy(np.array(2)), "w.npy": _npy(np.ones(2))})
    with pytest.raises(ValueError, match="version 2"):
        E.load(path)
    _write_npz(path, {"__convref_format__.npy": b"\x93NUMPY\x01\x00garbage", "w.npy": _npy(np.ones(2))})
    with pytest.raises(ValueError, match="__convref_format__.*header"):
        E.load(path)


def test_foreign_entries_are_rejected_by_name(tmp_path):
    path = tmp_path / "entries.npz"
    cases = {
        "'notes.txt' is not an array": {**MARKER, "notes.txt": b"hello"},
        "'w' has dtype complex128": {**MARKER, "w.npy": _npy(np.ones(2, complex))},
        "'w' has dtype <U1": {**MARKER, "w.npy": _npy(np.array(["a"]))},
        "'w' has no valid .npy header": {**MARKER, "w.npy": b"not an array"},
    }
    for message, entries in cases.items():
        _write_npz(path, entries)
        with pytest.raises(ValueError, match=message):
            E.load(path)
    with pytest.warns(UserWarning, match="Duplicate"), zipfile.ZipFile(path, "a") as archive:
        archive.writestr("w.npy", _npy(np.zeros(2)))  # a second entry of the same name, as zip files may hold
    with pytest.raises(ValueError, match="'w' appears twice"):
        E.load(path)
    _write_npz(path, {**MARKER, "w.npy": _npy(np.ones(2))}, compression=zipfile.ZIP_DEFLATED)
    with pytest.raises(ValueError, match="'__convref_format__' is compressed"):
        E.load(path)
    with pytest.raises(ValueError, match="NUL"):
        E.save({"a\0b": np.ones(2)}, path)


def test_failed_load_state_dict_changes_nothing(rng):
    model = _model(0)
    before = model.state_dict()
    state = {k: rng.standard_normal(v.shape) for k, v in before.items()}
    bad_shape = {**state, "4.weight": np.ones((3, 12))}  # the last parameter is wrong: nothing before it is written
    with pytest.raises(ValueError, match=r"4.weight: state_dict has shape \(3, 12\)"):
        model.load_state_dict(bad_shape)
    bad_dtype = {**state, "4.bias": np.array(["a", "b"])}
    with pytest.raises(TypeError, match="4.bias.*<U1"):
        model.load_state_dict(bad_dtype)
    with pytest.raises(ValueError, match=r"0.weight.*shape \(1,\).*4.weight"):  # every wrong shape is named
        model.load_state_dict({**bad_shape, "0.weight": np.ones(1)}, strict=False)
    with pytest.raises(KeyError, match="missing"):
        model.load_state_dict({k: v for k, v in state.items() if k != "0.bias"})
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)
    result = model.load_state_dict({"0.bias": state["0.bias"], 3: np.ones(1)}, strict=False)
    assert result.unexpected_keys == [3] and "0.bias" not in result.missing_keys and "0.weight" in result.missing_keys
    np.testing.assert_array_equal(model[0].bias.numpy(), state["0.bias"].astype(np.float32))
    assert model.load_state_dict(state) == ([], [])
