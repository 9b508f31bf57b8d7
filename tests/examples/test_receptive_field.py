"""examples/receptive_field.py: the lecture's output sizes and the receptive-field recurrence, measured."""


def test_output_sizes_and_receptive_fields(run_example):
    results, printed, out = run_example("receptive_field", "--depth", 3)
    assert (out / "receptive_field.png").exists()
    assert [row["conv2d"] for row in results["sizes"]] == [(5, 5), (3, 3), (7, 7), (4, 4)]
    for row in results["sizes"]:
        assert row["geometry"] == row["conv2d"] == row["claimed"]
    fields = results["fields"]
    for row in fields.values():
        assert row["measured"] == row["predicted"]
    assert fields["3x3 conv, stride 1"]["measured"] == [3, 5, 7]
    assert fields["3x3 conv, stride 2"]["measured"] == [3, 7, 15]
    assert fields["3x3 conv, stride 1"]["measured"][1] == fields["5x5 conv, stride 1"]["measured"][0]
