"""Run one scanner on one file and reduce what it says to one outcome.

Outcomes (what the tool said, before comparing with expected.json):
  flagged  the tool reported the file as dangerous (a finding, an unsafe import,
           an issue of any severity, a fickling severity above LIKELY_SAFE)
  failed   the tool could not scan the file (parse error, crash, timeout,
           ttsguard's "unscannable"/"error" without a finding)
  clean    the tool scanned the file and reported nothing
  skipped  the tool did not look at the file at all (modelscan: no scanner for
           this format). Counted like clean: the file passes unexamined.
A tool that both reported a dangerous finding and failed is "flagged".
"""
import atexit
import json
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class Run:
    rc: int
    wall: float          # seconds
    maxrss_kib: int
    stdout: str
    stderr: str
    timed_out: bool
    cpu: float = 0.0     # user + system seconds of the process and its children


@dataclass
class Outcome:
    outcome: str         # flagged | failed | clean | skipped
    detail: str
    wall: float
    maxrss_kib: int
    extra: dict = field(default_factory=dict)
    cpu: float = 0.0


def run_timed(cmd, timeout=120.0, mem_limit=None, cwd=None, env=None, rss=True):
    """Run cmd; return its exit status, wall time, peak RSS and output.

    Peak RSS comes from /usr/bin/time (rss=True): a child forked from this Python
    process would report Python's own high-water mark through wait4. With
    rss=False the command runs unwrapped (for the tightest wall-clock numbers)
    and maxrss_kib is wait4's, an upper bound.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(prefix="bench-scan-rss-") as rf:
        if rss:
            cmd = ["/usr/bin/time", "-f", "%M", "-o", rf.name] + list(cmd)

        def limits():
            os.setsid()
            if mem_limit:
                resource.setrlimit(resource.RLIMIT_AS, (mem_limit, mem_limit))
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                             cwd=cwd, env=env, preexec_fn=limits)
        killed = []

        def kill():
            killed.append(True)
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
        rc = os.waitstatus_to_exitcode(status)
        p.returncode = rc
        maxrss = ru.ru_maxrss
        if rss:
            txt = open(rf.name).read().split()
            if txt and txt[-1].isdigit():
                maxrss = int(txt[-1])
            if txt and "signal" in " ".join(txt):  # "Command terminated by signal N"
                rc = -int(txt[txt.index("signal") + 1]) if txt[txt.index("signal") + 1].isdigit() else rc
        out.seek(0)
        err.seek(0)
        return Run(rc, wall, maxrss, out.read().decode("utf-8", "replace"),
                   err.read().decode("utf-8", "replace"), bool(killed), ru.ru_utime + ru.ru_stime)


def _short(s, n=110):
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _common_fail(r):
    if r.timed_out:
        return "timeout"
    if r.rc < 0:
        return f"killed by signal {-r.rc}"
    if "MemoryError" in r.stderr or "MemoryError" in r.stdout:
        return "MemoryError"
    return None


class Tools:
    def __init__(self, ttsguard, venv_bin, timeout=120.0, mem_limit=8 << 30, workdir=None):
        self.ttsguard = ttsguard
        self.venv_bin = venv_bin
        self.timeout = timeout
        self.mem_limit = mem_limit
        self.workdir = workdir or tempfile.mkdtemp(prefix="bench-scan-")
        atexit.register(shutil.rmtree, self.workdir, True)
        self.env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", NO_COLOR="1", TERM="dumb", COLUMNS="200")

    def _run(self, *a, **k):
        self.last = run_timed(*a, **k)
        return self.last

    def scan(self, name, path):
        """Run the tool named name (ttsguard or a PEERS name) on path; Outcome with cpu filled in."""
        meth = "ttsguard_file" if name == "ttsguard" else dict(PEERS)[name]
        o = getattr(self, meth)(os.path.abspath(path))  # some peers run in a scratch folder
        o.cpu = self.last.cpu
        return o

    # ------------------------------------------------------------ ttsguard
    def ttsguard_file(self, path):
        r = self._run([self.ttsguard, "scan", "--json", path], self.timeout, None, env=self.env)
        why = _common_fail(r)
        if why:
            return Outcome("failed", why, r.wall, r.maxrss_kib, {"verdict": "crash"})
        try:
            rep = json.loads(r.stdout)
            fr = rep["files"][0]
        except Exception:
            return Outcome("failed", f"rc={r.rc}, no JSON report: {_short(r.stderr or r.stdout)}",
                           r.wall, r.maxrss_kib, {"verdict": "crash"})
        return self.ttsguard_outcome(fr, r.wall, r.maxrss_kib)

    @staticmethod
    def ttsguard_outcome(fr, wall=0.0, rss=0):
        verdict = fr.get("verdict")
        findings = fr.get("findings") or []
        risky = [f for f in findings if f.get("severity") != "info"]
        first = risky[0] if risky else (findings[0] if findings else {})
        what = first.get("global") or first.get("field") or ""
        detail = first.get("rule", "")
        if what:
            detail += f" {what}"
        if first.get("member"):
            detail += f" in {first['member']}"
        if verdict == "unsafe" or (risky and verdict in ("unscannable", "error")):
            out = "flagged"
        elif verdict in ("unscannable", "error"):
            out = "failed"
            detail = _short(fr.get("unscannable", ""), 90)
        elif verdict == "clean":
            out = "clean"
        else:
            out, detail = "failed", f"verdict {verdict!r}"
        if verdict == "unscannable" and risky:
            detail += f"; unscannable: {_short(fr.get('unscannable', ''), 60)}"
        return Outcome(out, _short(detail), wall, rss, {"verdict": verdict, "nfindings": len(risky)})

    # ------------------------------------------------------------ picklescan
    def picklescan_strict(self, path):
        return self.picklescan(path, ["--strict"])

    def picklescan(self, path, flags=()):
        # No JSON output in picklescan 1.0.x: exit 0 clean, 1 dangerous globals, 2 scan error;
        # the summary's "Dangerous globals: N" and the "... FOUND" lines carry the details.
        # --strict promotes globals on neither of its lists ("suspicious") to dangerous.
        r = self._run([os.path.join(self.venv_bin, "picklescan"), "--path", path, *flags],
                      self.timeout, self.mem_limit, env=self.env)
        why = _common_fail(r)
        text = r.stdout + r.stderr
        found = [ln.split(": ", 1)[-1] for ln in text.splitlines() if ln.endswith("FOUND")]
        dangerous = 0
        for ln in text.splitlines():
            if ln.startswith("Dangerous globals:"):
                dangerous = int(ln.split(":")[1])
        if found or dangerous > 0:
            d = found[0].replace(" FOUND", "") if found else f"{dangerous} dangerous globals"
            if r.rc == 2:
                d += " (+ scan error)"
            return Outcome("flagged", _short(d), r.wall, r.maxrss_kib)
        if why:
            return Outcome("failed", why, r.wall, r.maxrss_kib)
        if r.rc == 2:
            err = [ln for ln in text.splitlines() if "ERROR" in ln or "Error" in ln or "rror:" in ln]
            return Outcome("failed", _short(err[0] if err else "scan error (exit 2)"), r.wall, r.maxrss_kib)
        if r.rc != 0:
            return Outcome("failed", f"exit {r.rc}", r.wall, r.maxrss_kib)
        note = ""
        if "could not parse" in text:
            note = "not parsed as pickle, reported clean"
        for ln in text.splitlines():
            if ln.startswith("Suspicious globals:") and int(ln.split(":")[1]) > 0:
                note = (note + "; " if note else "") + ln.strip() + " (not an issue by default)"
        return Outcome("clean", note, r.wall, r.maxrss_kib)

    # ------------------------------------------------------------ modelscan
    def modelscan(self, path):
        # -r json -o FILE writes the report as plain JSON; exit 0 clean, 1 issues,
        # 2 scan error, 3 no supported files, 4 usage.
        out = os.path.join(self.workdir, "modelscan.json")
        if os.path.exists(out):
            os.remove(out)
        r = self._run([os.path.join(self.venv_bin, "modelscan"), "-p", path, "-r", "json", "-o", out,
                       "--show-skipped"], self.timeout, self.mem_limit, cwd=self.workdir, env=self.env)
        why = _common_fail(r)
        try:
            with open(out) as f:
                rep = json.load(f)
        except Exception:
            return Outcome("failed", why or f"exit {r.rc}, no report: {_short(r.stdout + r.stderr)}",
                           r.wall, r.maxrss_kib)
        issues, errors = rep.get("issues") or [], rep.get("errors") or []
        summ = rep.get("summary", {})
        scanned = (summ.get("scanned") or {}).get("total_scanned", 0)
        if issues:
            i = issues[0]
            return Outcome("flagged", _short(f"{i.get('severity')} {i.get('module')}.{i.get('operator')}"
                                             + (f" in {i['source'].split(':', 1)[1]}" if ':' in i.get('source', '') else "")),
                           r.wall, r.maxrss_kib)
        if errors or why or r.rc == 2:
            e = errors[0] if errors else {}
            return Outcome("failed", why or _short(f"{e.get('category', '')} {e.get('description', '')}"),
                           r.wall, r.maxrss_kib)
        if scanned == 0 or r.rc == 3:
            sk = (summ.get("skipped") or {}).get("skipped_files") or []
            cat = sk[0].get("category", "") if sk else ""
            return Outcome("skipped", f"not scanned ({cat})" if cat else "not scanned", r.wall, r.maxrss_kib)
        return Outcome("clean", "", r.wall, r.maxrss_kib)

    # ------------------------------------------------------------ fickling CLI
    def fickling_cli(self, path):
        # fickling --check-safety: exit 0 likely safe, 1 unsafe (severity > LIKELY_SAFE), 2 error.
        out = os.path.join(self.workdir, "fickling.json")
        if os.path.exists(out):
            os.remove(out)
        r = self._run([os.path.join(self.venv_bin, "fickling"), "--check-safety", path, "--json-output", out],
                      self.timeout, self.mem_limit, cwd=self.workdir, env=self.env)
        why = _common_fail(r)
        sev = ""
        try:
            with open(out) as f:
                txt = f.read()
            # one JSON object per stacked pickle, appended back to back
            dec, i, sevs = json.JSONDecoder(), 0, []
            while i < len(txt):
                while i < len(txt) and txt[i].isspace():
                    i += 1
                if i >= len(txt):
                    break
                obj, i = dec.raw_decode(txt, i)
                sevs.append(obj.get("severity", ""))
                if obj.get("severity") not in ("LIKELY_SAFE", "", None) and not sev:
                    sev = obj["severity"] + ": " + (obj.get("analysis") or "").split("\n")[0]
        except FileNotFoundError:
            pass
        except Exception as e:
            sev = f"(unreadable JSON: {e})"
        if r.rc == 1 and not why and "Traceback (most recent call last)" in r.stderr and not sev:
            # an uncaught exception also exits 1
            return Outcome("failed", _short(r.stderr.strip().splitlines()[-1]), r.wall, r.maxrss_kib)
        if r.rc == 1 and not why:
            return Outcome("flagged", _short(sev or "unsafe (exit 1)"), r.wall, r.maxrss_kib)
        if why:
            return Outcome("failed", why, r.wall, r.maxrss_kib)
        if r.rc == 0:
            return Outcome("clean", "", r.wall, r.maxrss_kib)
        lines = r.stderr.splitlines()
        msg = [ln for ln in lines if "failed to parse" in ln] or [ln for ln in lines if "rror" in ln]
        msg = [m.replace("Fickling failed to parse this pickle file. ", "") for m in msg]
        return Outcome("failed", _short(msg[0] if msg else f"exit {r.rc}"), r.wall, r.maxrss_kib)

    # ------------------------------------------------------------ fickling API
    def fickling_api(self, path):
        r = self._run([os.path.join(self.venv_bin, "python"), os.path.join(HERE, "fickling_scan.py"), path],
                      self.timeout, self.mem_limit, env=self.env)
        why = _common_fail(r)
        try:
            rep = json.loads(r.stdout.strip().splitlines()[-1])
        except Exception:
            return Outcome("failed", why or _short(f"exit {r.rc}: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ''}"),
                           r.wall, r.maxrss_kib)
        if rep["severity"] != "LIKELY_SAFE":
            d = rep["severity"] + (": " + rep["analysis"][0] if rep["analysis"] else "")
            return Outcome("flagged", _short(d), r.wall, r.maxrss_kib)
        if rep["errors"]:
            return Outcome("failed", _short(rep["errors"][0]), r.wall, r.maxrss_kib)
        if rep["members"] == 0:
            return Outcome("skipped", "no pickle member examined", r.wall, r.maxrss_kib)
        return Outcome("clean", "", r.wall, r.maxrss_kib)


PEERS = [("picklescan", "picklescan"), ("picklescan --strict", "picklescan_strict"), ("modelscan", "modelscan"),
         ("fickling-cli", "fickling_cli"), ("fickling-api", "fickling_api")]


def classify(expected, outcome):
    """expected: clean | unsafe | unscannable -> caught | missed | error | false positive | ok-clean."""
    if expected == "clean":
        return {"flagged": "false positive", "failed": "error"}.get(outcome, "ok-clean")
    if expected == "unscannable":
        return "caught" if outcome in ("flagged", "failed") else "missed"
    return {"flagged": "caught", "failed": "error"}.get(outcome, "missed")
