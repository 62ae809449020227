#!/usr/bin/env python3
"""Turns the suite's results into docs/benchmarks.svg and Markdown tables (standard library only).

Reads criterion's `<dir>/**/new/benchmark.json` + `estimates.json` (medians) and the suite's own
`<dir>/latency.json` and `<dir>/tallies.json`, where <dir> is the criterion output directory:
$CRITERION_HOME, else $CARGO_TARGET_DIR/criterion, else the workspace's target/criterion (found
from this script's place, so it runs from any directory).

    python3 benches/chart.py                  # writes docs/benchmarks.svg
    python3 benches/chart.py --markdown       # also prints one Markdown table per scenario
    python3 benches/chart.py --dir D --out F  # other input directory / output file
    python3 benches/chart.py --dir R1 --dir R2 --dir R3   # several runs: median of the medians
    python3 benches/chart.py --chart keys-sustained       # docs/keys-sustained.svg (issues 19, 22)
"""

import argparse
import json
import os
import statistics
import sys
from collections import defaultdict
from html import escape

# The repository root: this script lives in <root>/benches/.
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The `fanout` configuration every other strategy of a scenario is compared with.
REFERENCE = {
    "idle_publish": "fanout-drop-oldest-park",
    "eviction": "fanout-drop-oldest",
    "isolation": "fanout-block-park",
}
DEFAULT_REFERENCE = "fanout-block-park"

# Throughput panels of the chart: (group, parameter, title).
PANELS = [
    ("selective", "16", "2. selective fan-out, 16 subs, 8 topics"),
    ("broadcast", "4", "3. full broadcast, 4 subs"),
    ("broadcast", "16", "3. full broadcast, 16 subs"),
    ("multi_publisher", "4", "7. 4 publishers, 8 subs"),
]


def criterion_dir():
    if os.environ.get("CRITERION_HOME"):
        return os.environ["CRITERION_HOME"]
    if os.environ.get("CARGO_TARGET_DIR"):
        return os.path.join(os.environ["CARGO_TARGET_DIR"], "criterion")
    return os.path.join(REPO, "target", "criterion")


def load(directory):
    """{group: {(function, parameter): (median ns per iteration, elements per iteration)}}"""
    results = defaultdict(dict)
    for root, _dirs, files in os.walk(directory):
        if os.path.basename(root) != "new" or "benchmark.json" not in files:
            continue
        try:
            with open(os.path.join(root, "benchmark.json")) as f:
                bench = json.load(f)
            with open(os.path.join(root, "estimates.json")) as f:
                estimates = json.load(f)
        except (OSError, ValueError) as err:
            print(f"skipping {root}: {err}", file=sys.stderr)
            continue
        elements = (bench.get("throughput") or {}).get("Elements", 1)
        key = (bench["function_id"], bench.get("value_str") or "")
        results[bench["group_id"]][key] = (estimates["median"]["point_estimate"], elements)
    return results


def merge(runs):
    """Several runs' results: per benchmark, the median of the runs' medians."""
    merged = defaultdict(dict)
    keys = {(g, k) for run in runs for g in run for k in run[g]}
    for group, key in keys:
        values = [run[group][key] for run in runs if key in run.get(group, {})]
        merged[group][key] = (statistics.median(v[0] for v in values), values[0][1])
    return merged


def merge_latency(runs):
    """Several runs' latency percentiles: per strategy, the median of each percentile."""
    by_name = defaultdict(list)
    for run in runs:
        for r in run:
            by_name[r["name"]].append(r)
    order = [r["name"] for run in runs for r in run]
    out = []
    for name in dict.fromkeys(order):
        rs = by_name[name]
        out.append({
            "name": name,
            "samples": sum(r["samples"] for r in rs),
            "p50_ns": statistics.median(r["p50_ns"] for r in rs),
            "p99_ns": statistics.median(r["p99_ns"] for r in rs),
            "p999_ns": statistics.median(r["p999_ns"] for r in rs),
        })
    return out


def load_json(directory, name):
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return json.load(f)


def fmt_time(ns):
    if ns < 1e3:
        return f"{ns:.2f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns / 1e6:.2f} ms"


