#!/usr/bin/env python3
"""Synthetic series in NAB layout, shaped after the public descriptions of the benchmark
categories the team does not have (stdlib only), to check a detector change on kinds of data
the development subset lacks. They are our guesses at those shapes, not the data:

  taxi_*   (surrTaxi)    half-hourly demand over 215 days whose daily shape depends on the
                         day (weekday commuter peaks, weekend nights); anomalies: four
                         weekdays shaped like a weekend day (holidays), one day at 45 % (storm)
  tw_*     (surrTweets)  5-minute overdispersed counts with a daily and weekend profile and
                         unlabelled news bursts (x1.5-4, 30-150 min); anomalies: three x12 bursts
  speed_*  (surrTraffic) irregular 5-minute speeds with rush-hour dips and gaps; anomalies:
                         two 90-minute drops to 45 %
  adx_*    (surrAdx)     hourly prices, random walk with rare outliers; anomalies: two 8-hour
                         x2.5 episodes
  machine_*, cpu_*, latency_*, ambient_*, keys_*  (surrKnown)  known-cause incidents, subtler:
                         a 5-minute machine temperature with a planned shutdown, a slow
                         pre-failure sag and a failure; a 5-minute CPU with a daily cycle that
                         steps up by 25-45 % and stays there (misconfiguration); a 5-minute
                         latency with sparse spikes whose level creeps up 15-30 % before each
                         of three incidents; an hourly room temperature with a daily and
                         seasonal cycle that runs 2-4 degrees off for a day or two (twice);
                         irregular keystroke hold times whose spread doubles for a while (twice)

Labels are NAB-style windows (10 % of a file's rows shared by its anomalies, centred on each
anomaly's start, overlapping ones merged).

  nab_surrogates.py DST SEED [NAB_ROOT]   (NAB_ROOT: where config/profiles.json comes from,
                                           default ../shared/data/nab-dev)
"""
import json
import math
import os
import random
import shutil
import sys
from datetime import datetime, timedelta

