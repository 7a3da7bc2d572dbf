"""stats.py - medians, ranges, percentiles and pairwise ratios.

Pure functions over lists of numbers; None stands for "no measurement"
(a system that could not run) and propagates instead of raising.
"""


def median(values):
    """Median of a non-empty list, or None for an empty one."""
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    n = len(v)
    mid = n // 2
    if n % 2:
        return float(v[mid])
    return (v[mid - 1] + v[mid]) / 2.0


def span(values):
    """(min, max) of the non-None values, or None."""
    v = [x for x in values if x is not None]
    if not v:
        return None
    return (min(v), max(v))


def percentile(sorted_values, p):
    """Nearest-rank percentile (p in 0..100) of an already sorted list."""
    if not sorted_values:
        return None
    if p <= 0:
        return sorted_values[0]
    rank = -(-len(sorted_values) * p // 100)  # ceil without floats
    rank = int(min(max(rank, 1), len(sorted_values)))
    return sorted_values[rank - 1]


def pair_ratios(a_values, b_values):
    """Ratios a[i]/b[i] for the runs that were interleaved as pairs.

    Pairs where either side is missing or b is zero are skipped.
    """
    out = []
    for a, b in zip(a_values, b_values):
        if a is None or b is None or b == 0:
            continue
        out.append(a / b)
    return out


def summarize(values):
    """{'median', 'min', 'max', 'n'} of a list (median None when empty)."""
    s = span(values)
    return {
        "median": median(values),
        "min": s[0] if s else None,
        "max": s[1] if s else None,
        "n": len([x for x in values if x is not None]),
    }
