#!/usr/bin/env python3
"""Scores the replenishment workflow against the generator's truth (docs/low_stock.md,
"Evaluation"): supplier delays flagged before the stock-out they cause, spoiled units flagged
in time by expiry alerts, stock-outs a proposed transfer would have prevented, and the alert
economy (firing episodes and recommendations per 1,000 key-days, by type and severity).

usage: replenishment_eval.py OUT_DIR TRUTH.jsonl [BEFORE_OUT_DIR]
"""
import collections
import datetime
import json
import sys


def ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def episodes(out_dir):
    """First firing record of each alert id, with the highest severity it reached."""
    rank = {"info": 0, "warning": 1, "critical": 2, "emergency": 3}
    eps = {}
    for line in open(out_dir + "/alerts.jsonl"):
        a = json.loads(line)
        if a["status"] != "firing":
            continue
        e = eps.get(a["id"])
        if e is None:
            eps[a["id"]] = a
        elif rank[a["severity"]] > rank[e["severity"]]:
            e["severity"] = a["severity"]
    return list(eps.values())


def recommendations(out_dir):
    try:
        return [json.loads(l) for l in open(out_dir + "/replenishment.jsonl")]
    except FileNotFoundError:
        return []


def economy(out_dir, key_days):
    rows = collections.Counter((e["type"], e["severity"]) for e in episodes(out_dir))
    recs = collections.Counter(r["approval"] for r in recommendations(out_dir))
    return rows, recs, key_days


