"""benchmark.py's tables (training/benchmark.py): the neon layout of the phases, and one row per model beside the
published figures."""

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
