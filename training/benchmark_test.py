"""benchmark.py's tables (training/benchmark.py): the neon layout of the phases, and one row per model beside the
published figures."""

import pytest

from training import benchmark


def test_phase_table_and_all_table_layout():
    ms = {name: dict(mean=m + 10, median=m, min=m - 1, max=m + 11, std=0.5) for name, m in
          [("fprop", 33.5), ("bprop", 72.5), ("update", 9.3), ("iteration", 117.4)]}
    report = dict(model="alexnet", variant="neon_nolrn", ms=ms, images_per_second=1090.3, gflop_per_second=2.0,
                  fraction_of_matmul_peak=0.5)
    table = benchmark.phase_table(report)
    assert "| fprop       |   43.5 msec |   33.5 msec |      32.5 |      44.5 |" in table
    assert "lrn" not in table
    row = benchmark.all_table([report]).splitlines()[2]
    assert "alexnet neon_nolrn" in row and "neon (readme 000): 33.5/72.5/9.3/117.4" in row
    # ours: the median round, as the rates beside them
    assert [c.strip() for c in row.split("|")[2:9]] == ["34", "72", "9", "117", "1090.3", "2.0", "0.50"]


def test_inference_table_and_percentile():
    from training import inference
    assert inference.percentile([1.0, 2.0, 3.0, 4.0, 100.0], 99) == pytest.approx(96.16)  # NumPy's linear rule
    report = dict(model="alexnet", variant="paper", batch_size=128, images_per_second=250.4, gflop_per_second=362.9,
                  fraction_of_matmul_peak=0.847, latency_ms=dict(median=13.18, p99=14.37, min=12.9),
                  serving=dict(images_per_second=188.3, of_keras_rate=0.912, preprocessing_share=0.123))
    row = inference.inference_table([report, dict(report, serving=None)]).splitlines()[2:]
    assert [c.strip() for c in row[0].split("|")[1:-1]] == ["alexnet paper", "128", "250.4", "362.9", "0.85", "13.18",
                                                             "14.37", "188.3", "0.91", "12%"]
    assert [c.strip() for c in row[1].split("|")[-4:-1]] == ["-", "-", "-"]
