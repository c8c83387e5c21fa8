"""Generate the differential CI corpus: internal/scan/testdata/differential/.

Run with the harness's venv (torch 2.8, numpy, coqui-tts 0.28; py7zr for the 7z cases), as root for the sandbox:

    DIFF_VENV=/opt/e2e-venv $DIFF_VENV/bin/python scripts/differential/gen_corpus.py \
        --ttsguard bin/ttsguard [--out internal/scan/testdata/differential] [--force | --only CASE...]

--only regenerates the named cases (folders) and merges them into the existing expected.json.

Every case is a folder CASE/ holding the file under test (and, for configs, the files beside it).
Each file is loaded by the real loaders (loadworker.py: unprivileged, no network, audit hook) and
expected.json records what they did: that is the ground truth the Go test
(internal/scan/walk/differential_test.go) holds the scanner to, without Python:

    file            CASE/NAME, relative to the corpus folder
    kind            benign | malicious
    family          generator family
    loader_effects  [[class, detail]...]: code run, imports, non-benign globals resolved, writes,
                    opens outside the model, sockets, non-local fsspec URLs (empty: none)
    loader_accepted true when at least one loader loaded the file without an error
    must            "not-clean" (a loader had effects: scan must not say clean) |
                    "clean" (benign, accepted without effects: scan must not flag it) |
                    "flagged" (no effect seen, flagged on purpose for the reason in "deliberate";
                    kept from the previous expected.json) | "any"
    deliberate      why a "flagged" file is flagged (docs/scan.md)
    known_failing   the class of a disagreement the scanner has today (the test skips the case
                    with this name); empty when scan agrees. Recomputed from --ttsguard's verdicts.

Payloads write /tmp/ttsguard-differential-marker/ran; nothing in CI loads them.
"""

import argparse
import collections
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402
import harness  # noqa: E402
import payloads  # noqa: E402

MARKER = "/tmp/ttsguard-differential-marker/ran"


