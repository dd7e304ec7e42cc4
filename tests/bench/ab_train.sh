#!/bin/bash
# Compares two builds of `aha` on `bench train` in ABBA order (A B B A per round), which
# is how this project measures a change on a VM whose speed drifts by ±10–20% within
# minutes (and whose first run after another tends to be the faster one).
#
#   tests/bench/ab_train.sh ROUNDS AHA_A AHA_B [PRESET] [--profile]
#
# Without --profile: each run's median step time, MFU and the run's own FMA probe, then
# per build the median step time, its MFU, and in how many of the ROUNDS·2 A/B pairs B was
# faster. With --profile (`bench train --profile`, slower): per run the thread time of
# GEMMs and of attention and their ratio — a ratio within a run is immune to the drift —
# then per build the medians of the largest ops.
set -euo pipefail
if [ $# -lt 3 ]; then sed -n 2,12p "$0"; exit 2; fi
rounds=$1; bin_a=$2; bin_b=$3; preset=${4:-tiny}; profile=${5:-}
[ "$preset" = --profile ] && { preset=tiny; profile=--profile; }
out=$(mktemp); trap 'rm -f "$out"' EXIT
for _ in $(seq "$rounds"); do
  for x in A B B A; do
    bin=$bin_a; [ $x = B ] && bin=$bin_b
    if [ -n "$profile" ]; then
      "$bin" bench train "$preset" --steps 10 --profile 2>&1 >/dev/null |
        awk -v x=$x 'NF >= 5 && $1 != "op" && $(NF-3) ~ /^[0-9.]+$/ { t[$1] += $(NF-3) }
                     END { for (k in t) printf "%s %s %s\n", x, k, t[k]; print x, "--", 0 }' >> "$out"
    else
      "$bin" bench train "$preset" --steps 15 --json 2>/dev/null |
        python3 -c "import json,sys; j=json.load(sys.stdin); print('$x', j['step_ms'], j['mfu'], j.get('peak_probe_gflops', 0))" >> "$out"
    fi
  done
done
python3 - "$out" "$profile" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
if sys.argv[2]:
    runs, cur = [], {}
    for x, k, v in rows:
        if k == '--':
            runs.append((x, cur)); cur = {}
        else:
            cur[k] = float(v)
    for x, r in runs:
        att = r.get('attention_forward', 0) + r.get('attention_backward', 0)
        print(f"{x}  gemm {r.get('gemm', 0):7.1f}  attention {att:6.1f}  ratio {att / r['gemm']:.3f}  all ops {sum(r.values()):7.1f} ms/step")
    ops = sorted({k for _, r in runs for k in r}, key=lambda k: -statistics.median([r.get(k, 0) for _, r in runs]))
    print("medians (ms per step, thread time of both replicas):   A        B")
    for k in ops[:12]:
        a = [r.get(k, 0) for x, r in runs if x == 'A']; b = [r.get(k, 0) for x, r in runs if x == 'B']
        print(f"  {k:40s} {statistics.median(a):8.2f} {statistics.median(b):8.2f}")
else:
    for x, ms, mfu, probe in rows:
        print(f"{x}  {float(ms):7.1f} ms  MFU {float(mfu):.3f}  probe {float(probe):6.1f}")
    a = [float(r[1]) for r in rows if r[0] == 'A']; b = [float(r[1]) for r in rows if r[0] == 'B']
    for x, v in (('A', a), ('B', b)):
        m = statistics.median(v)
        mfus = [float(r[2]) for r in rows if r[0] == x]
        print(f"{x}: median {m:.1f} ms, MFU median {statistics.median(mfus):.3f} (range {min(mfus):.3f}-{max(mfus):.3f})")
    print(f"B faster in {sum(1 for p, q in zip(a, b) if q < p)} of {len(a)} pairs")
PY
