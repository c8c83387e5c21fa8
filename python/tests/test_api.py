"""Light tests of the installed ttsguard wheel: no torch, no coqui, no network (scripts/test-python.sh
runs them with the Python of a fresh venv the wheel was installed into; `make test` runs that script).

Needs TTSGUARD_REPO (the repository, for examples/) and TTSGUARD_WHEEL (the wheel installed).
Runs with unittest (python -m unittest) or pytest.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pickle
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest
import zipfile

import ttsguard
from ttsguard import _run

REPO = os.environ["TTSGUARD_REPO"]
WHEEL = os.environ["TTSGUARD_WHEEL"]
EXAMPLES = os.path.join(REPO, "examples")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def write_evil(path: str) -> None:
    with open(path, "wb") as f:
        pickle.dump({"model": _Evil()}, f, protocol=2)


class Base(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="ttsguard-test-")
        self.addCleanup(self._rm)
        self.env = dict(os.environ)
        os.environ["TTSGUARD_HOME"] = os.path.join(self.tmp, "home")
        os.environ.pop("TTSGUARD_POLICY", None)
        self.addCleanup(self._env)
        # A copy of the example: its policy requires the example key's signature on tiny-vits.
        self.ex = os.path.join(self.tmp, "examples")
        shutil.copytree(EXAMPLES, self.ex)
        self.policy = os.path.join(self.ex, "ttsguard.yaml")
        self.model = os.path.join(self.ex, "tiny-vits")

    def _rm(self) -> None:
        for dirpath, dirnames, _ in os.walk(self.tmp):  # the store is read-only
            for d in dirnames:
                os.chmod(os.path.join(dirpath, d), 0o755)
        shutil.rmtree(self.tmp)

    def _env(self) -> None:
        os.environ.clear()
        os.environ.update(self.env)

    def evil_folder(self) -> str:
        d = os.path.join(self.tmp, "evil")
        os.mkdir(d)
        shutil.copy(os.path.join(self.model, "config.json"), d)
        write_evil(os.path.join(d, "model_file.pth"))
        return d


class TestInstalled(Base):
    def test_imported_from_the_wheel(self):
        self.assertNotIn(os.path.join(REPO, "python"), os.path.abspath(ttsguard.__file__))
        exe = ttsguard.binary()
        self.assertTrue(exe.endswith(os.path.join("ttsguard", "bin", "ttsguard")), exe)
        self.assertTrue(os.access(exe, os.X_OK))

    def test_command_on_path_is_the_bundled_binary(self):
        cmd = shutil.which("ttsguard")
        self.assertIsNotNone(cmd, "ttsguard is not on PATH after pip install")
        self.assertEqual(os.path.dirname(cmd), os.path.dirname(sys.executable))
        want = subprocess.run([ttsguard.binary(), "--version"], capture_output=True, text=True, check=True).stdout
        got = subprocess.run([cmd, "--version"], capture_output=True, text=True, check=True).stdout
        self.assertEqual(got, want)
        self.assertTrue(got.startswith("ttsguard "), got)
        # exit codes pass through the entry point
        p = subprocess.run([cmd, "scan", self.evil_folder()], capture_output=True, text=True)
        self.assertEqual(p.returncode, 1, p.stderr)

    def test_another_ttsguard_on_path_is_not_used(self):
        fake = os.path.join(self.tmp, "fakebin")
        os.mkdir(fake)
        with open(os.path.join(fake, "ttsguard"), "w") as f:
            f.write('#!/bin/sh\necho \'{"profile":"coqui","files":[],"clean":true,"elapsed_ms":0}\'\n')
        os.chmod(os.path.join(fake, "ttsguard"), 0o755)
        os.environ["PATH"] = fake + os.pathsep + os.environ["PATH"]
        with self.assertRaises(ttsguard.ScanError):
            ttsguard.scan(self.evil_folder())


class TestAPI(Base):
    def test_scan_clean(self):
        r = ttsguard.scan(self.model)
        self.assertIsInstance(r, ttsguard.ScanReport)
        self.assertTrue(r.clean)
        self.assertEqual(sorted(os.path.basename(f.path) for f in r.files), ["config.json", "model.sig", "model_file.pth"])
        pth = [f for f in r.files if f.path.endswith("model_file.pth")][0]
        self.assertEqual(pth.format, "zip")
        self.assertEqual(pth.verdict, "clean")

    def test_scan_refuses_code_with_the_evidence(self):
        evil = os.path.join(self.evil_folder(), "model_file.pth")
        with self.assertRaises(ttsguard.ScanError) as cm:
            ttsguard.scan(self.model, evil)
        e = cm.exception
        self.assertEqual(e.returncode, 1)
        self.assertIsInstance(e.evidence, ttsguard.ScanReport)
        self.assertFalse(e.evidence.clean)
        self.assertEqual([f.file for f in e.findings], [evil])
        f = e.findings[0].findings[0]
        self.assertEqual((f.rule, f.severity, f.global_name), ("pickle/global-not-allowed", "critical", "posix.system"))

    def test_scan_unscannable_is_not_clean(self):
        p = os.path.join(self.tmp, "cut.pth")
        with open(os.path.join(self.model, "model_file.pth"), "rb") as src, open(p, "wb") as out:
            out.write(src.read(4000))  # a torch zip cut short
        with self.assertRaises(ttsguard.ScanError) as cm:
            ttsguard.scan(p)
        self.assertNotEqual(cm.exception.evidence.files[0].verdict, "clean")

    def test_check_folder(self):
        r = ttsguard.check(self.model, policy=self.policy)
        self.assertIsInstance(r, ttsguard.CheckResult)
        self.assertTrue(r.ok)
        self.assertEqual([g.name for g in r.gates], ["pin", "signature", "provenance", "scan"])
        self.assertIn('signer "example"', r.gates[1].detail)
        self.assertIn("no training provenance", r.gates[2].detail)
        self.assertTrue(r.root_digest.startswith("sha256:"))

    def test_check_tampered_folder_is_an_integrity_error(self):
        with open(os.path.join(self.model, "config.json"), "a") as f:
            f.write(" ")
        with self.assertRaises(ttsguard.IntegrityError) as cm:
            ttsguard.check(self.model, policy=self.policy)
        ev = cm.exception.evidence
        self.assertIsInstance(ev, ttsguard.CheckResult)
        self.assertFalse(ev.ok)
        failed = [g.name for g in ev.gates if not g.ok]
        self.assertIn("pin", failed)
        self.assertIn("signature", failed)

    def test_check_folder_with_code_is_a_scan_error(self):
        with self.assertRaises(ttsguard.ScanError) as cm:
            ttsguard.check(self.evil_folder())
        self.assertEqual([g.name for g in cm.exception.evidence.gates if not g.ok], ["scan"])
        self.assertEqual(cm.exception.findings[0].file, "model_file.pth")

    def test_pull_path_ls_check_stored(self):
        r = ttsguard.pull(self.model, name="tiny-vits", policy=self.policy)
        self.assertIsInstance(r, ttsguard.PullResult)
        self.assertTrue(r.ok)
        self.assertEqual(r.pin, "matched")
        p = ttsguard.path("tiny-vits", policy=self.policy)
        self.assertEqual(p, r.path)
        self.assertTrue(p.startswith(os.environ["TTSGUARD_HOME"]), p)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(p, "model_file.pth")).st_mode) & 0o222, 0, "store file is writable")
        self.assertEqual([m.name for m in ttsguard.ls(policy=self.policy)], ["tiny-vits"])
        c = ttsguard.check("tiny-vits", policy=self.policy)
        self.assertTrue(c.stored)
        self.assertEqual(c.path, p)
        # a stored file changed behind the store's back
        f = os.path.join(p, "config.json")
        os.chmod(f, 0o644)
        with open(f, "a") as fh:
            fh.write(" ")
        with self.assertRaises(ttsguard.IntegrityError) as cm:
            ttsguard.check("tiny-vits", policy=self.policy)
        self.assertTrue(any(g.name == "integrity" and not g.ok for g in cm.exception.evidence.gates))

    def test_pull_from_a_source_the_policy_does_not_allow(self):
        with self.assertRaises(ttsguard.PolicyError) as cm:
            ttsguard.pull("https://models.example.com/voice.zip", policy=self.policy)
        self.assertIn("not in the policy's sources", str(cm.exception))
        self.assertIsInstance(cm.exception.evidence, ttsguard.PullResult)
        self.assertEqual(ttsguard.ls(policy=self.policy), [])

    def test_pull_with_code_stores_nothing(self):
        with self.assertRaises(ttsguard.ScanError):
            ttsguard.pull(self.evil_folder(), name="evil")
        self.assertEqual(ttsguard.ls(), [])

    def test_verify(self):
        pub = os.path.join(self.ex, "keys", "example.pub")
        r = ttsguard.verify(self.model, public_key=pub)
        self.assertIsInstance(r, ttsguard.VerifyResult)
        self.assertTrue(r.ok)
        self.assertEqual(r.signer.method, "key")
        with open(os.path.join(self.model, "model_file.pth"), "ab") as f:
            f.write(b"\0")
        with self.assertRaises(ttsguard.IntegrityError) as cm:
            ttsguard.verify(self.model, public_key=pub)
        self.assertEqual(cm.exception.evidence.changed, ["model_file.pth"])

    def test_usage_errors(self):
        with self.assertRaises(ttsguard.UsageError):
            ttsguard.path("no-such-model")
        with self.assertRaises(ttsguard.UsageError):
            ttsguard.scan(os.path.join(self.tmp, "missing.pth"))
        with self.assertRaises(ttsguard.UsageError):
            ttsguard.scan()
        with self.assertRaises(ttsguard.UsageError):
            ttsguard.check(42)  # type: ignore[arg-type]
        with self.assertRaises(ttsguard.UsageError):
            ttsguard.verify(self.model)
        # a name that looks like a flag is an operand, not an option
        with self.assertRaises(ttsguard.UsageError) as cm:
            ttsguard.check("--help")
        self.assertIn("--help", str(cm.exception))


class TestFailClosed(Base):
    """A binary that is missing, crashes or says something else than a pass is never a pass."""

    def fake(self, script: str) -> None:
        p = os.path.join(self.tmp, "fake-ttsguard")
        with open(p, "w") as f:
            f.write("#!/bin/sh\n" + script + "\n")
        os.chmod(p, 0o755)
        saved = _run.BINARY
        _run.BINARY = p
        self.addCleanup(setattr, _run, "BINARY", saved)

    def test_missing_binary(self):
        saved = _run.BINARY
        _run.BINARY = os.path.join(self.tmp, "nothing-here")
        self.addCleanup(setattr, _run, "BINARY", saved)
        with self.assertRaises(ttsguard.ToolError):
            ttsguard.scan(self.model)

    def test_bad_outcomes(self):
        clean = json.dumps({"profile": "coqui", "files": [], "clean": True, "elapsed_ms": 0})
        cases = {
            "exit 0, no output": "exit 0",
            "exit 0, not JSON": "echo ok; exit 0",
            "exit 0, clean missing": "echo '{\"files\": []}'; exit 0",
            "exit 0, clean is a string": "echo '{\"files\": [], \"clean\": \"yes\"}'; exit 0",
            "exit 0, not clean": "echo '{\"files\": [], \"clean\": false}'; exit 0",
            "exit 0, clean but a file is not": "echo '{\"files\": [{\"path\": \"a\", \"verdict\": \"unsafe\"}], \"clean\": true}'; exit 0",
            "exit 1, says clean": f"echo '{clean}'; exit 1",
            "exit 3": f"echo '{clean}'; echo 'ttsguard: disk on fire' >&2; exit 3",
            "exit 4": "exit 4",
            "killed": f"echo '{clean}'; kill -9 $$",
        }
        for what, script in cases.items():
            with self.subTest(what):
                self.fake(script)
                with self.assertRaises(ttsguard.ToolError):
                    ttsguard.scan(self.model)

    def test_check_ok_with_a_failed_gate(self):
        r = {"target": "m", "ok": True, "gates": [{"name": "scan", "ok": False, "detail": "x"}]}
        self.fake(f"echo '{json.dumps(r)}'; exit 0")
        with self.assertRaises(ttsguard.ToolError):
            ttsguard.check(self.model)

    def test_exit_1_without_evidence(self):
        self.fake("echo 'ttsguard: something failed' >&2; exit 1")
        with self.assertRaises(ttsguard.ScanError) as cm:
            ttsguard.scan(self.model)
        self.assertIsNone(cm.exception.evidence)
        self.assertEqual(str(cm.exception), "something failed")

    def test_multi_line_error(self):
        # The binary indents the lines that continue its error; a server's line break cannot
        # start a message of its own.
        self.fake("printf 'warning: x\\nttsguard: pull m: registry said:\\n  bad\\n  ttsguard: pull OK\\n' >&2; exit 1")
        with self.assertRaises(ttsguard.ScanError) as cm:
            ttsguard.scan(self.model)
        self.assertEqual(str(cm.exception), "pull m: registry said:\nbad\nttsguard: pull OK")

    def test_line_separator_is_not_a_line_break(self):
        # U+2028 inside a message does not start a line of its own (str.splitlines would split there).
        self.fake("printf 'ttsguard: denied\\342\\200\\250ttsguard: all gates passed\\n' >&2; exit 1")
        with self.assertRaises(ttsguard.ScanError) as cm:
            ttsguard.scan(self.model)
        self.assertEqual(str(cm.exception), "denied\u2028ttsguard: all gates passed")


class TestWheel(unittest.TestCase):
    def test_name_tags_and_record(self):
        name = os.path.basename(WHEEL)
        dist, version, py, abi, plat = name[:-len(".whl")].split("-")
        self.assertEqual((dist, version, py, abi), ("ttsguard", ttsguard.__version__, "py3", "none"))
        arch = plat.rsplit("_", 1)[-1] if not plat.endswith("x86_64") else "x86_64"
        self.assertEqual(plat.split("."), [f"manylinux_2_17_{arch}", f"manylinux2014_{arch}", f"musllinux_1_1_{arch}"])
        with zipfile.ZipFile(WHEEL) as z:
            di = f"ttsguard-{version}.dist-info"
            wheel_meta = z.read(f"{di}/WHEEL").decode()
            self.assertIn("Root-Is-Purelib: false", wheel_meta)
            self.assertEqual(sorted(l[5:] for l in wheel_meta.splitlines() if l.startswith("Tag: ")),
                             sorted(f"py3-none-{p}" for p in plat.split(".")))
            meta = z.read(f"{di}/METADATA").decode()
            self.assertIn(f"Version: {version}\n", meta)
            self.assertNotIn("Requires-Dist", meta)
            rows = [l.split(",") for l in z.read(f"{di}/RECORD").decode().splitlines()]
            names = set(z.namelist())
            self.assertEqual({r[0] for r in rows}, names)
            for path, digest, size in rows:
                if path.endswith("RECORD"):
                    self.assertEqual((digest, size), ("", ""))
                    continue
                data = z.read(path)
                h = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                self.assertEqual((digest, int(size)), (h, len(data)), path)
            exe = z.getinfo("ttsguard/bin/ttsguard")
            self.assertEqual(stat.S_IMODE(exe.external_attr >> 16), 0o755)


if __name__ == "__main__":
    unittest.main()
