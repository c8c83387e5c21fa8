#!/usr/bin/env python3
"""Time ttsguard (and the peers) on the 2 GiB PyTorch zip checkpoint.

    big.py --ttsguard bin/ttsguard --venv-bin VENV/bin --file FILE [--runs 5] [--peer-runs 1]

ttsguard: `ttsguard scan FILE`, best of --runs wall times (page cache warm: the
file is read once before anything is timed), and its peak RSS measured by
/usr/bin/time -v in a separate run (and by wait4 in every timed run).
Peers: the same file, --peer-runs runs each (best kept), wall and peak RSS.
Markdown on stdout.
"""
import argparse
import json
import os
import re
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quiet import wait_quiet  # noqa: E402
from tools import PEERS, Tools, run_timed  # noqa: E402

WALL_GOAL_MS, RSS_GOAL_MIB = 50.0, 32.0


def log(*a):
    print(f"[bench-scan {time.strftime('%T')}]", *a, file=sys.stderr, flush=True)


def warm(path):
    with open(path, "rb") as f:
        while f.read(16 << 20):
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ttsguard", required=True)
    ap.add_argument("--venv-bin", required=True)
    ap.add_argument("--file", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--peer-runs", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--skip", default="")
    ap.add_argument("--quiet-wait", type=float, default=60)
    ap.add_argument("--json")
    a = ap.parse_args()
    path = os.path.abspath(a.file)
    size = os.path.getsize(path)
    tools = Tools(os.path.abspath(a.ttsguard), os.path.abspath(a.venv_bin), timeout=a.timeout,
                  mem_limit=16 << 30)
    warm(path)

    # ttsguard: untimed warm-up run (binary into the page cache), then --runs timed runs.
    run_timed([tools.ttsguard, "scan", path], a.timeout, rss=False)
    walls, busy = [], []
    for _ in range(a.runs):
        busy.append(wait_quiet(a.quiet_wait))
        r = run_timed([tools.ttsguard, "scan", path], a.timeout, rss=False)
        walls.append(r.wall * 1000)
    tv = run_timed(["/usr/bin/time", "-v", tools.ttsguard, "scan", path], a.timeout, rss=False)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", tv.stderr)
    time_v_rss = int(m.group(1)) / 1024 if m else float("nan")
    m = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", tv.stderr)
    time_v_wall = m.group(1) if m else "?"
    jr = run_timed([tools.ttsguard, "scan", "--json", path], a.timeout)
    try:
        fr = json.loads(jr.stdout)["files"][0]
        verdict = fr["verdict"]
        findings = [f"{f['severity']} {f['rule']}" + (f" {f['global']}" if f.get("global") else "")
                    + (f" in {f['member']}" if f.get("member") else "") for f in fr.get("findings") or []]
        reported_ms = json.loads(jr.stdout).get("elapsed_ms")
    except Exception as e:
        verdict, findings, reported_ms = f"no JSON ({e})", [], None
    best = min(walls)
    log(f"ttsguard on {size} bytes: best {best:.1f} ms, RSS {time_v_rss:.1f} MiB, verdict {verdict}")

    peers = []
    skip = set(filter(None, a.skip.split(",")))
    for name, _ in PEERS:
        if name in skip:
            continue
        outs = []
        for _ in range(max(1, a.peer_runs)):
            wait_quiet(a.quiet_wait)
            outs.append(tools.scan(name, path))
        b = min(outs, key=lambda o: o.wall)
        peers.append((name, b, max(o.maxrss_kib for o in outs)))
        log(f"{name}: {b.wall:.2f} s, {b.maxrss_kib/1024:.0f} MiB, {b.outcome} {b.detail}")

    o = []
    w = o.append
    import zipfile
    with zipfile.ZipFile(path) as zf:
        members = ", ".join(f"`{zi.filename}` ({zi.file_size:,} B)" for zi in zf.infolist())
    w(f"File: `{path}`, {size:,} bytes ({size / (1 << 30):.2f} GiB); members: {members}; page cache warm.")
    w("")
    w("| tool | wall | CPU (user+sys) | peak RSS | outcome on this file (benign: clean expected) |")
    w("|---|---|---|---|---|")
    w(f"| ttsguard `scan FILE` | **{best:.1f} ms** best of {len(walls)} (median {statistics.median(walls):.1f} ms; "
      f"all: {', '.join(f'{x:.1f}' for x in walls)}; busy cores before each: {', '.join(f'{b:.2f}' for b in busy)}) "
      f"| {tv.cpu * 1000:.0f} ms | **{time_v_rss:.1f} MiB** (`/usr/bin/time -v`) "
      f"| {verdict}" + (f": {'; '.join(findings[:3])}" if findings else "") + " |")
    for name, b, mr in peers:
        w(f"| {name} | {b.wall * 1000:.0f} ms | {b.cpu * 1000:.0f} ms | {mr / 1024:.0f} MiB | {b.outcome}"
          + (f": {b.detail.replace('|', '/')}" if b.detail else "") + " |")
    w("")
    ok_wall, ok_rss = best <= WALL_GOAL_MS, time_v_rss <= RSS_GOAL_MIB
    w(f"Goal ≤ {WALL_GOAL_MS:.0f} ms wall: **{'met' if ok_wall else 'NOT met'}** ({best:.1f} ms). "
      f"Goal ≤ {RSS_GOAL_MIB:.0f} MiB RSS: **{'met' if ok_rss else 'NOT met'}** ({time_v_rss:.1f} MiB). "
      f"ttsguard's own elapsed_ms in --json: {reported_ms}. `/usr/bin/time -v` elapsed: {time_v_wall}.")
    print("\n".join(o))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"size": size, "ttsguard_wall_ms": walls, "ttsguard_rss_mib_time_v": time_v_rss,
                       "busy_cores": busy, "verdict": verdict, "findings": findings,
                       "peers": {n: {"wall_s": b.wall, "cpu_s": b.cpu, "maxrss_kib": mr, "outcome": b.outcome, "detail": b.detail}
                                 for n, b, mr in peers}}, f, indent=1)


if __name__ == "__main__":
    main()
