"""The installed wheel with the real coqui-tts 0.28 and torch (scripts/e2e-python.sh, `make e2e-python`;
outside CI: it needs torch). No network: models are built with coqui's own classes (random weights).

Needs TTSGUARD_REPO (the repository: README.md's Python example is run exactly as written).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import wave

import numpy as np
import pytest
import torch

import ttsguard
import ttsguard.torch
from ttsguard.coqui import TTS

REPO = os.environ["TTSGUARD_REPO"]


class Payload:
    """Unpickling it runs a shell command that creates the file MARKER names."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def make_vits(out: str) -> str:
    """A tiny VITS (random weights, speaks noise) as coqui's trainer leaves it: model_file.pth, config.json."""
    from TTS.tts.configs.vits_config import VitsConfig
    from TTS.tts.models.vits import Vits, VitsArgs

    os.makedirs(out)
    args = VitsArgs(hidden_channels=16, hidden_channels_ffn_text_encoder=32, num_heads_text_encoder=2,
                    num_layers_text_encoder=1, upsample_initial_channel_decoder=32, num_layers_flow=1,
                    num_layers_posterior_encoder=2, init_discriminator=False,
                    resblock_kernel_sizes_decoder=[3], resblock_dilation_sizes_decoder=[[1, 3, 5]])
    cfg = VitsConfig(model_args=args)
    cfg.use_phonemes = False
    cfg.text_cleaner = "basic_cleaners"
    torch.manual_seed(0)
    torch.save({"model": Vits(cfg).state_dict()}, os.path.join(out, "model_file.pth"))
    cfg.save_json(os.path.join(out, "config.json"))
    return out


@pytest.fixture(scope="session")
def vits(tmp_path_factory) -> str:
    return make_vits(str(tmp_path_factory.mktemp("models") / "tiny-vits"))


