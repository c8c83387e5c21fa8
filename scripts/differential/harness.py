"""Differential harness: generated and mutated checkpoints, the real loaders, and `ttsguard scan --json`.

Run through run.sh. Rounds of cases are generated (gen.py), loaded by loadworker.py (unprivileged
children, no network, audit hook, timeout) and scanned by the ttsguard binary; every disagreement is
copied under OUT/disagreements/CLASS/ID/ with case.json, and OUT/report.json holds the totals
(rewritten after every round, so a long run can be read while it runs).

Classes:
  missed                 a loader executed code, imported a module, resolved a global the benign
                         paths never resolve, wrote or opened a file outside the model, or opened
                         a non-local fsspec URL, and scan said clean (a scanner bug)
  false-positive-benign  a benign generator output (torch.save, numpy.save, safetensors, coqui's
                         save) that every loader accepted without events, flagged by scan (a bug)
  flagged-quiet          a malicious or mutated file that the loaders accepted without events,
                         flagged by scan (to explain: often bytes the loader ignores, by design)
  loader-timeout-clean   a loader ran past the timeout on a file scan called clean
"""

import argparse
import collections
import json
import os
import random
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402

EFFECT_CLASSES = ("exec", "import", "global", "write", "open-outside", "net", "fs", "remote-open")


class Worker:
    def __init__(self, python, out, uid):
        here = os.path.dirname(os.path.abspath(__file__))
        cmd = [python, os.path.join(here, "loadworker.py")]
        if os.geteuid() == 0:
            cmd = ["unshare", "-n", "--"] + cmd
        else:
            print("warning: not root: loaders run with the network and without dropping privileges", file=sys.stderr)
        env = dict(os.environ, DIFF_UID=str(uid), DIFF_GID=str(uid), OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore",
                   HOME="/nonexistent", TTS_HOME="/nonexistent")
        self.log = open(os.path.join(out, "worker.log"), "ab")
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, env=env, text=True)

    def load(self, req):
        self.p.stdin.write(json.dumps(req) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("loader worker died (see worker.log)")
        return json.loads(line)["results"]

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)


def scan(binary, paths, timeout=120):
    """ttsguard scan --json over paths; returns {path: file report}."""
    out = {}
    for i in range(0, len(paths), 64):
        chunk = paths[i:i + 64]
        try:
            r = subprocess.run([binary, "scan", "--json"] + chunk, capture_output=True, timeout=timeout)
            rep = json.loads(r.stdout)
            for f in rep.get("files", []):
                out[f["path"]] = f
        except (subprocess.TimeoutExpired, ValueError) as e:
            for p in chunk:
                out.setdefault(p, {"path": p, "verdict": "error", "unscannable": f"scan failed: {e}"})
    return out


def effects(results):
    ev = [e for r in results for e in r["events"] if e[0] in EFFECT_CLASSES]
    return ev


