#!/usr/bin/env python3
"""Side-by-side run of ttsguard and its peers over the scanner corpus.

    corpus.py --ttsguard bin/ttsguard --venv-bin VENV/bin --corpus DIR [--json OUT] [--runs N]

Every file listed in DIR/expected.json (and any file under DIR/benign and
DIR/malicious that it does not list, reported separately) is scanned by each
tool, one process per file, and the outcome is classified against the expected
verdict (see tools.classify). ttsguard is also run once over all files together
(best of --runs). Markdown goes to stdout, progress to stderr, full details to --json.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quiet import wait_quiet  # noqa: E402
from tools import PEERS, Tools, classify, run_timed  # noqa: E402

CLASSES = ["caught", "missed", "error", "false positive", "ok-clean"]


def log(*a):
    print(f"[bench-scan {time.strftime('%T')}]", *a, file=sys.stderr, flush=True)


def cell(o):
    c = {"missed": "**missed**", "false positive": "**false positive**", "error": "*error*"}.get(o.cls, o.cls)
    return c + " (not examined)" if o.outcome == "skipped" else c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ttsguard", required=True)
    ap.add_argument("--venv-bin", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--json")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--quiet-wait", type=float, default=60,
                    help="before each timed single-invocation run, wait up to this long for an idle machine")
    ap.add_argument("--skip", default="", help="comma-separated peer names not to run")
    ap.add_argument("--only", default="", help="comma-separated file names (debugging)")
    a = ap.parse_args()

    corpus = os.path.abspath(a.corpus)
    with open(os.path.join(corpus, "expected.json")) as f:
        expected = json.load(f)
    listed = {e["file"] for e in expected}
    on_disk = sorted(os.path.join(d, n) for d in ("benign", "malicious")
                     for n in os.listdir(os.path.join(corpus, d)))
    unlisted = [p for p in on_disk if p not in listed]
    missing = sorted(listed - set(on_disk))
    entries = [e for e in expected if e["file"] in set(on_disk)]
    if a.only:
        keep = set(a.only.split(","))
        entries = [e for e in entries if os.path.basename(e["file"]) in keep or e["file"] in keep]

    tools = Tools(os.path.abspath(a.ttsguard), os.path.abspath(a.venv_bin), timeout=a.timeout)
    skip = set(filter(None, a.skip.split(",")))
    peers = [(n, m) for n, m in PEERS if n not in skip]
    names = ["ttsguard"] + [n for n, _ in peers]

    # ttsguard, one invocation over every file (best of --runs; the verdicts of the first run are kept).
    paths = [os.path.join(corpus, e["file"]) for e in entries]
    r = run_timed([tools.ttsguard, "scan", "--json"] + paths, a.timeout * 4, None, env=tools.env)
    one_rc, one_rss = r.rc, r.maxrss_kib  # peak RSS via /usr/bin/time
    try:
        one_report = json.loads(r.stdout)
    except Exception:
        one_report = {"files": [], "error": (r.stderr or r.stdout)[-500:]}
    one_cpu = r.cpu
    one, one_busy = [], []
    for i in range(max(1, a.runs)):
        one_busy.append(wait_quiet(a.quiet_wait))
        r = run_timed([tools.ttsguard, "scan", "--json"] + paths, a.timeout * 4, None, env=tools.env, rss=False)
        one.append(r.wall)
    log(f"ttsguard one invocation over {len(paths)} files: best {min(one)*1000:.1f} ms, exit {one_rc}")
    by_path = {os.path.abspath(fr["path"]): fr for fr in one_report.get("files", [])}

    load0 = os.getloadavg()[0]
    t_pass = time.time()
    rows = []
    for n, e in enumerate(entries, 1):
        p = os.path.join(corpus, e["file"])
        row = {"file": e["file"], "expected": e["verdict"], "technique": e.get("technique", ""), "tools": {}}
        o = tools.scan("ttsguard", p)
        row["tools"]["ttsguard"] = o
        fr = by_path.get(p)
        row["ttsguard_batch_verdict"] = fr.get("verdict") if fr else None
        for name, _ in peers:
            row["tools"][name] = tools.scan(name, p)
        for name, o in row["tools"].items():
            o.cls = classify(e["verdict"], o.outcome)
        rows.append(row)
        log(f"{n:3d}/{len(entries)} {e['file']}: " +
            ", ".join(f"{k}={v.cls}" for k, v in row["tools"].items()))

    load1 = os.getloadavg()[0]
    t_pass = time.time() - t_pass

    # ------------------------------------------------------------------ summary
    summ = {t: {c: 0 for c in CLASSES} for t in names}
    wall = {t: 0.0 for t in names}
    cpu = {t: 0.0 for t in names}
    rss = {t: 0 for t in names}
    for row in rows:
        for t, o in row["tools"].items():
            summ[t][o.cls] += 1
            wall[t] += o.wall
            cpu[t] += o.cpu
            rss[t] = max(rss[t], o.maxrss_kib)
    exp_counts = {v: sum(1 for r in rows if r["expected"] == v) for v in ("clean", "unsafe", "unscannable")}

    # ------------------------------------------------------------------ markdown
    out = []
    w = out.append
    w(f"Corpus: {len(rows)} files ({exp_counts['clean']} benign, {exp_counts['unsafe']} expected unsafe, "
      f"{exp_counts['unscannable']} expected unscannable).")
    if unlisted:
        w(f"Files on disk not in expected.json (not scored): {', '.join(unlisted)}.")
    if missing:
        w(f"Files in expected.json missing on disk: {', '.join(missing)}.")
    w("")
    w("| file | expected | " + " | ".join(names) + " |")
    w("|---|---|" + "---|" * len(names))
    for row in rows:
        w(f"| `{row['file']}` | {row['expected']} | " +
          " | ".join(cell(row["tools"][t]) for t in names) + " |")
    for c, label in (("caught", "**caught** (of %d malicious)" % (exp_counts["unsafe"] + exp_counts["unscannable"])),
                     ("missed", "**missed**"), ("false positive", "**false positives** (of %d benign)" % exp_counts["clean"]),
                     ("error", "**errors** (could not scan)"), ("ok-clean", "**ok-clean**")):
        w(f"| {label} | | " + " | ".join(str(summ[t][c]) for t in names) + " |")
    w("| **wall time, one process per file, sum** | | " + " | ".join(f"{wall[t]:.2f} s" for t in names) + " |")
    w("| **CPU time (user+sys), one process per file, sum** | | " + " | ".join(f"{cpu[t]:.2f} s" for t in names) + " |")
    w("| **peak RSS of one process (max)** | | " + " | ".join(f"{rss[t]/1024:.0f} MiB" for t in names) + " |")
    w("")
    w(f"The per-file pass took {t_pass:.0f} s (the tools interleaved file by file, so they share the machine's "
      f"state); 1-minute load average {load0:.2f} at its start, {load1:.2f} at its end.")
    w("")
    w(f"ttsguard in one invocation over all {len(rows)} files (`ttsguard scan --json FILE...`, best of {len(one)}): "
      f"**{min(one)*1000:.1f} ms** wall (median {sorted(one)[len(one)//2]*1000:.1f} ms; all: {', '.join(f'{x*1000:.1f}' for x in one)}; "
      f"busy cores before each run: {', '.join(f'{b:.2f}' for b in one_busy)}), CPU time {one_cpu*1000:.0f} ms, peak RSS {one_rss/1024:.1f} MiB, exit {one_rc}.")
    diff = [r for r in rows if r["ttsguard_batch_verdict"] != r["tools"]["ttsguard"].extra.get("verdict")]
    if diff:
        w("Verdicts of the single invocation that differ from the per-file runs: " +
          ", ".join(f"`{r['file']}` ({r['ttsguard_batch_verdict']} vs {r['tools']['ttsguard'].extra.get('verdict')})" for r in diff) + ".")
    w("")
    exact = [r for r in rows if r["tools"]["ttsguard"].extra.get("verdict") == r["expected"]]
    w(f"ttsguard's exact verdict equals expected.json's for {len(exact)} of {len(rows)} files.")
    bad = [r for r in rows if r["tools"]["ttsguard"].extra.get("verdict") != r["expected"]]
    if bad:
        w("")
        w("ttsguard verdicts that differ from expected.json:")
        w("")
        w("| file | expected | ttsguard verdict | first finding / reason |")
        w("|---|---|---|---|")
        for r in bad:
            o = r["tools"]["ttsguard"]
            w(f"| `{r['file']}` | {r['expected']} | {o.extra.get('verdict')} | {o.detail.replace('|', '/')} |")
    w("")
    w("Misses, false positives and errors of each tool (reason as the tool reported it):")
    w("")
    for t in names:
        items = [(r["file"], r["tools"][t]) for r in rows if r["tools"][t].cls in ("missed", "false positive", "error")]
        if not items:
            w(f"- **{t}**: none.")
            continue
        w(f"- **{t}**:")
        for cls in ("missed", "false positive", "error"):
            sel = [(f, o) for f, o in items if o.cls == cls]
            if not sel:
                continue
            # group by reason so that 15 identical reasons take one line
            groups = {}
            for f, o in sel:
                key = o.detail or o.outcome
                groups.setdefault(key, []).append(os.path.basename(f))
            parts = "; ".join(f"{', '.join(fs)} ({reason})" for reason, fs in groups.items())
            w(f"  - {cls} ({len(sel)}): {parts}")
    print("\n".join(out))

    if a.json:
        def enc(o):
            return {"outcome": o.outcome, "class": o.cls, "detail": o.detail, "wall_s": o.wall, "cpu_s": o.cpu,
                    "maxrss_kib": o.maxrss_kib, **o.extra}
        with open(a.json, "w") as f:
            json.dump({"rows": [{**{k: v for k, v in r.items() if k != "tools"},
                                 "tools": {t: enc(o) for t, o in r["tools"].items()}} for r in rows],
                       "summary": summ, "wall_s": wall, "cpu_s": cpu, "maxrss_kib": rss,
                       "ttsguard_one_invocation_s": one, "ttsguard_one_invocation_rc": one_rc,
                       "ttsguard_one_invocation_rss_kib": one_rss,
                       "ttsguard_one_invocation_busy_cores": one_busy, "loadavg": [load0, load1]}, f, indent=1)


if __name__ == "__main__":
    main()