def main():
    out_dir, truth_path = sys.argv[1], sys.argv[2]
    before = sys.argv[3] if len(sys.argv) > 3 else None
    truth = [json.loads(l) for l in open(truth_path)]
    summary = next(t for t in truth if t["record"] == "summary")
    key_days = summary["stores"] * summary["skus"] * summary["days"]
    eps = episodes(out_dir)
    by_key = collections.defaultdict(list)
    for e in eps:
        by_key[(e.get("store"), e.get("sku"), e["type"])].append(e)
    stockouts = collections.defaultdict(list)
    for t in truth:
        if t["record"] == "stockout":
            stockouts[(t["store"], t["sku"])].append(t)

    # 1. Supplier delays flagged before the stock-out they cause.
    overdue_by_po = {}
    for e in eps:
        if e["type"] == "receipt_overdue":
            overdue_by_po.setdefault((e["store"], e["sku"], e["details"]["po_id"]), e)
    delayed = caused = flagged = flagged_any = 0
    end_of_stream = max(ts(t["start"]) for v in stockouts.values() for t in v) + 86400
    for t in truth:
        if t["record"] != "order" or t["fate"] == "on_time":
            continue
        delayed += 1
        a = overdue_by_po.get((t["store"], t["sku"], t["po_id"]))
        if a is not None:
            flagged_any += 1
        lo = ts(t["expected"])
        hi = ts(t["arrival"]) if t["arrival"] else end_of_stream
        so = [s for s in stockouts[(t["store"], t["sku"])] if lo <= ts(s["start"]) <= hi]
        if not so:
            continue
        caused += 1
        if a is not None and ts(a["time"]) < ts(so[0]["start"]):
            flagged += 1
    print(f"supplier delays (late or lost orders): {delayed}, flagged by receipt_overdue: "
          f"{flagged_any} ({100 * flagged_any / max(delayed, 1):.1f}%)")
    print(f"  delays followed by a stock-out before the late arrival: {caused}, flagged before "
          f"that stock-out: {flagged} ({100 * flagged / max(caused, 1):.1f}%)")

    # 2. Spoilage flagged in time.
    spoiled = flagged_units = 0
    expiry = collections.defaultdict(list)
    for e in eps:
        if e["type"] == "expiry":
            expiry[(e["store"], e["sku"])].append(ts(e["time"]))
    for t in truth:
        if t["record"] != "spoilage":
            continue
        spoiled += t["units"]
        exp = ts(t["expired"] + "T00:00:00+00:00")
        # In time: an expiry alert of the key fired within the horizon before the expiry.
        if any(exp - 14 * 86400 <= x < exp for x in expiry[(t["store"], t["sku"])]):
            flagged_units += t["units"]
    at_risk = sum(e["details"]["units_at_risk"] for e in eps if e["type"] == "expiry")
    print(f"units spoiled (no alerts acted on): {spoiled}; of them flagged by an expiry alert "
          f"before expiry: {flagged_units} ({100 * flagged_units / max(spoiled, 1):.1f}%); "
          f"units at risk stated at firing: {at_risk:.0f}")

    # 3. Stock-outs a proposed transfer would have prevented.
    proposals = [e for e in eps if e["type"] == "transfer"]
    preceded = prevented = 0
    for e in proposals:
        t0 = ts(e["time"])
        horizon = t0 + max(e["details"]["next_receipt_days"], 1) * 86400
        so = [s for s in stockouts[(e["store"], e["sku"])] if t0 <= ts(s["start"]) <= horizon]
        if not so:
            continue
        preceded += 1
        if sum(s["lost_units"] for s in so) <= e["details"]["qty"]:
            prevented += 1
    imbalances = [t for t in truth if t["record"] == "imbalance"]
    imb_hit = sum(1 for t in imbalances
                  if any(e["store"] == t["receiver"] and e["sku"] == t["sku"] and
                         e["details"]["from_store"] == t["donor"] for e in proposals))
    print(f"transfer proposals: {len(proposals)}; followed by a stock-out of the receiver before "
          f"its next receipt: {preceded}; of those the proposed quantity covers the lost demand: "
          f"{prevented} (stock-outs a transfer would have prevented)")
    print(f"injected regional imbalances: {len(imbalances)}, proposed from the overstocked to "
          f"the short store: {imb_hit}")

    # 4. Precision of low_stock and stockout-prediction: a low_stock episode is "acted on" if
    # the key really stocks out within 14 days of the firing (truth), before and after.
    def precision(d):
        n = hit = 0
        for e in episodes(d):
            if e["type"] != "low_stock":
                continue
            n += 1
            t0 = ts(e["time"])
            if any(t0 - 3600 <= ts(s["start"]) <= t0 + 14 * 86400
                   for s in stockouts[(e["store"], e["sku"])]):
                hit += 1
        return n, hit
    # Stricter: the stock-out starts after the firing (a warning, not a report of it) and
    # loses sales (truth lost_units > 0), before the next receipt the alert names (at least
    # a day).
    def precision_ahead(d):
        n = hit = 0
        for e in episodes(d):
            if e["type"] != "low_stock":
                continue
            n += 1
            t0 = ts(e["time"])
            h = t0 + max(e["details"].get("next_receipt_days", 14), 1) * 86400
            if any(t0 < ts(s["start"]) <= h and s["lost_units"] > 0
                   for s in stockouts[(e["store"], e["sku"])]):
                hit += 1
        return n, hit

    # Recall: truth stock-outs that lost sales, and their lost units, flagged by an inventory
    # alert of the key — in advance (low_stock, transfer or receipt_overdue fired in the 14 d
    # before the start) or at the time (any of those or a stockout alert open at the start or
    # fired within an hour of it).
    def coverage(d):
        by = collections.defaultdict(list)
        res = {}
        for line in open(d + "/alerts.jsonl"):
            a = json.loads(line)
            if a["status"] == "resolved":
                res[a["id"]] = ts(a["time"])
        for e in episodes(d):
            if e["type"] in ("low_stock", "transfer", "receipt_overdue", "stockout"):
                by[(e["store"], e["sku"])].append((e["type"], ts(e["time"]), res.get(e["id"], 1e18)))
        n = ahead = anyf = units = units_ahead = units_any = warned = units_warned = 0
        for k, v in stockouts.items():
            for s in v:
                if s["lost_units"] <= 0:
                    continue
                n += 1
                units += s["lost_units"]
                t = ts(s["start"])
                a = any(typ != "stockout" and t - 14 * 86400 <= t0 < t for typ, t0, _ in by[k])
                # Warned: such an episode fired before the start and was still open then.
                w = any(typ != "stockout" and t0 < t < t1 for typ, t0, t1 in by[k])
                warned += w
                units_warned += s["lost_units"] if w else 0
                b = a or any(t0 <= t + 3600 and t1 > t - 1 for _, t0, t1 in by[k])
                ahead += a
                anyf += b
                units_ahead += s["lost_units"] if a else 0
                units_any += s["lost_units"] if b else 0
        return n, ahead, anyf, units, units_ahead, units_any, warned, units_warned

    all_so = sum(len(v) for v in stockouts.values())
    for label, d in (("before", before), ("after", out_dir)):
        if d is None:
            continue
        n, hit = precision(d)
        print(f"{label}: low_stock episodes {n}, followed by a real stock-out within 14 d: {hit} "
              f"({100 * hit / max(n, 1):.1f}%); truth stock-outs: {all_so}")
        n, hit = precision_ahead(d)
        print(f"{label}: low_stock episodes followed by a stock-out that starts after the firing, "
              f"before the next receipt, and loses sales: {hit} ({100 * hit / max(n, 1):.1f}%)")
        n, ahead, anyf, units, ua, uany, warned, uw = coverage(d)
        print(f"{label}: truth stock-outs with lost sales {n} ({units} units): flagged in advance "
              f"{ahead} ({100 * ahead / max(n, 1):.1f}%, {100 * ua / max(units, 1):.1f}% of the "
              f"units), flagged in advance or at the time {anyf} ({100 * anyf / max(n, 1):.1f}%, "
              f"{100 * uany / max(units, 1):.1f}% of the units); with such an alert still open "
              f"at the start {warned} ({100 * warned / max(n, 1):.1f}%, "
              f"{100 * uw / max(units, 1):.1f}% of the units)")

    # 5. Alert economy.
    def table(d, label):
        rows, recs, kd = economy(d, key_days)
        print(f"\n{label}: per 1,000 key-days ({kd} key-days)")
        total = 0
        for (typ, sev), n in sorted(rows.items()):
            print(f"  alert {typ:16s} {sev:9s} {n:7d}  {1000 * n / kd:8.2f}")
            total += n
        print(f"  alerts total                     {total:7d}  {1000 * total / kd:8.2f}")
        for a, n in sorted(recs.items()):
            print(f"  recommendation {a:18s} {n:7d}  {1000 * n / kd:8.2f}")
        print(f"  recommendations total            {sum(recs.values()):7d}  "
              f"{1000 * sum(recs.values()) / kd:8.2f}")
    if before:
        table(before, "before")
    table(out_dir, "after")


if __name__ == "__main__":
    main()