@pytest.fixture()
def home(tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("TTSGUARD_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TTSGUARD_POLICY", raising=False)
    monkeypatch.chdir(tmp_path)
    return str(tmp_path)


@pytest.fixture()
def marker(tmp_path) -> str:
    return str(tmp_path / "PWNED")


@pytest.fixture()
def evil_pth(tmp_path, marker) -> str:
    """A real torch.save checkpoint (zip) whose pickle runs a command when loaded with weights_only=False."""
    p = str(tmp_path / "untrusted.pth")
    torch.save({"model": {"w": torch.zeros(2)}, "config": Payload(marker)}, p)
    return p


def test_payloads_are_real(evil_pth, marker, tmp_path):
    """The control: without the guard the checkpoints run their command (so the refusals below mean something)."""
    torch.load(evil_pth, weights_only=False)
    assert os.path.exists(marker)
    os.remove(marker)
    npy = str(tmp_path / "stats.npy")
    np.save(npy, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    np.load(npy, allow_pickle=True)
    assert os.path.exists(marker)


def test_readme_example(vits, evil_pth, home, marker):
    readme = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
    section = readme.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "README's Python section should hold exactly one python example"
    shutil.copytree(vits, os.path.join(home, "my-vits"))
    assert os.path.basename(evil_pth) == "untrusted.pth" and os.path.dirname(evil_pth) == home
    p = subprocess.run([sys.executable, "-c", blocks[0]], cwd=home, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert not os.path.exists(marker), "the untrusted checkpoint ran its code"
    lines = p.stdout.splitlines()
    assert lines[0].startswith(os.path.join(os.environ["TTSGUARD_HOME"], "models", "my-vits") + "/"), p.stdout
    assert lines[0].split()[1].startswith("sha256:")
    assert lines[1].startswith("./untrusted.pth unsafe critical"), p.stdout
    assert "posix.system" in lines[1]
    with wave.open(os.path.join(home, "hello.wav")) as w:
        assert w.getnframes() > 1000


def test_guard_refuses_every_form_of_torch_load(evil_pth, marker, home):
    data = open(evil_pth, "rb").read()
    original = torch.load
    with ttsguard.torch.guard() as g:
        with pytest.raises(ttsguard.ScanError) as e:
            torch.load(evil_pth, weights_only=False)
        assert e.value.findings[0].findings[0].global_name == "posix.system"
        with open(evil_pth, "rb") as f, pytest.raises(ttsguard.ScanError):
            torch.load(f, weights_only=False)  # a file object, as coqui's load_fsspec passes
        with pytest.raises(ttsguard.ScanError):
            torch.load(io.BytesIO(data), weights_only=False)  # not a file: spooled, scanned
        with pytest.raises(ttsguard.ScanError):
            torch.serialization.load(evil_pth, weights_only=False)
    assert len(g.scanned) == 0  # only clean reports are kept; every scan here failed
    assert not os.path.exists(marker)
    assert torch.load is original and torch.serialization.load is original


def test_install_and_uninstall(evil_pth, marker, vits, home):
    original = torch.load
    g = ttsguard.torch.install()
    try:
        assert torch.load is not original
        with pytest.raises(ttsguard.ScanError):
            torch.load(evil_pth, weights_only=False)
        state = torch.load(os.path.join(vits, "model_file.pth"))  # clean: loads
        assert "model" in state and len(g.scanned) == 1 and g.scanned[0].clean
    finally:
        ttsguard.torch.uninstall()
    assert torch.load is original
    assert not os.path.exists(marker)


def test_guard_defaults_weights_only(vits, monkeypatch):
    calls = []

    def recorder(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **kw):
        calls.append((type(f).__name__, weights_only))
        return "loaded"

    monkeypatch.setattr(torch, "load", recorder)
    path = os.path.join(vits, "model_file.pth")
    with ttsguard.torch.guard():
        assert torch.load(path) == "loaded"
        assert torch.load(path, weights_only=False) == "loaded"
    # the guard hands torch the descriptor it scanned, and weights_only=True unless told otherwise
    assert calls == [("BufferedReader", True), ("BufferedReader", False)]


def test_guard_numpy(marker, tmp_path, vits):
    evil = str(tmp_path / "scale_stats.npy")
    np.save(evil, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    clean = str(tmp_path / "clean.npy")
    np.save(clean, np.arange(4))
    stats = str(tmp_path / "stats.npy")
    np.save(stats, np.array({"mel_mean": np.zeros(3)}, dtype=object), allow_pickle=True)  # as coqui's scale_stats
    with ttsguard.torch.guard() as g:
        with pytest.raises(ttsguard.ScanError):
            np.load(evil, allow_pickle=True)
        assert list(np.load(clean)) == [0, 1, 2, 3]  # without allow_pickle: numpy's own refusal, no scan
        assert len(g.scanned) == 0
        assert list(np.load(stats, allow_pickle=True).item()) == ["mel_mean"]
        assert len(g.scanned) == 1
    assert not os.path.exists(marker)


def test_coqui_tts_synthesises_a_checked_model(vits, home):
    ttsguard.pull(vits, name="tts_models/en/ljspeech/vits")  # a catalog id, served from the store
    tts = TTS("tts_models/en/ljspeech/vits", progress_bar=False)
    checks = [e for e in tts.ttsguard_evidence if isinstance(e, ttsguard.CheckResult)]
    assert len(checks) == 1 and checks[0].stored and checks[0].ok
    folder = checks[0].path
    assert str(tts.synthesizer.tts_checkpoint) == os.path.join(folder, "model_file.pth")
    scans = [e for e in tts.ttsguard_evidence if isinstance(e, ttsguard.ScanReport)]
    assert [os.path.basename(f.path) for s in scans for f in s.files] == ["model_file.pth"], "coqui's torch.load was not guarded"
    wav = tts.tts("Hello there.")
    assert len(wav) > 1000
    assert tts.speakers is None and tts.languages is None  # coqui's own API


def test_coqui_tts_local_paths_are_checked(vits, home, evil_pth, marker):
    tts = TTS(model_path=os.path.join(vits, "model_file.pth"), config_path=os.path.join(vits, "config.json"))
    assert isinstance(tts.ttsguard_evidence[0], ttsguard.ScanReport)
    assert len(tts.tts("Hi.")) > 100
    with pytest.raises(ttsguard.ScanError):
        TTS(model_path=evil_pth, config_path=os.path.join(vits, "config.json"))
    bad = os.path.join(home, "bad-vits")
    shutil.copytree(vits, bad)
    shutil.copy(evil_pth, os.path.join(bad, "model_file.pth"))
    with pytest.raises(ttsguard.ScanError) as e:
        TTS(model_path=bad, config_path=os.path.join(bad, "config.json"))  # a folder: every gate
    assert isinstance(e.value.evidence, ttsguard.CheckResult)
    assert not os.path.exists(marker)


def test_coqui_tts_refuses_a_tampered_stored_model(vits, home, evil_pth, marker):
    r = ttsguard.pull(vits, name="house-voice")
    stored = os.path.join(r.path, "model_file.pth")
    os.chmod(stored, 0o644)
    shutil.copyfile(evil_pth, stored)  # swapped behind the store's back
    with pytest.raises(ttsguard.IntegrityError) as e:
        TTS("house-voice")
    assert {g.name for g in e.value.evidence.gates if not g.ok} >= {"integrity", "scan"}
    assert not os.path.exists(marker)


def test_coqui_tts_pulls_a_missing_catalog_model_under_the_policy(home):
    policy = os.path.join(home, "ttsguard.yaml")
    with open(policy, "w") as f:
        f.write("version: 1\nsources:\n  - https://models.example.com/\n")
    with pytest.raises(ttsguard.PolicyError) as e:
        TTS("tts_models/en/ljspeech/vits", policy=policy)  # coqui's release host is not an allowed source
    assert "not in the policy's sources" in str(e.value)
    assert e.value.evidence.requested == ["tts_models/en/ljspeech/vits"]


def test_coqui_config_paths_point_into_the_store_through_a_private_copy(vits, home):
    folder = os.path.join(home, "spk-vits")
    shutil.copytree(vits, folder)
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    cfg["speakers_file"] = "speaker_ids.json"  # relative: coqui's downloader makes it the folder's file
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=4)
    with open(os.path.join(folder, "speaker_ids.json"), "w") as f:
        json.dump({"anna": 0}, f)
    stored = ttsguard.pull(folder, name="spk-vits").path
    original = open(os.path.join(stored, "config.json"), "rb").read()
    tts = TTS("spk-vits")
    given = tts.synthesizer.tts_config_path
    assert not str(given).startswith(stored), "coqui was given the store's config, not the rewritten copy"
    assert json.load(open(given))["speakers_file"] == os.path.join(stored, "speaker_ids.json")
    assert tts.synthesizer.tts_config.speakers_file == os.path.join(stored, "speaker_ids.json")
    assert open(os.path.join(stored, "config.json"), "rb").read() == original
    assert ttsguard.check("spk-vits").ok
    assert len(tts.tts("Hi.")) > 100
