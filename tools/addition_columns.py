#!/usr/bin/env python3
"""Where 2-digit addition goes wrong, column by column.

Reads the latest N eval traces of a run database (recorded by `aha eval CKPT --task
arithmetic --op + --n 200`, without --no-record, CKPT inside the run's checkpoints/) and
prints the share of completions that
  o_copy / t_copy  restate the ones / tens digits of both operands ("Ones: 5 + 5", "Tens: 4 + 2"),
  o_fact / t_fact  state a correct sum for the digits they wrote (the tens with the carry;
                   the final value is checked, whether written "4 + 3 + 1 = 8" or
                   "4 + 3 = 7, 7 + 1 = 8"),
  carry            carry the right amount into the tens,
  answer           answer correctly.
Usage: tools/addition_columns.py RUN/run.db [N=75]
"""
import re
import sqlite3
import sys

db = sys.argv[1]
limit = int(sys.argv[2]) if len(sys.argv) > 2 else 75
con = sqlite3.connect(db)
con.text_factory = lambda b: b.decode("utf-8", "replace")
rows = con.execute("select prompt, completion from trace order by rowid desc limit ?", (limit,)).fetchall()
n = 0
count = dict(o_copy=0, t_copy=0, o_fact=0, t_fact=0, carry=0, answer=0)
for prompt, comp in rows:
    m = re.search(r"Compute (\d\d) \+ (\d\d)\.", prompt)
    if not m:
        continue
    a, b = m.groups()
    n += 1
    mo = re.search(r"(?:Ones: |个位：)(\d+) \+ (\d+) = (\d+)", comp)
    # tens: "4 + 3 + 1 = 8" (traces before session 8) or "4 + 3 = 7, 7 + 1 = 8" (one
    # fact per clause); the carry, when there is one, is group 3 either way
    mt = re.search(r"(?:Tens: |十位：)(\d+) \+ (\d+)(?: \+ (\d+)| = \d+[,，] ?\d+ \+ (\d+))? = (\d+)", comp)
    if mt:
        mt = [None, mt.group(1), mt.group(2), mt.group(3) or mt.group(4), mt.group(5)]
    if mo and mo.group(1) == a[1] and mo.group(2) == b[1]:
        count["o_copy"] += 1
    if mo and int(mo.group(3)) == int(mo.group(1)) + int(mo.group(2)):
        count["o_fact"] += 1
    if mt and mt[1] == a[0] and mt[2] == b[0]:
        count["t_copy"] += 1
    if mt and int(mt[4]) == int(mt[1]) + int(mt[2]) + int(mt[3] or 0):
        count["t_fact"] += 1
    if mt and int(mt[3] or 0) == (1 if int(a[1]) + int(b[1]) >= 10 else 0):
        count["carry"] += 1
    ma = re.search(r"<answer> *(\d+)", comp)
    if ma and int(ma.group(1)) == int(a) + int(b):
        count["answer"] += 1
print(f"{n} addition traces: " + ", ".join(f"{k} {v / max(n, 1):.2f}" for k, v in count.items()))