def markdown(results, tallies):
    lost = {}
    for t in tallies:
        seen = t["received"] + t.get("skipped", 0) + t["lost"]
        lost[t["bench"]] = 100.0 * t["lost"] / seen if seen else 0.0
    out = []
    for group in sorted(results):
        rows = results[group]
        reference = REFERENCE.get(group, DEFAULT_REFERENCE)
        params = sorted({p for _, p in rows}, key=lambda p: (len(p), p))
        out.append(f"\n#### {group}\n")
        out.append("| strategy | param | median / iter | throughput | its speed ÷ fanout ref | lost |")
        out.append("|---|---|---:|---:|---:|---:|")
        for param in params:
            ref = rows.get((reference, param))
            for (function, p), (ns, elements) in sorted(rows.items(), key=lambda kv: kv[1][0]):
                if p != param:
                    continue
                per_sec = elements / ns * 1e9
                thr = f"{per_sec / 1e6:.2f} M/s"
                # > 1: faster than the reference fanout configuration.
                ratio = f"{ref[0] / ns:.2f}x" if ref else "-"
                loss = lost.get(f"{group}/{function}/{p}")
                loss = f"{loss:.1f}%" if loss is not None else "-"
                out.append(f"| {function} | {p} | {fmt_time(ns)} | {thr} | {ratio} | {loss} |")
    per = results.get("per_delivery")
    if per:
        out.append("\n#### per_delivery: ns per delivery (lower is better)\n")
        names = sorted({f for f, _ in per})
        ns_params = sorted({p for _, p in per}, key=lambda p: int(p) if p.isdigit() else 0)
        out.append("| subscribers | " + " | ".join(names) + " | fanout-block-park ÷ floor (time: < 1 is faster) |")
        out.append("|---:|" + "---:|" * len(names) + "---:|")
        for p in ns_params:
            cells = []
            for f in names:
                v = per.get((f, p))
                cells.append(f"{v[0] / v[1]:.1f}" if v else "-")
            fan, floor = per.get(("fanout-block-park", p)), per.get(("floor-vec-crossbeam", p))
            ratio = f"{(fan[0] / fan[1]) / (floor[0] / floor[1]):.2f}x" if fan and floor else "-"
            out.append(f"| {p} | " + " | ".join(cells) + f" | {ratio} |")
    return "\n".join(out)


class Svg:
    def __init__(self, width):
        self.width = width
        self.parts = []
        self.y = 0

    def text(self, x, y, s, size=12, anchor="start", weight="normal", fill="#222"):
        self.parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{escape(s)}</text>'
        )

    def rect(self, x, y, w, h, fill):
        self.parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0.5):.1f}" height="{h:.1f}" fill="{fill}"/>')

    def render(self):
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.y + 20}" '
            f'font-family="Helvetica, Arial, sans-serif">'
            f'<rect width="100%" height="100%" fill="white"/>'
        )
        return head + "".join(self.parts) + "</svg>\n"


def colour(name):
    # `keyed`, `keyed-stream` and `filter` are fanout's own ways of targeting (issue 19).
    if name.startswith(("fanout", "keyed", "filter")):
        return "#2b6cb0"
    if name.startswith("floor") or name.startswith("crossbeam"):
        return "#718096"
    return "#dd6b20"


def bars(svg, title, rows, unit, value_fmt, log=False):
    """rows: [(label, value)], longer bar = larger value."""
    label_w, bar_w, row_h = 260, 380, 18
    svg.text(10, svg.y + 18, title, size=14, weight="bold")
    svg.y += 28
    if not rows:
        svg.text(label_w, svg.y + 12, "(no results)")
        svg.y += row_h + 10
        return
    import math

    top = max(v for _, v in rows)
    low = min(v for _, v in rows if v > 0)
    for label, value in rows:
        if log:
            span = math.log10(top) - math.log10(low) + 1
            frac = (math.log10(max(value, low)) - math.log10(low) + 1) / span
        else:
            frac = value / top if top else 0
        svg.text(label_w - 6, svg.y + 13, label, anchor="end")
        svg.rect(label_w, svg.y + 2, bar_w * frac, row_h - 4, colour(label))
        svg.text(label_w + bar_w * frac + 4, svg.y + 13, value_fmt(value) + unit, size=11)
        svg.y += row_h
    svg.y += 10


