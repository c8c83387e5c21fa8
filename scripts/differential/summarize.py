"""Summarize a differential run's disagreements: OUT/disagreements/CLASS/ID/case.json.

    python3 scripts/differential/summarize.py OUT [--examples N]

For every class and generator family: how many cases, the scan rules (or the unscannable
reason) that decided the verdict, the loader effects, and N example folders.
"""

import argparse
import collections
import glob
import json
import os


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--examples", type=int, default=2)
    a = ap.parse_args()
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


if __name__ == "__main__":
    main()