dst = sys.argv[1]
seed = int(sys.argv[2])
nab_root = sys.argv[3] if len(sys.argv) > 3 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "nab-dev")
R = random.Random(seed)
shutil.rmtree(dst, ignore_errors=True)
os.makedirs(dst + '/labels')
shutil.copytree(os.path.join(nab_root, 'config'), dst + '/config')
labels = {}
def write(cat, name, t0, step_fn, values, anomalies):
    os.makedirs('%s/data/%s' % (dst, cat), exist_ok=True)
    ts = []; t = t0
    for i in range(len(values)):
        ts.append(t); t = t + step_fn(i)
    with open('%s/data/%s/%s.csv' % (dst, cat, name), 'w') as f:
        f.write('timestamp,value\n')
        for a, v in zip(ts, values): f.write('%s,%s\n' % (a.strftime('%Y-%m-%d %H:%M:%S'), ('%.4f' % v).rstrip('0').rstrip('.') if v != int(v) else int(v)))
    n = len(values); w = int(0.1 * n / max(1, len(anomalies)))
    wins = []
    for a in sorted(anomalies):
        lo = max(0, a - w // 2); hi = min(n - 1, a + w // 2)
        if wins and lo <= wins[-1][1]: wins[-1][1] = hi
        else: wins.append([lo, hi])
    labels['%s/%s.csv' % (cat, name)] = [[ts[a].strftime('%Y-%m-%d %H:%M:%S.000000'), ts[b].strftime('%Y-%m-%d %H:%M:%S.000000')] for a, b in wins]

def taxi(k):
    step = timedelta(minutes=30); n = 10320; t0 = datetime(2014, 7, 1)
    wk = [0.35,0.25,0.18,0.14,0.14,0.25,0.55,0.9,1.05,1.0,0.95,1.0,1.05,1.0,1.0,1.05,1.1,1.25,1.4,1.45,1.35,1.2,1.05,0.8]
    we = [0.9,0.8,0.65,0.5,0.35,0.25,0.25,0.35,0.55,0.75,0.9,1.0,1.05,1.05,1.05,1.05,1.05,1.1,1.15,1.15,1.1,1.05,1.05,1.0]
    base = R.uniform(8000, 20000); vals = []; anom = []
    hol = sorted(R.sample(range(25, 200), 4)); storm = R.randrange(30, 205)
    for i in range(n):
        t = t0 + i * step; d = (t - t0).days; h = t.hour + t.minute / 60.0
        wd = t.weekday(); prof = we if wd >= 5 else wk
        hh = int(h); f = prof[hh] + (prof[(hh + 1) % 24] - prof[hh]) * (h - hh)
        if wd == 4 and hh >= 20: f *= 1.15
        if d in hol: f = we[hh] * 0.9
        if d == storm: f *= 0.45
        v = base * f * (1 + 0.05 * math.sin(d / 30.0)) * math.exp(R.gauss(0, 0.06))
        vals.append(round(v))
    for d in hol + [storm]: anom.append(d * 48 + 12)
    write('surrTaxi', 'taxi_%d' % k, t0, lambda i: step, vals, anom)

def tweets(k):
    step = timedelta(minutes=5); n = 15800; t0 = datetime(2015, 2, 26, 21, 42)
    base = R.uniform(5, 80); disp = R.uniform(1.5, 4); vals = []; anom = []; burst = 0; amp = 1
    big = sorted(R.sample(range(1000, n - 300), 3))
    for i in range(n):
        t = t0 + i * step; h = t.hour + t.minute / 60
        day = 0.45 + 0.55 * math.exp(-((h - 15) / 5.0) ** 2) * 1.8
        if t.weekday() >= 5: day *= 0.7
        if burst <= 0 and R.random() < 1 / 900.0:
            burst = R.randint(6, 30); amp = R.uniform(1.5, 4)
        m = base * day * (amp if burst > 0 else 1); burst -= 1
        for b in big:
            if b <= i < b + 24: m *= 12 * math.exp(-(i - b) / 10.0) + 1
        lam = R.gammavariate(1 / 0.15, m * 0.15)  # extra dispersion
        vals.append(poisson(lam))
    write('surrTweets', 'tw_%d' % k, t0, lambda i: step, vals, big)

def poisson(lam):
    if lam > 50: return max(0, round(R.gauss(lam, math.sqrt(lam))))
    L = math.exp(-lam); p = 1; c = 0
    while True:
        p *= R.random()
        if p <= L: return c
        c += 1

def traffic(k):
    n = 2400; t0 = datetime(2015, 9, 1, 11, 30); vals = []; anom = []
    steps = []
    for i in range(n):
        g = 5 if R.random() > 0.03 else R.choice([10, 15, 30, 60, 180])
        steps.append(timedelta(minutes=g))
    t = t0; evt = sorted(R.sample(range(500, n - 100), 2))
    for i in range(n):
        h = t.hour + t.minute / 60
        rush = 1 - 0.35 * math.exp(-((h - 8) / 1.0) ** 2) - 0.4 * math.exp(-((h - 17.5) / 1.2) ** 2)
        if t.weekday() >= 5: rush = 1 - 0.1 * math.exp(-((h - 14) / 3.0) ** 2)
        v = 62 * rush + R.gauss(0, 3)
        for e in evt:
            if e <= i < e + 18: v *= 0.45
        vals.append(max(3, round(v))); t += steps[i]
    write('surrTraffic', 'speed_%d' % k, t0, lambda i: steps[i], vals, evt)

def adx(k):
    n = 1600; t0 = datetime(2011, 7, 1); step = timedelta(hours=1); vals = []
    base = R.uniform(0.1, 2); lvl = base; evt = sorted(R.sample(range(300, n - 50), 2))
    for i in range(n):
        t = t0 + i * step; h = t.hour
        lvl = lvl * math.exp(R.gauss(0, 0.01)) * (1 + 0.002 * (base / lvl - 1) * 50)
        v = lvl * (1 + 0.15 * math.sin((h - 6) / 24 * 2 * math.pi)) * math.exp(R.gauss(0, 0.08))
        if R.random() < 0.01: v *= R.uniform(0.3, 2.5)
        for e in evt:
            if e <= i < e + 8: v *= 2.5
        vals.append(v)
    write('surrAdx', 'adx_%d' % k, t0, lambda i: step, vals, evt)

def machine(k):
    n = 22000; t0 = datetime(2013, 12, 2, 21, 15); step = timedelta(minutes=5); vals = []
    shut, sag, fail = sorted(R.sample(range(3500, n - 600), 3))
    lvl = 0.0; drop = 0.0
    for i in range(n):
        lvl = 0.995 * lvl + R.gauss(0, 0.25)  # slow wander around the running temperature
        v = 86 + lvl + R.gauss(0, 0.8)
        if shut <= i < shut + 300:  # planned shutdown: cool down over 4 h, hold, come back
            j = i - shut; v = v - min(1, j / 48) * 60 * (1 if j < 250 else (300 - j) / 50)
        if sag <= i < sag + 400:  # pre-failure sag: 6-9 degrees over a day, noisier
            v -= R.uniform(6, 9) * min(1, (i - sag) / 280) + R.gauss(0, 1.5)
        if fail <= i < fail + 40: v = R.uniform(2, 15)
        vals.append(round(v, 4))
    write('surrKnown', 'machine_%d' % k, t0, lambda i: step, vals, [shut, sag, fail])

def cpu(k):
    n = 18000; t0 = datetime(2014, 5, 14, 1, 14); step = timedelta(minutes=5); vals = []
    at = R.randrange(9000, n - 1500); up = R.uniform(1.25, 1.45)
    for i in range(n):
        t = t0 + i * step; h = t.hour + t.minute / 60
        m = 40 * (1 + 0.2 * math.sin((h - 9) / 24 * 2 * math.pi))
        if i >= at: m *= 1 + (up - 1) * min(1, (i - at) / 60)
        vals.append(round(max(0, m + R.gauss(0, 3)), 3))
    write('surrKnown', 'cpu_%d' % k, t0, lambda i: step, vals, [at])

def latency(k):
    n = 4032; t0 = datetime(2014, 3, 7, 3, 41); step = timedelta(minutes=5); vals = []
    inc = sorted(R.sample(range(700, n - 200), 3))
    for i in range(n):
        m = 45
        for e in inc:  # the level creeps up for 2 h before an incident and spikes at it
            if e - 24 <= i < e: m *= 1 + R.uniform(0.15, 0.3) * (i - e + 24) / 24
            if e <= i < e + 6: m *= R.uniform(1.5, 3)
        v = m + R.gauss(0, 1.5)
        if R.random() < 0.004: v *= R.uniform(1.3, 2)
        vals.append(round(v, 3))
    write('surrKnown', 'latency_%d' % k, t0, lambda i: step, vals, inc)

def ambient(k):
    n = 7267; t0 = datetime(2013, 7, 4); step = timedelta(hours=1); vals = []
    ev = sorted(R.sample(range(1500, n - 200), 2)); off = [R.choice([-1, 1]) * R.uniform(2, 4) for _ in ev]
    for i in range(n):
        t = t0 + i * step; h = t.hour
        v = 71 + 2 * math.sin(i / n * 2 * math.pi) + 1.2 * math.sin((h - 9) / 24 * 2 * math.pi)
        if t.weekday() >= 5: v -= 0.8
        for e, o in zip(ev, off):
            if e <= i < e + 36: v += o * min(1, (i - e) / 6)
        vals.append(round(v + R.gauss(0, 0.6), 4))
    write('surrKnown', 'ambient_%d' % k, t0, lambda i: step, vals, ev)

def keys(k):
    n = 1900; t0 = datetime(2014, 7, 6, 22, 2); vals = []; steps = []
    ev = sorted(R.sample(range(400, n - 150), 2))
    for i in range(n):
        steps.append(timedelta(seconds=R.choice([300, 300, 300, 600, 900]) + R.randint(-20, 20)))
        sd = 0.04
        for e in ev:
            if e <= i < e + 60: sd = 0.08
        vals.append(round(max(0.01, 0.2 + R.gauss(0, sd)), 5))
    write('surrKnown', 'keys_%d' % k, t0, lambda i: steps[i], vals, ev)

for k in range(3): taxi(k)
for k in range(6): tweets(k)
for k in range(4): traffic(k)
for k in range(4): adx(k)
for k in range(2): machine(k)
for k in range(2): cpu(k)
for k in range(2): latency(k)
for k in range(2): ambient(k)
for k in range(2): keys(k)
json.dump(labels, open(dst + '/labels/combined_windows.json', 'w'), indent=1)
