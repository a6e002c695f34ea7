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

for k in range(3): taxi(k)
for k in range(6): tweets(k)
for k in range(4): traffic(k)
for k in range(4): adx(k)
json.dump(labels, open(dst + '/labels/combined_windows.json', 'w'), indent=1)
