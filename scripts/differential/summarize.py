"""Summarize a differential run's disagreements: OUT/disagreements/CLASS/ID/case.json.

    python3 scripts/differential/summarize.py OUT [--examples N]
    python3 scripts/differential/summarize.py OUT --rescan BIN

For every class and generator family: how many cases, the scan rules (or the unscannable
reason) that decided the verdict, the loader effects, and N example folders.

--rescan scans every kept disagreement file again with the ttsguard binary BIN (its folder
copy, so a config is judged with the files beside it) and reports, per class and family, how
many the new binary decides differently: a "missed" or "loader-timeout-clean" case is fixed
when the new verdict is not clean; a "false-positive-benign" or "flagged-quiet" case is fixed
when it is clean (for flagged-quiet that is a change to explain, not always a fix: docs/scan.md).
The loaders' results are those recorded during the run (nothing is loaded again). Per-case
results go to OUT/rescan.json.
"""

import argparse
import collections
import glob
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--examples", type=int, default=2)
    ap.add_argument("--rescan", metavar="BIN", help="scan the kept files again with this ttsguard binary")
    a = ap.parse_args()
    if a.rescan:
        return rescan(a.out, os.path.abspath(a.rescan))
    groups = collections.defaultdict(list)
    for f in sorted(glob.glob(os.path.join(a.out, "disagreements", "*", "*", "case.json"))):
        c = json.load(open(f))
        fam = c["family"] if c["kind"] == "benign" else c["family"].split("/")[0] + ("/" + c["family"].split("/")[1] if c["kind"] == "mutant" else "")
        groups[(c["class"], fam)].append((os.path.dirname(f), c))
    for (cls, fam), items in sorted(groups.items()):
        rules = collections.Counter()
        effects = collections.Counter()
        for _, c in items:
            s = c["scan"]
            rs = sorted({x["rule"] for x in s.get("findings", []) if x.get("severity") != "info"})
            rules[(s.get("format"), s.get("verdict"), ", ".join(rs) or (s.get("unscannable", "")[:60]))] += 1
            for r in c["loaders"]:
                for e in r["events"]:
                    if e[0] not in ("dyncode", "open-missing"):
                        effects[e[0]] += 1
        print(f"{cls:22} {fam:40} {len(items):5}")
        for (fmt, v, why), n in rules.most_common(3):
            print(f"    scan {fmt}/{v}: {why} ({n})")
        subs = collections.Counter(c["family"].split("/", 1)[-1] + (f" [{c['note']}]" if c.get("note") else "") for _, c in items)
        if len(subs) > 1 or c["kind"] == "malicious":
            print("    cases: " + ", ".join(f"{k}={v}" for k, v in subs.most_common(8)))
        if effects:
            print("    loader effects: " + ", ".join(f"{k}={v}" for k, v in effects.most_common()))
        for d, _ in items[:a.examples]:
            print(f"    e.g. {d}")


FIXED_WHEN_CLEAN = ("false-positive-benign", "flagged-quiet")


def family_of(c):
    return c["family"] if c["kind"] == "benign" else c["family"].rsplit("/", 1)[0]


def rescan(out, binary):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import harness  # noqa: E402 - its scan() runs `BIN scan --json` in chunks

    cases = []
    for f in sorted(glob.glob(os.path.join(out, "disagreements", "*", "*", "case.json"))):
        c = json.load(open(f))
        cases.append((os.path.join(os.path.dirname(f), c["main"]), c))
    if not cases:
        print(f"no disagreement files under {out}/disagreements")
        return 1
    reports = harness.scan(binary, [p for p, _ in cases])
    rows = []
    stats = collections.defaultdict(lambda: collections.Counter())
    for p, c in cases:
        new = reports.get(p, {}).get("verdict", "error")
        old = c["scan"].get("verdict", "error")
        fixed = (new == "clean") if c["class"] in FIXED_WHEN_CLEAN else (new != "clean" and new != "error")
        key = (c["class"], family_of(c))
        stats[key]["cases"] += 1
        stats[key]["fixed"] += fixed
        stats[key][f"{old}->{new}"] += 1
        rows.append({"file": os.path.relpath(p, out), "class": c["class"], "family": c["family"], "old": old, "new": new,
                     "fixed": fixed, "rules": sorted({x["rule"] for x in reports.get(p, {}).get("findings", [])
                                                       if x.get("severity") != "info"})})
    with open(os.path.join(out, "rescan.json"), "w") as f:
        json.dump({"binary": binary, "cases": rows}, f, indent=0)
    tot = collections.Counter()
    print(f"rescan of {len(cases)} disagreement files under {out} with {binary}")
    print(f"{'class':22} {'family':40} {'cases':>6} {'fixed':>6}  verdicts old->new")
    for (cls, fam), st in sorted(stats.items()):
        tot[cls + " cases"] += st["cases"]
        tot[cls + " fixed"] += st["fixed"]
        moves = ", ".join(f"{k}={v}" for k, v in sorted(st.items()) if "->" in k)
        print(f"{cls:22} {fam:40} {st['cases']:6} {st['fixed']:6}  {moves}")
    for cls in sorted({k.rsplit(' ', 1)[0] for k in tot}):
        print(f"total {cls}: {tot[cls + ' cases']} cases, {tot[cls + ' fixed']} fixed by the new binary")
    print(f"per-case results: {os.path.join(out, 'rescan.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
