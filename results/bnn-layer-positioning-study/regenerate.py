"""Regenerates the parts of comparison.md between <!-- name --> markers from this folder's rounds.jsonl (or ledger).

Run from the repository root: python3 results/bnn-layer-positioning-study/regenerate.py
The tables and orderings are bench/error_table.ts's output; coverage and compute are counted from finished-runs.jsonl
(its last committed version once the study removes it) and meta.json's jobs.
"""

import subprocess, re, sys
d = "results/bnn-layer-positioning-study"
def tool(n, extra):
    return subprocess.run(["nice", "-n", "19", "./dbal", "run", "-A", "bench/error_table.ts", d, "--labelled", str(n),
                           "--column", "preset", "--partial", *extra], capture_output=True, text=True, check=True).stdout.strip()
parts = {
    "table-500": tool(500, []),
    "table-300": tool(300, []),
    "orders-500": tool(500, ["--paper", f"{d}/poster-table2.csv", "--versus", "BNN",
                                 "--pairs", "BNN-1:BNN1,BNN-2:BNN2,BNN-3:BNN3"]).split("\n\n", 1)[1],
}
p = f"{d}/comparison.md"
s = open(p).read()
for k, v in parts.items():
    pat = re.compile(rf"(<!-- {k} -->\n)(?:.*?\n)?(<!-- /{k} -->)", re.S)
    if not pat.search(s): sys.exit(f"marker {k} missing")
    s = pat.sub(lambda m: m.group(1) + v + "\n" + m.group(2), s)
import os
def ledger_lines():
    # When the study ends the runner removes the ledger; its last committed version still has every run's wallSeconds.
    path = f"{d}/finished-runs.jsonl"
    if os.path.exists(path): return open(path).read().splitlines()
    git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True, check=True).stdout
    last = git("log", "-1", "--format=%H", "--", path).strip()  # the commit that removed it, or the last one to change it
    at = last if subprocess.run(["git", "cat-file", "-e", f"{last}:{path}"], stderr=subprocess.DEVNULL).returncode == 0 else f"{last}^"
    return git("show", f"{at}:{path}").splitlines()
open(p, "w").write(s)
# coverage and compute, per preset, from the ledger
import json, statistics
order = ["BNN", "BNN-1", "BNN-2", "BNN-3", "BNN1", "BNN2", "BNN3", "CNN"]
runs = {r["label"]: r for r in (json.loads(l) for l in ledger_lines() if l.strip())}
# The last runs may end after the ledger's last commit; meta.json (written when the study ends) has the final
# process's runs with their wallSeconds.
if os.path.exists(f"{d}/meta.json"):
    for job in json.load(open(f"{d}/meta.json"))["jobs"]:
        runs[job["run"]] = {"label": job["run"], "wallSeconds": job["wallSeconds"]}
runs = list(runs.values())
print("runs", len(runs))
def preset(r): return re.search(r"preset:([^,}]*)", r["label"]).group(1)
cov = ", ".join(f"{p} {sum(preset(r) == p for r in runs)}/9" for p in order)
rows = ["| architecture | runs finished | minutes per run: min / median / max |", "| --- | ---: | --- |"]
for p in order:
    w = sorted(r["wallSeconds"] / 60 for r in runs if preset(r) == p)
    rows.append(f"| {p} | {len(w)} of 9 | " + (f"{w[0]:.0f} / {statistics.median(w):.0f} / {w[-1]:.0f}" if w else "not run yet") + " |")
s = open(p_ := f"{d}/comparison.md").read()
for k, v in {"coverage": cov, "compute": "\n".join(rows)}.items():
    pat = re.compile(rf"(<!-- {k} -->\n)(?:.*?\n)?(<!-- /{k} -->)", re.S)
    if not pat.search(s): sys.exit(f"marker {k} missing")
    s = pat.sub(lambda m: m.group(1) + v + "\n" + m.group(2), s)
open(p_, "w").write(s)