def cases():
    rng = random.Random(16)
    import numpy as np
    out = []

    def add(name, c):
        out.append((name, c))

    sd = lambda: gen.state_dict(rng, 2)  # noqa: E731
    L = gen.BIN_LOADERS
    for p in [1, 2, 3, 4, 5]:
        add(f"benign-torch-zip-p{p}", gen.Case(f"torch-zip-p{p}", "benign", "model.pth", {"model.pth": gen.torch_bytes(sd(), p)}, L))
        add(f"benign-torch-legacy-raw-p{p}", gen.Case(f"torch-legacy-raw-p{p}", "benign", "model.pth",
                                                       {"model.pth": gen.torch_bytes(sd(), p, zipf=False)}, L))
    for p in [2, 4]:
        add(f"benign-coqui-ckpt-zip-p{p}", gen.Case(f"coqui-ckpt-zip-p{p}", "benign", "model.pth", {"model.pth": gen.torch_bytes(gen.coqui_checkpoint(rng), p)}, L))
    add("benign-coqui-ckpt-legacy-raw-p2", gen.Case("coqui-ckpt-legacy-raw-p2", "benign", "model.pth",
                                                    {"model.pth": gen.torch_bytes(gen.coqui_checkpoint(rng), 2, zipf=False)}, L))
    add("benign-torch-legacy-tar", gen.Case("torch-legacy-tar", "benign", "model.pth", {"model.pth": gen.legacy_tar_with_tensor(rng, 2)}, ["torch_full", "numpy"]))
    add("benign-defaultdict-list", gen.Case("defaultdict-list", "benign", "model.pth",
                                            {"model.pth": gen.torch_bytes({"model": sd(), "d": collections.defaultdict(list, {"a": [1]})}, 2)}, L))
    r = np.random.default_rng(16)
    add("benign-npy-float", gen.Case("npy-float", "benign", "x.npy", {"x.npy": gen.npy_bytes(r.random((3, 4)).astype("f4"), False)}, L))
    add("benign-npy-object", gen.Case("npy-object", "benign", "x.npy", {"x.npy": gen.npy_bytes(np.array([{"a": 1}, "s", 3.0], dtype=object))}, L))
    add("benign-npy-stats", gen.Case("npy-stats", "benign", "scale_stats.npy",
                                     {"scale_stats.npy": gen.npy_bytes(np.array(gen.stats_dict(rng), dtype=object))}, L + ["coqui_stats"]))
    import io
    b = io.BytesIO()
    np.savez(b, a=r.random(5), o=np.array(["x", {"k": 1}], dtype=object))
    add("benign-npz", gen.Case("npz", "benign", "x.npz", {"x.npz": b.getvalue()}, L))
    from safetensors.numpy import save as st_save
    add("benign-safetensors", gen.Case("safetensors", "benign", "model.safetensors",
                                       {"model.safetensors": st_save({"w": r.random((2, 3)).astype("f4")}, metadata={"format": "pt"})}, L + ["safetensors"]))
    add("benign-speakers-json", gen.Case("speakers-json", "benign", "speakers.json", {"speakers.json": gen.speakers_json(rng)}, ["coqui_speakers"]))
    add("benign-speakers-pth", gen.Case("speakers-pth", "benign", "speakers.pth", {"speakers.pth": gen.torch_bytes(gen.d_vectors(rng), 2)}, L + ["coqui_dvectors"]))
    for mod, cls in gen.CONFIG_CLASSES[:2] + gen.CONFIG_CLASSES[5:]:
        cfg = gen.coqui_config(rng, (mod, cls))
        files = {}
        if hasattr(cfg, "audio") and hasattr(cfg.audio, "stats_path"):
            cfg.audio.stats_path, cfg.audio.signal_norm = "scale_stats.npy", True
            files["scale_stats.npy"] = gen.npy_bytes(np.array(gen.stats_dict(rng), dtype=object))
        files["config.json"] = gen.config_json_bytes(cfg)
        add(f"benign-config-json-{cls}", gen.Case(f"config-json-{cls}", "benign", "config.json", files, ["coqui_config"]))
        yfiles = {k: v for k, v in files.items() if k != "config.json"}
        yfiles["config.yaml"] = gen.config_yaml_bytes(cfg.to_dict())
        add(f"benign-config-yaml-{cls}", gen.Case(f"config-yaml-{cls}", "benign", "config.yaml", yfiles, ["coqui_config"]))

    z = gen.sevenzip_bytes([("model.pth", gen.torch_bytes(sd(), 2)), ("scale_stats.npy", gen.npy_bytes(np.array(gen.stats_dict(rng), dtype=object)))])
    if z:  # py7zr installed
        add("benign-7z", gen.Case("7z", "benign", "model.7z", {"model.7z": z}, ["sevenzip"]))
    P = dict(payloads.payloads(MARKER))
    for n in ["os-system-p2", "memo-space-p0"]:
        z = gen.sevenzip_bytes([("model.pth", P[n])])
        if z:
            add(f"mal-7z-{n}", gen.Case(f"7z/{n}", "malicious", "model.7z", {"model.7z": z}, ["sevenzip"]))
    pl = P["os-system-p2"]
    add("mal-raw-pickle", gen.Case("raw-pickle", "malicious", "model.pth", {"model.pth": pl}, L))
    for n in ["memo-space-p0", "memo-overwrite-sp-p0", "memo-overwrite-us-p0", "memo-plus-p0", "inst-p0",
              "int-space-p0", "int-nul-p0", "long-space-l-p0", "unicode-even-backslash-p0", "get-tab-p0"]:
        add(f"mal-raw-{n}", gen.Case(f"raw-pickle/{n}", "malicious", "model.pth", {"model.pth": P[n]}, L))
    base = gen.torch_zip_members(gen.torch_bytes(sd()))
    add("mal-torch-zip", gen.Case("torch-zip", "malicious", "model.pth",
                                  {"model.pth": gen.zip_bytes([(n, pl if n.endswith("/data.pkl") else d) for n, d in base])}, L))
    add("mal-legacy-raw-first", gen.Case("legacy-raw-first", "malicious", "model.pth", {"model.pth": pl}, L))
    add("mal-legacy-tar-storages", gen.Case("legacy-tar-storages", "malicious", "model.pth",
                                            {"model.pth": gen.legacy_tar(payloads.benign_pickle(2), storages=pl)}, L))
    add("mal-npy-object", gen.Case("npy-object", "malicious", "scale_stats.npy", {"scale_stats.npy": gen.npy_object_header() + pl}, L + ["coqui_stats"]))
    add("mal-npz", gen.Case("npz", "malicious", "x.npz", {"x.npz": gen.zip_bytes([("o.npy", gen.npy_object_header() + pl)])}, L))
    p0 = P["os-system-p0"]
    for tail_name, tail in [("binary", bytes(range(256))[128:160]), ("nul", b"\0" * 8), ("zip", gen.torch_bytes(sd()))]:
        for main in ["model.pth", "scale_stats.npy"]:
            ld = L + (["coqui_stats"] if main.endswith(".npy") else [])
            add(f"mal-trailing-after-p0-{tail_name}-{main.split('.')[1]}",
                gen.Case("trailing-after-p0", "malicious", main, {main: p0 + tail}, ld))
    # text-like tails (the long run's misses after the binary-tail fix): a newline, text, a UTF-16 BOM
    for tail_name, tail in [("newline", b"\n"), ("text", b"trailing text\n"), ("bom", b"\xff\xfe")]:
        add(f"mal-trailing-after-p0-{tail_name}-pth", gen.Case("trailing-after-p0", "malicious", "model.pth", {"model.pth": p0 + tail}, L))
    add("mal-trailing-after-p0-open-write-binary", gen.Case("trailing-after-p0", "malicious", "model.pth",
                                                           {"model.pth": P["builtins-open-write-p0"] + b"o9\x8d>R"}, L))
    for n in ["memo-overwrite-p0", "memo-zero-p0"]:
        add(f"mal-raw-{n}", gen.Case(f"raw-pickle/{n}", "malicious", "model.pth", {"model.pth": P[n]}, L))
    add("mal-polyglot-pickle-zip", gen.Case("polyglot-pickle-zip", "malicious", "model.pth", {"model.pth": pl + gen.torch_bytes(sd())}, L))
    add("mal-polyglot-tar-name", gen.Case("polyglot-tar-name", "malicious", "model.pth", {"model.pth": gen.tar_name_polyglot(rng, p0)}, L))
    for v in ["good+bad", "bad+good", "good+bad+eocd(good)", "bad+good+eocd(bad)", "bad+eocd(good)-in-comment", "good+bad-commentlen"]:
        c = None
        while c is None or f"/{v}/" not in c.family:
            c = gen.multi_eocd(rng, pl, "os-system-p2")
        add("mal-zip-multi-eocd-" + v.replace("+", "-").replace("(", "-").replace(")", ""), c)
    for v in ["pax-path", "gnu-longname", "no-nul-name", "duplicate-pickle", "v7-no-magic", "base256-size"]:
        c = None
        while c is None or not c.family.startswith(f"tar-{v}/"):
            c = gen.tar_oddity(rng, pl, "os-system-p2")
        add(f"mal-tar-{v}", c)
    # configs: every path field form
    for i, (field, target, form) in enumerate([
            ("speakers", "data:application/json;base64,e30=", "json"),
            ("speakers", "simplecache::https://example.invalid/x.json", "json"),
            ("speakers", "local:///etc/hostname", "json"),
            ("speakers", "memory://x.json", "json"),
            ("speakers", "dir::/etc/hostname", "json"),
            ("speakers", "file:/etc/hostname", "json"),
            ("speakers", "https://example.invalid/x.json", "json"),
            ("stats", "../../../../etc/hostname", "json"),
            ("stats", "/etc/hostname", "json-comment"),
            ("stats", "/etc/hostname", "yaml-merge"),
            ("stats", "/etc/hostname", "yaml-directive"),
            ("dvec", "sub/../../../../../etc/hostname", "json"),
            ("encoder", "data:,x", "json"),
            ("lang", "memory://l.json", "yaml"),
            ("speakers", "/etc/hostname", "yaml-tag"),
            ("stats", "/etc/hostname", "json-bom"),
            ("speakers", "data:,{}", "yaml"),
            ("dvec", " https://example.invalid/x.json", "yaml")]):
        add(f"mal-config-{i:02d}-{form}-{field}", config_case(rng, field, target, form))
    return out


