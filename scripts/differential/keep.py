"""Keep a differential run's disagreement classes as regression files of the CI corpus.

    python3 scripts/differential/keep.py --ttsguard BIN [--corpus internal/scan/testdata/differential] \
        [--prefix long-] RUN_OUT [RUN_OUT...]

Reads RUN_OUT/disagreements/CLASS/ID/case.json (and RUN_OUT/rescan.json from summarize.py --rescan,
when there, to skip the cases BIN fixed: those are kept through the generator's own corpus cases),
groups the cases by class, family (mutants by their mutation), scan format, verdict, rules and
unscannable reason, and copies the smallest case of each group into the corpus as
PREFIXCLASS-NNN/ with an expected.json entry. Nothing is loaded again: the loaders' statuses and
effects are those the run recorded. A "flagged-quiet" case (the loaders showed no effect, scan
flags it) is recorded with must "flagged" and the reason it is flagged on purpose (docs/scan.md,
"What the long runs flag that the loaders do not act on"): the Go test then holds scan to
flagging it. Entries already kept from the same run case are replaced.
"""

import argparse
import collections
import glob
import json
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# Why scan flags a file the loaders accepted without effect, by the first rule (or unscannable
# reason) that matches. Order matters.
DELIBERATE = [
    (r"pickle/(global-not-allowed|computed-call|method-call|persistent|extension)", "the file holds pickle code that this loader did not reach but another reader (or another member order) does"),
    (r"zip/multiple-eocd|zip/reader-disagreement|zip/prefix", "zip readers (miniz, zipfile, unzip) choose different end records or start offsets: the archive scanned is not the only one"),
    (r"zip/unaccounted|trailing-data", "bytes the loader never reads (after the end record, the STOP or the array): where a payload hides from a scanner that stops early"),
    (r"zip/crc|zip/name-mismatch|zip/flags", "zip metadata torch's reader does not check (CRC, local/central name, flags): other zip readers refuse or read the member differently"),
    (r"zip/comment-length", "an end record whose comment runs past the end of the file: zip readers disagree on whether it ends the archive"),
    (r"pickle/frame-mismatch", "a FRAME whose length lies: CPython ignores frame boundaries, so a reader that trusts them is bypassed"),
    (r"torch/(rebuild-args|persistent-id|legacy-version)", "tensor records unlike what torch.save writes (a changed rebuild call, persistent id or legacy protocol version): the loader built or refused them without effect, scan cannot vouch for the tensors they describe"),
    (r"config/(url|absolute-path|path-escape)", "a config path coqui opens at model init (outside the managers the harness runs) or through fsspec, which had no network in the harness"),
    (r"unscannable", "fail closed: the loader refused the file or read only part of it (Python's tarfile ends quietly at a bad header after the first), and scan cannot show the rest safe"),
]


def deliberate(scan, rules):
    text = " ".join(rules) + (" unscannable" if scan.get("verdict") == "unscannable" else "")
    for pat, why in DELIBERATE:
        if re.search(pat, text):
            return why
    return ""


def group_key(c, scan, rules):
    """One regression file per (class, family, format, verdict, what decided it): for an unscannable
    verdict, the kind of part that stopped the scan and whether pickle code was seen before it; else
    the rules found. Mutants group by their mutation, not by the file mutated."""
    fam = c["family"].split("/")
    fam = "mutant/" + fam[1] if c["kind"] == "mutant" else fam[0]
    if scan.get("verdict") == "unscannable":
        why = re.sub(r"\d+", "N", scan.get("unscannable") or "")
        why = re.sub(r"could not be fully parsed: ", "", why)[:24]
        decided = ("pickle code; " if any(r.startswith("pickle/") for r in rules) else "") + why
    else:
        decided = ",".join(rules)
    return (c["class"], fam, scan.get("format"), scan.get("verdict"), decided)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--ttsguard", required=True)
    ap.add_argument("--corpus", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "internal", "scan", "testdata", "differential"))
    ap.add_argument("--prefix", default="long-")
    a = ap.parse_args()
    corpus = os.path.abspath(a.corpus)
    groups = collections.OrderedDict()
    for run in a.runs:
        fixed = set()
        rp = os.path.join(run, "rescan.json")
        if os.path.exists(rp):
            fixed = {r["file"] for r in json.load(open(rp))["cases"] if r["fixed"]}
        for f in sorted(glob.glob(os.path.join(run, "disagreements", "*", "*", "case.json"))):
            c = json.load(open(f))
            d = os.path.dirname(f)
            if os.path.relpath(os.path.join(d, c["main"]), run) in fixed:
                continue
            rules = sorted({x["rule"] for x in c["scan"].get("findings", []) if x.get("severity") != "info"})
            k = group_key(c, c["scan"], rules)
            size = sum(os.path.getsize(p) for p in glob.glob(os.path.join(d, "*")) if not p.endswith("case.json"))
            n = groups[k][2] + 1 if k in groups else 1
            if k not in groups or size < groups[k][1]:
                groups[k] = (d, size, n, c, rules)
            else:
                groups[k] = groups[k][:2] + (n,) + groups[k][3:]
    with open(os.path.join(corpus, "expected.json")) as fh:
        entries = json.load(fh)
    entries = [e for e in entries if not e["file"].startswith(a.prefix)]
    for old in glob.glob(os.path.join(corpus, a.prefix + "*")):
        shutil.rmtree(old)
    counters = collections.Counter()
    new = []
    for (cls, fam, *_), (d, size, n, c, rules) in groups.items():
        counters[cls] += 1
        name = f"{a.prefix}{cls}-{counters[cls]:03d}"
        dst = os.path.join(corpus, name)
        shutil.copytree(d, dst, ignore=shutil.ignore_patterns("case.json"))
        work = os.path.dirname(c["scan"].get("path", "")) or d
        eff = sorted({(e[0], e[1].replace(work, "<corpus>")) for r in c["loaders"] for e in r["events"]
                      if e[0] in harness.EFFECT_CLASSES})
        accepted = any(r["status"] == "ok" for r in c["loaders"])
        if eff:
            must = "not-clean"
        elif c["kind"] == "benign" and accepted:
            must = "clean"
        elif cls == "flagged-quiet":
            must = "flagged"
        else:
            must = "any"
        new.append({"file": f"{name}/{c['main']}", "kind": c["kind"], "family": c["family"], "note": c.get("note", ""),
                    "loaders": {r["loader"]: r["status"] for r in c["loaders"]}, "loader_effects": [list(e) for e in eff],
                    "loader_accepted": accepted, "must": must, "known_failing": "",
                    "deliberate": deliberate(c["scan"], rules) if must == "flagged" else "",
                    "from": f"{os.path.basename(os.path.normpath(os.path.dirname(os.path.dirname(os.path.dirname(d)))))}/{c['id']} ({n} cases like it)"})
    rep = harness.scan(os.path.abspath(a.ttsguard), [os.path.join(corpus, e["file"]) for e in new])
    for e in new:
        e["scan_verdict_when_recorded"] = rep.get(os.path.join(corpus, e["file"]), {}).get("verdict", "error")
    with open(os.path.join(corpus, "expected.json"), "w") as fh:
        json.dump(entries + new, fh, indent=1)
        fh.write("\n")
    for e in new:
        print(f"{e['must']:9} {e['scan_verdict_when_recorded']:11} {e['file']:60} {e['from']}")
    print(f"{len(new)} regression files kept from {len(a.runs)} runs")


if __name__ == "__main__":
    main()
