#!/usr/bin/env python3
"""Builds the NAB-layout data sets docs/anomaly.md uses to check a detector change beyond
the development subset (stdlib only; score them with shared/tools/nab_score.py).

  nab_guards.py shift SRC DST MINUTES
      Copy of a NAB root (data/, labels/, config/) with every timestamp, in the data and
      in the label windows, moved by MINUTES (other hours of the day, other weekdays).

  nab_guards.py from-gen EVENTS TRUTH DST
      The `metric` series of a `shelfwatch gen` stream as NAB files (DST/data/gen/*.csv),
      with NAB-style label windows: 10 % of each series' rows shared among its injected
      anomalies (TRUTH `anomaly` records), centred on each anomaly's start, overlapping
      windows merged. Duplicated events (same event_id) are dropped, rows sorted by time.
"""
import bisect
import csv
import json
import os
import shutil
import sys
from datetime import datetime, timedelta, timezone

NAB_TS = "%Y-%m-%d %H:%M:%S"


def shift(src, dst, minutes):
    delta = timedelta(minutes=minutes)

    def moved(text):
        text = text.strip()
        fmt = NAB_TS + ".%f" if "." in text else NAB_TS
        return (datetime.strptime(text, fmt) + delta).strftime(fmt)

    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(os.path.join(src, "config"), os.path.join(dst, "config"))
    os.makedirs(os.path.join(dst, "labels"))
    for category in sorted(os.listdir(os.path.join(src, "data"))):
        os.makedirs(os.path.join(dst, "data", category))
        for name in sorted(os.listdir(os.path.join(src, "data", category))):
            with open(os.path.join(src, "data", category, name)) as f:
                rows = list(csv.reader(f))
            with open(os.path.join(dst, "data", category, name), "w", newline="") as f:
                out = csv.writer(f, lineterminator="\n")
                out.writerow(rows[0])
                for row in rows[1:]:
                    out.writerow([moved(row[0])] + row[1:])
    with open(os.path.join(src, "labels", "combined_windows.json")) as f:
        labels = json.load(f)
    with open(os.path.join(dst, "labels", "combined_windows.json"), "w") as f:
        json.dump({k: [[moved(a), moved(b)] for a, b in v] for k, v in labels.items()}, f, indent=1)


def event_time(ts):
    if isinstance(ts, (int, float)):
        return datetime.fromtimestamp(ts / 1000, timezone.utc).replace(tzinfo=None)
    return datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")


def from_gen(events, truth, dst, nab_config):
    series, seen = {}, set()
    with open(events) as f:
        for line in f:
            if '"metric"' not in line:
                continue
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("type") != "metric" or e.get("event_id") in seen:
                continue
            seen.add(e.get("event_id"))
            series.setdefault(e["series"], []).append((event_time(e["ts"]), e["value"]))
    starts = {}
    with open(truth) as f:
        for line in f:
            t = json.loads(line)
            if t.get("record") == "anomaly" and t.get("series"):
                starts.setdefault(t["series"], []).append(event_time(t["start"]))
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(os.path.join(dst, "data", "gen"))
    os.makedirs(os.path.join(dst, "labels"))
    shutil.copytree(nab_config, os.path.join(dst, "config"))
    labels = {}
    for name, rows in sorted(series.items()):
        rows.sort(key=lambda r: r[0])
        unique = [r for i, r in enumerate(rows) if i == 0 or r[0] != rows[i - 1][0]]
        times = [t for t, _ in unique]
        fname = name.replace(".", "_") + ".csv"
        with open(os.path.join(dst, "data", "gen", fname), "w") as f:
            f.write("timestamp,value\n")
            for t, v in unique:
                f.write("%s,%s\n" % (t.strftime(NAB_TS), v))
        anomalies = sorted(starts.get(name, []))
        windows = []
        if anomalies:
            width = int(0.1 * len(times) / len(anomalies))
            for a in anomalies:
                i = bisect.bisect_left(times, a)
                lo, hi = max(0, i - width // 2), min(len(times) - 1, i + width // 2)
                if windows and lo <= windows[-1][1]:
                    windows[-1][1] = hi
                else:
                    windows.append([lo, hi])
        labels["gen/" + fname] = [
            [times[a].strftime(NAB_TS + ".%f"), times[b].strftime(NAB_TS + ".%f")] for a, b in windows
        ]
    with open(os.path.join(dst, "labels", "combined_windows.json"), "w") as f:
        json.dump(labels, f, indent=1)
    print("%d series, %d windows" % (len(series), sum(len(w) for w in labels.values())))


def main(argv):
    if len(argv) == 5 and argv[1] == "shift":
        shift(argv[2], argv[3], int(argv[4]))
    elif len(argv) in (5, 6) and argv[1] == "from-gen":
        config = argv[5] if len(argv) == 6 else os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "nab-dev", "config")
        from_gen(argv[2], argv[3], argv[4], config)
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