def classify(case, results, fr):
    verdict = fr.get("verdict", "error")
    ev = effects(results)
    quiet = any(r["status"] == "ok" for r in results) and not ev
    if ev and verdict == "clean":
        return "missed"
    if any(r["status"] == "timeout" for r in results) and verdict == "clean":
        return "loader-timeout-clean"
    if quiet and verdict != "clean":
        return "false-positive-benign" if case.kind == "benign" else "flagged-quiet"
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ttsguard", required=True)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--uid", type=int, default=65534)
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--max-rounds", type=int, default=0)
    ap.add_argument("--keep", action="store_true", help="keep every case folder (with case.json) under OUT/work")
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else int(time.time())
    rng = random.Random(seed)
    out = os.path.abspath(a.out)
    work = os.path.join(out, "work")
    os.makedirs(work, exist_ok=True)
    os.chmod(out, 0o755)
    os.chmod(work, 0o755)
    markdir = os.path.join(out, "marker")
    os.makedirs(markdir, exist_ok=True)
    os.chmod(markdir, 0o1777)
    marker = os.path.join(markdir, "ran")
    worker = Worker(a.python, out, a.uid)
    t0 = time.time()
    deadline = t0 + a.minutes * 60
    tot = {"seed": seed, "command": " ".join(sys.argv), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)),
           "rounds": 0, "files": 0, "by_kind": collections.Counter(), "by_family": collections.Counter(),
           "by_format": collections.Counter(), "loader_status": collections.Counter(), "loader_events": collections.Counter(),
           "cases_with_effects": 0, "scan_verdicts": collections.Counter(), "disagreements": collections.Counter(),
           "disagreements_by_family": collections.Counter(), "generator_errors": 0}
    n = 0
    rnd = 0
    while time.time() < deadline and (not a.max_rounds or rnd < a.max_rounds):
        rnd += 1
        try:
            cases = gen.generate_round(rng, lambda: marker) + gen.generate_malicious(rng, marker)
        except Exception as e:  # noqa: BLE001
            tot["generator_errors"] += 1
            print(f"generator error: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        rows = []
        for c in cases:
            n += 1
            cid = f"r{rnd:05d}-{n:07d}"
            d = os.path.join(work, cid)
            c.write(d)
            os.chmod(d, 0o755)
            results = worker.load({"dir": d, "file": c.main, "loaders": c.loaders, "timeout": a.timeout, "marker": marker})
            rows.append((cid, c, d, results))
        reports = scan(a.ttsguard, [os.path.join(d, c.main) for _, c, d, _ in rows])
        for cid, c, d, results in rows:
            fr = reports.get(os.path.join(d, c.main), {"verdict": "error"})
            fam = c.family.split("/")[0]
            tot["files"] += 1
            tot["by_kind"][c.kind] += 1
            tot["by_family"][fam] += 1
            tot["by_format"][fr.get("format") or "?"] += 1
            tot["scan_verdicts"][fr.get("verdict", "error")] += 1
            for r in results:
                tot["loader_status"][f"{r['loader']}:{r['status']}"] += 1
                for e in r["events"]:
                    tot["loader_events"][e[0]] += 1
            if effects(results):
                tot["cases_with_effects"] += 1
            cls = classify(c, results, fr)
            if cls:
                tot["disagreements"][cls] += 1
                tot["disagreements_by_family"][f"{cls}:{c.family.rsplit('/', 1)[0] if c.kind != 'benign' else c.family}"] += 1
                dst = os.path.join(out, "disagreements", cls, cid)
                shutil.copytree(d, dst)
                with open(os.path.join(dst, "case.json"), "w") as f:
                    json.dump({"id": cid, "class": cls, "family": c.family, "kind": c.kind, "main": c.main,
                               "note": c.note, "known": c.known, "loaders": results, "scan": fr}, f, indent=1)
            if a.keep:
                with open(os.path.join(d, "case.json"), "w") as f:
                    json.dump({"id": cid, "class": cls, "family": c.family, "kind": c.kind, "main": c.main,
                               "note": c.note, "loaders": results, "scan": fr}, f, indent=1)
            else:
                shutil.rmtree(d, ignore_errors=True)
        tot["rounds"] = rnd
        tot["elapsed_s"] = round(time.time() - t0, 1)
        with open(os.path.join(out, "report.json.tmp"), "w") as f:
            json.dump(tot, f, indent=1, sort_keys=True)
        os.replace(os.path.join(out, "report.json.tmp"), os.path.join(out, "report.json"))
    worker.close()
    print(f"differential: {tot['files']} files in {tot['rounds']} rounds, {tot['elapsed_s'] if rnd else 0}s, seed {seed}")
    for k in ("by_kind", "by_family", "loader_events", "scan_verdicts", "disagreements", "disagreements_by_family"):
        print(f"  {k}: " + ", ".join(f"{x}={y}" for x, y in sorted(tot[k].items())))
    print(f"  report: {os.path.join(out, 'report.json')}; regression files: {os.path.join(out, 'disagreements')}")
    return 1 if tot["disagreements"].get("missed") or tot["disagreements"].get("false-positive-benign") else 0


if __name__ == "__main__":
    sys.exit(main())
