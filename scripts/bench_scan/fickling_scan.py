#!/usr/bin/env python3
"""Scan one file with fickling's Python API and print one JSON line.

    fickling_scan.py FILE

fickling's CLI (--check-safety) reads every input as a stream of stacked raw
pickles and so cannot open a PyTorch zip. Its API can: a zip (by content,
zipfile.is_zipfile) goes to fickling.scan_zip_archive (which examines the
members named *.pkl, *.pickle, *.bin), anything else to fickling.scan_file;
both with graceful=True, so parse errors are reported instead of raised.
Output: {"severity": worst analysis severity name, "errors": [...],
"members": number of pickles analysed, "analysis": [short texts]}.
"""
import json
import sys
import zipfile

import fickling
from fickling.analysis import Severity


def main():
    path = sys.argv[1]
    if zipfile.is_zipfile(path):
        results = list(fickling.scan_zip_archive(path, graceful=True).values())
    else:
        results = [fickling.scan_file(path, graceful=True)]
    worst = Severity.LIKELY_SAFE  # worst severity from analysis only (not from errors)
    errors, texts, n = [], [], 0
    for r in results:
        errors.extend(r.errors)
        for ar in r.results:
            n += 1
            if ar.severity > worst:
                worst = ar.severity
            t = ar.to_string() if hasattr(ar, "to_string") else str(ar)
            if t and ar.severity > Severity.LIKELY_SAFE:
                texts.append(t.splitlines()[0][:160])
    print(json.dumps({"severity": worst.name, "errors": [e[:200] for e in errors],
                      "members": n, "analysis": texts[:3]}))


if __name__ == "__main__":
    main()