def config_case(rng, field, target, form):
    """A VITS config whose `field` is `target`, written as `form`."""
    return gen.config_attacks(rng, MARKER, field=field, target=target, form=form, cls=gen.CONFIG_CLASSES[1])[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ttsguard", required=True)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "internal", "scan", "testdata", "differential"))
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--only", nargs="+", metavar="CASE",
                    help="generate only these cases and merge them into the existing expected.json (other cases keep their files)")
    ap.add_argument("--uid", type=int, default=65534)
    a = ap.parse_args()
    out = os.path.abspath(a.out)
    if a.only and not os.path.exists(os.path.join(out, "expected.json")):
        sys.exit(f"--only needs an existing corpus at {out}")
    if os.path.exists(out) and not a.force and not a.only:
        sys.exit(f"{out} exists (use --force)")
    os.makedirs(os.path.dirname(MARKER), exist_ok=True)
    os.chmod(os.path.dirname(MARKER), 0o1777)
    tmp = tempfile.mkdtemp(prefix="diffcorpus.")
    os.chmod(tmp, 0o755)
    w = harness.Worker(sys.executable, tmp, a.uid)
    entries = []
    todo = cases()
    if a.only:
        unknown = set(a.only) - {n for n, _ in todo}
        if unknown:
            sys.exit(f"no such case: {', '.join(sorted(unknown))}")
        todo = [(n, c) for n, c in todo if n in a.only]
    for name, c in todo:
        d = os.path.join(tmp, "corpus", name)
        c.write(d)
        os.chmod(os.path.dirname(d), 0o755)
        os.chmod(d, 0o755)
        res = w.load({"dir": d, "file": c.main, "loaders": c.loaders, "timeout": 30, "marker": MARKER})
        eff = harness.effects(res)
        accepted = any(r["status"] == "ok" for r in res)
        must = "not-clean" if eff else ("clean" if c.kind == "benign" and accepted else "any")
        entries.append({"file": f"{name}/{c.main}", "kind": c.kind, "family": c.family, "note": c.note,
                        "loaders": {r["loader"]: r["status"] for r in res},
                        "loader_effects": sorted({(e[0], e[1].replace(tmp, "<corpus>")) for e in eff}),
                        "loader_accepted": accepted, "must": must, "known_failing": "", "deliberate": ""})
    w.close()
    rep = harness.scan(a.ttsguard, [os.path.join(tmp, "corpus", e["file"]) for e in entries])
    for e in entries:
        v = rep.get(os.path.join(tmp, "corpus", e["file"]), {}).get("verdict", "error")
        if (e["must"] == "not-clean" and v == "clean") or (e["must"] == "clean" and v != "clean"):
            e["known_failing"] = known_class(e, v)
        e["scan_verdict_when_recorded"] = v
    if a.only:
        with open(os.path.join(out, "expected.json")) as f:
            old = json.load(f)
        names = {e["file"].split("/")[0] for e in entries}
        keep_flagged(entries, old)
        kept = [e for e in old if e["file"].split("/")[0] not in names]
        for n in names:
            if os.path.exists(os.path.join(out, n)):
                shutil.rmtree(os.path.join(out, n))
            shutil.copytree(os.path.join(tmp, "corpus", n), os.path.join(out, n))
        with open(os.path.join(out, "expected.json"), "w") as f:
            json.dump(kept + entries, f, indent=1)
            f.write("\n")
        shutil.rmtree(tmp)
        for e in entries:
            print(f"{e['must']:9} {e['scan_verdict_when_recorded']:11} {e['known_failing'] or '-':28} {e['file']}")
        return
    # Keep what this generator does not make: the regression files keep.py copied from long runs
    # (their folders and entries), and the reason a generated case that the loaders left quiet is
    # flagged on purpose (must "flagged").
    if os.path.exists(os.path.join(out, "expected.json")):
        with open(os.path.join(out, "expected.json")) as f:
            old = json.load(f)
        names = {e["file"].split("/")[0] for e in entries}
        keep_flagged(entries, old)
        for e in old:
            n = e["file"].split("/")[0]
            if n not in names and os.path.isdir(os.path.join(out, n)):
                shutil.copytree(os.path.join(out, n), os.path.join(tmp, "corpus", n))
                entries.append(e)
    with open(os.path.join(tmp, "corpus", "expected.json"), "w") as f:
        json.dump(entries, f, indent=1)
        f.write("\n")
    if os.path.exists(out):
        shutil.rmtree(out)
    shutil.copytree(os.path.join(tmp, "corpus"), out)
    shutil.rmtree(tmp)
    for e in entries:
        print(f"{e['must']:9} {e['scan_verdict_when_recorded']:11} {e['known_failing'] or '-':28} {e['file']}")


