"""Unit tests of the harness's statistics and markdown table (no servers needed)."""
import _path  # noqa: F401

from benchlib import report, stats


def test_median_and_span():
    assert stats.median([3, 1, 2]) == 2
    assert stats.median([4, 1, 3, 2]) == 2.5
    assert stats.median([]) is None
    assert stats.median([None, 5]) == 5
    assert stats.span([2, None, 7, 1]) == (1, 7)


def test_percentile_nearest_rank():
    v = list(range(1, 101))
    assert stats.percentile(v, 50) == 50
    assert stats.percentile(v, 90) == 90
    assert stats.percentile(v, 99) == 99
    assert stats.percentile([7], 99) == 7
    assert stats.percentile([], 50) is None


def test_pair_ratios_skip_missing_pairs():
    assert stats.pair_ratios([10, 20, None, 8], [5, 0, 3, 4]) == [2.0, 2.0]


def test_fmt():
    assert report.fmt(None) == "-"
    assert report.fmt(12) == "12"
    assert report.fmt(1234.6) == "1,235"
    assert report.fmt(12.345) == "12.3"
    assert report.fmt(0.1234) == "0.123"


def _results(postern_status="ok"):
    run = lambda v, p50: {"metrics": {"rate": v}, "latency": {"LOGIN": {"n": 4, "p50_ms": p50,
                                                                        "p90_ms": 2 * p50,
                                                                        "p99_ms": 3 * p50}},
                          "resources": {"cpu_s": 1.5, "cpu_pct": 50.0, "pss_peak_kb": 2048,
                                        "procs_peak": 3}}
    return {
        "started": "2024-01-01 00:00",
        "machine": {"cores": "2", "cpu": "Test CPU", "memory": "1.0 GiB",
                    "kernel": "Linux 6.1", "os": "Debian", "disk": "/dev/x on / (ext4)"},
        "params": {"reps": 3},
        "scenarios": [{
            "name": "s", "title": "Scen", "anchor": "Anchor",
            "metrics": [{"key": "rate", "label": "rate", "unit": "msg/s", "better": "higher"}],
            "status": {"postern": postern_status, "anchor": "ok"},
            "runs": {"postern": [run(300, 1.0), run(330, 1.0), run(270, 1.0)]
                     if postern_status == "ok" else [],
                     "anchor": [run(100, 2.0), run(110, 2.0), run(90, 2.0)]},
        }],
    }


def test_render_with_both_systems():
    text = report.render(_results())
    assert "2 cores, Test CPU" in text and "Linux 6.1" in text and "ext4" in text
    row = [l for l in text.splitlines() if l.startswith("| Scen | rate")][0]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3] == "300 (270-330)"
    assert cells[4] == "100 (90-110)"
    assert cells[6] == "3.00x (3.00-3.00)"
    assert "| Scen | LOGIN | postern | 4 | 1 | 2 | 3 |" in text
    assert "| Scen | Anchor | 1.50 | 50 | 2 | 3 |" in text


def test_render_postern_not_available():
    text = report.render(_results(report.NA))
    row = [l for l in text.splitlines() if l.startswith("| Scen | rate")][0]
    assert report.NA in row
    assert row.rstrip().endswith("| - |")
    assert "| Scen | LOGIN | postern" not in text
