"""examples/dask_correlate.py on a small image: the chunked result matches the in-memory op across chunks."""
import pytest


def test_chunked_matches_in_memory_and_reports_memory(run_example):
    pytest.importorskip("distributed")
    results, printed, out = run_example("dask_correlate", "--size", 300, "--chunk", 110, "--kernel", 31,
                                        "--workers", 2, "--compare")
    assert results["window_error"] < 1e-5
    assert len(results["worker_peak_mib"]) == 2 and min(results["worker_peak_mib"]) > 0
    assert results["in_memory"]["peak_mib"] > 0
    assert "peak memory per worker" in printed and "in memory (one process" in printed
    assert (out / "dask_correlate.png").exists()
