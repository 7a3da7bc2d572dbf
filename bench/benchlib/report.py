"""report.py - the markdown table of a benchmark run (pure: data in, text out).

results = {
  "machine": {...}, "params": {...}, "started": "...",
  "scenarios": [{
     "name", "title", "anchor",
     "status": {"postern": "ok" | "n/a (...)" | "failed: ...", "anchor": ...},
     "metrics": [{"key", "label", "unit", "better": "higher"|"lower"}],
     "runs": {"postern": [run, ...], "anchor": [run, ...]},
  }]}
run = {"metrics": {key: number}, "resources": {...}, "latency": {cmd: {p50_ms...}}}
"""

from . import stats

NA = "n/a (not yet implemented in postern)"


def fmt(x):
    """Compact human number: 3 significant digits, thousands kept whole."""
    if x is None:
        return "-"
    ax = abs(x)
    if float(x).is_integer() and ax < 1000:
        return "%d" % x
    if ax >= 1000:
        return "{:,.0f}".format(x)
    if ax >= 100:
        return "%.0f" % x
    if ax >= 10:
        return "%.1f" % x
    if ax >= 1:
        return "%.2f" % x
    return "%.3f" % x


def cell(values):
    """'median (min-max)' of a list of numbers; '-' when empty."""
    s = stats.summarize(values)
    if s["median"] is None:
        return "-"
    if s["n"] == 1:
        return fmt(s["median"])
    return "%s (%s-%s)" % (fmt(s["median"]), fmt(s["min"]), fmt(s["max"]))


def ratio_cell(p_values, a_values):
    r = stats.pair_ratios(p_values, a_values)
    if not r:
        return "-"
    s = stats.summarize(r)
    if s["n"] == 1:
        return "%.2fx" % s["median"]
    return "%.2fx (%.2f-%.2f)" % (s["median"], s["min"], s["max"])


def _metric_values(runs, key):
    return [r.get("metrics", {}).get(key) for r in runs]


def _status_cell(status, values):
    if status != "ok":
        return status
    return cell(values)


def render(results):
    """The whole report as markdown text."""
    out = []
    m = results.get("machine", {})
    p = results.get("params", {})
    out.append("# postern benchmark")
    out.append("")
    out.append("Run %s. Machine: %s cores, %s, %s RAM; %s; %s; disk %s." % (
        results.get("started", "?"), m.get("cores", "?"), m.get("cpu", "?"),
        m.get("memory", "?"), m.get("kernel", "?"), m.get("os", "?"), m.get("disk", "?")))
    if p:
        out.append("")
        out.append("Load: " + ", ".join("%s=%s" % (k, p[k]) for k in sorted(p)) + ".")
    out.append("")
    out.append("Median of the repetitions (min-max); postern and the anchor ran interleaved "
               "(postern, anchor, postern, anchor, ...) under identical load. The ratio is "
               "postern/anchor per interleaved pair (median, min-max).")
    out.append("")
    out.append("| scenario | metric | better | postern | anchor | anchor system | postern/anchor |")
    out.append("|---|---|---|---|---|---|---|")
    for sc in results.get("scenarios", []):
        st = sc.get("status", {})
        runs = sc.get("runs", {})
        for met in sc.get("metrics", []):
            pv = _metric_values(runs.get("postern", []), met["key"])
            av = _metric_values(runs.get("anchor", []), met["key"])
            ratio = ratio_cell(pv, av) if st.get("postern") == "ok" and \
                st.get("anchor") == "ok" else "-"
            out.append("| %s | %s (%s) | %s | %s | %s | %s | %s |" % (
                sc["title"], met["label"], met["unit"], met["better"],
                _status_cell(st.get("postern", NA), pv),
                _status_cell(st.get("anchor", "not run"), av),
                sc.get("anchor", ""), ratio))
    lat = _latency_rows(results)
    if lat:
        out.append("")
        out.append("## Latency per command (ms, median over repetitions)")
        out.append("")
        out.append("| scenario | command | system | n | p50 | p90 | p99 |")
        out.append("|---|---|---|---|---|---|---|")
        out.extend(lat)
    res = _resource_rows(results)
    if res:
        out.append("")
        out.append("## Resources of each system during each scenario (median over repetitions)")
        out.append("")
        out.append("CPU: seconds of CPU used by all processes of the system (and % of one core "
                   "over the run); memory: peak sum of PSS of all its processes.")
        out.append("")
        out.append("| scenario | system | CPU s | CPU % | peak PSS MiB | peak processes |")
        out.append("|---|---|---|---|---|---|")
        out.extend(res)
    return "\n".join(out) + "\n"


def _latency_rows(results):
    rows = []
    for sc in results.get("scenarios", []):
        for system in ("postern", "anchor"):
            runs = sc.get("runs", {}).get(system, [])
            if sc.get("status", {}).get(system) != "ok":
                continue
            cmds = []
            for r in runs:
                for c in (r.get("latency") or {}):
                    if c not in cmds:
                        cmds.append(c)
            for c in cmds:
                per = [r.get("latency", {}).get(c, {}) for r in runs]
                if not any(x.get("n") for x in per):
                    continue
                name = system if system == "postern" else sc.get("anchor", "anchor")
                rows.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                    sc["title"], c, name,
                    fmt(stats.median([x.get("n") for x in per])),
                    fmt(stats.median([x.get("p50_ms") for x in per])),
                    fmt(stats.median([x.get("p90_ms") for x in per])),
                    fmt(stats.median([x.get("p99_ms") for x in per]))))
    return rows


def _resource_rows(results):
    rows = []
    for sc in results.get("scenarios", []):
        for system in ("postern", "anchor"):
            if sc.get("status", {}).get(system) != "ok":
                continue
            runs = sc.get("runs", {}).get(system, [])
            res = [r.get("resources") or {} for r in runs]
            if not res:
                continue
            pss = [x.get("pss_peak_kb") for x in res]
            rows.append("| %s | %s | %s | %s | %s | %s |" % (
                sc["title"], system if system == "postern" else sc.get("anchor", "anchor"),
                fmt(stats.median([x.get("cpu_s") for x in res])),
                fmt(stats.median([x.get("cpu_pct") for x in res])),
                fmt(None if stats.median(pss) is None else stats.median(pss) / 1024.0),
                fmt(stats.median([x.get("procs_peak") for x in res]))))
    return rows