def keep_flagged(entries, old):
    """A case the loaders left quiet that the previous corpus flags on purpose stays "flagged"."""
    prev = {e["file"]: e for e in old}
    for e in entries:
        p = prev.get(e["file"], {})
        if e["must"] == "any" and p.get("must") == "flagged":
            e["must"], e["deliberate"] = "flagged", p["deliberate"]


def known_class(e, verdict):
    fam = e["family"]
    if fam.startswith("trailing-after-p0"):
        return "trailing-after-p0-pickle"
    if fam.startswith("zip-multi-eocd"):
        return "zip-multi-eocd"
    if fam.startswith("config-") and e["kind"] == "benign":
        return "bark-default-config" if "Bark" in fam else "config-benign"
    if fam.startswith("config-"):
        return "fsspec-url" if "://" in e["note"] or "::" in e["note"] or ":" in e["note"].split("/")[0] else "config-path"
    if fam.startswith("defaultdict-list"):
        return "defaultdict-list"
    if "legacy-raw-p" in fam and e["kind"] == "benign":
        return "legacy-raw-protocol"
    if fam.startswith(("raw-pickle/memo", "raw-pickle/inst", "7z/memo", "raw-pickle/int", "raw-pickle/long", "raw-pickle/unicode", "raw-pickle/get")):
        return "pickle-text-argument"
    return "unclassified:" + fam.split("/")[0]


if __name__ == "__main__":
    main()