def chart(results, latency, out, runs):
    svg = Svg(760)
    what = "one run" if runs == 1 else f"median of {runs} runs"
    svg.text(10, 22, f"fanout vs peers (criterion medians, {what}; 2 shared cores)", size=16, weight="bold")
    svg.text(10, 40, "blue: fanout configurations, grey: hand-rolled floor / raw crossbeam, orange: peers", size=11, fill="#555")
    svg.y = 48
    idle = results.get("idle_publish", {})
    rows = sorted(((f, ns) for (f, _), (ns, _) in idle.items()), key=lambda r: r[1])
    bars(svg, "1. idle publish, 16 uninterested subs: ns per publish (shorter is better, log)", rows, " ns", lambda v: f"{v:.2f}", log=True)
    for group, param, title in PANELS:
        data = results.get(group, {})
        rows = [
            (f, elements / ns * 1e3)
            for (f, p), (ns, elements) in data.items()
            if p == param
        ]
        rows.sort(key=lambda r: -r[1])
        bars(svg, f"{title}: M publishes/s (longer is better)", rows, " M/s", lambda v: f"{v:.2f}")
    per = results.get("per_delivery", {})
    if per:
        rows = sorted(((f"{f} N={p}", ns / elements) for (f, p), (ns, elements) in per.items()),
                      key=lambda r: (r[0].split(" N=")[0], int(r[0].split("=")[1])))
        bars(svg, "10. cost per delivery, 1 publisher, N subs: ns per delivery (shorter is better)", rows, " ns", lambda v: f"{v:.1f}")
    if latency:
        rows = sorted(((r["name"], r["p50_ns"] / 1e3) for r in latency), key=lambda r: r[1])
        bars(svg, "6. latency p50 at 1 event / 50 µs: µs (shorter is better, log)", rows, " µs", lambda v: f"{v:.2f}", log=True)
        rows = sorted(((r["name"], r["p99_ns"] / 1e3) for r in latency), key=lambda r: r[1])
        bars(svg, "6. latency p99: µs (shorter is better, log)", rows, " µs", lambda v: f"{v:.1f}", log=True)
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w") as f:
        f.write(svg.render())
    print(f"wrote {out}")


def chart_keys_sustained(results, out, runs):
    """Issue 19's targeting and issue 22's sustained load, one chart (`--chart keys-sustained`)."""
    svg = Svg(760)
    what = "one run" if runs == 1 else f"median of {runs} runs"
    svg.text(10, 22, f"targeting and sustained load (criterion medians, {what}; 2 shared cores)", size=16, weight="bold")
    svg.text(10, 40, "keys: 1 publisher, N subscribers of one key each, every event for one key; sustained: lossless, queues full", size=11, fill="#555")
    svg.y = 48
    keys = results.get("keys_targeted_publish", {})
    order = {"keyed": 0, "keyed-stream": 1, "filter": 2, "tokio-filter": 3}
    rows = sorted(
        ((f"{f} N={p}", ns / elements) for (f, p), (ns, elements) in keys.items()),
        key=lambda r: (order.get(r[0].split(" N=")[0], 9), int(r[0].split("=")[1])),
    )
    bars(svg, "19. ns per targeted event (shorter is better, log)", rows, " ns", lambda v: f"{v:,.0f}", log=True)
    for group, param, title in [
        ("sustained_selective", "16", "22. sustained selective, 16 subs, 8 topics"),
        ("sustained_broadcast", "4", "22. sustained broadcast, 4 subs"),
        ("sustained_broadcast", "16", "22. sustained broadcast, 16 subs"),
    ]:
        data = results.get(group, {})
        rows = [(f, elements / ns * 1e3) for (f, p), (ns, elements) in data.items() if p == param]
        rows.sort(key=lambda r: -r[1])
        bars(svg, f"{title}: M events/s (longer is better)", rows, " M/s", lambda v: f"{v:.2f}")
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w") as f:
        f.write(svg.render())
    print(f"wrote {out}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", action="append", help="criterion output directory (repeatable)")
    parser.add_argument("--out", help="the SVG to write (default: docs/benchmarks.svg, or docs/keys-sustained.svg)")
    parser.add_argument("--chart", choices=["suite", "keys-sustained"], default="suite",
                        help="the whole suite's chart, or issue 19's targeting with issue 22's sustained load")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = parser.parse_args()
    dirs = args.dir or [criterion_dir()]
    for d in dirs:
        if not os.path.isdir(d):
            sys.exit(f"no results in {d}: run `cargo bench --bench fanout` first")
    results = merge([load(d) for d in dirs])
    latency = merge_latency([load_json(d, "latency.json") for d in dirs])
    tallies = [t for d in dirs for t in load_json(d, "tallies.json")]
    if args.chart == "keys-sustained":
        chart_keys_sustained(results, args.out or os.path.join(REPO, "docs", "keys-sustained.svg"), len(dirs))
    else:
        chart(results, latency, args.out or os.path.join(REPO, "docs", "benchmarks.svg"), len(dirs))
    if args.markdown:
        print(markdown(results, tallies))
        if latency:
            print("\n#### latency\n")
            print("| strategy | p50 | p99 | p99.9 | samples |")
            print("|---|---:|---:|---:|---:|")
            for r in latency:
                print(f"| {r['name']} | {fmt_time(r['p50_ns'])} | {fmt_time(r['p99_ns'])} | {fmt_time(r['p999_ns'])} | {r['samples']} |")


if __name__ == "__main__":
    main()
