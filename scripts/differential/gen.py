"""Case generators for the differential harness (run with the harness's venv: torch, numpy, coqui-tts).

A case is a folder holding one file under test (`main`) and, for configs, the files beside it.
Every generator returns Case objects; `kind` is "benign" (the output of torch.save, numpy.save,
safetensors or coqui's own save functions: nothing may be flagged), "malicious" (built to run
code or open files; the loaders say whether it did) or "mutant" (a benign file changed byte-wise).
"""

import base64
import collections
import io
import json
import os
import pickle
import struct
import tarfile
import zipfile

import payloads

FIXED_TIME = (2020, 1, 1, 0, 0, 0)
BIN_LOADERS = ["torch_full", "torch_wo", "numpy"]


class Case:
    def __init__(self, family, kind, main, files, loaders, note="", known=""):
        self.family, self.kind, self.main, self.files, self.loaders = family, kind, main, files, loaders
        self.note, self.known = note, known  # known: class of a known scanner disagreement

    def write(self, d):
        os.makedirs(d, exist_ok=True)
        for name, data in self.files.items():
            p = os.path.join(d, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
            os.chmod(p, 0o644)


def _torch():
    import torch
    return torch


def state_dict(rng, n=3):
    torch = _torch()
    g = torch.Generator().manual_seed(rng.randrange(1 << 30))
    sd = collections.OrderedDict()
    for i in range(n):
        shape = (rng.randint(1, 6), rng.randint(1, 6))
        sd[f"layers.{i}.weight"] = torch.randn(shape, generator=g)
        sd[f"layers.{i}.bias"] = torch.zeros(shape[0])
    if rng.random() < 0.3:
        sd["emb.weight"] = torch.randn((4, 2), generator=g).half()
    if rng.random() < 0.3:
        sd["num_batches_tracked"] = torch.tensor(3, dtype=torch.long)
    return sd


def coqui_checkpoint(rng):
    """What coqui's trainer saves: model, optimizer, scaler, step, epoch, config dict, date, loss."""
    torch = _torch()
    sd = state_dict(rng, 2)
    params = [torch.nn.Parameter(v.clone().float()) for v in sd.values() if v.is_floating_point()]
    opt = torch.optim.AdamW(params, lr=1e-3)
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    from TTS.tts.configs.glow_tts_config import GlowTTSConfig
    ck = {"model": sd, "optimizer": opt.state_dict(), "scaler": None, "step": rng.randint(0, 10**6),
          "epoch": rng.randint(0, 1000), "config": GlowTTSConfig().to_dict(), "date": "January-01-2026_12+00AM",
          "model_loss": {"train_loss": 0.25, "eval_loss": None}}
    return ck


def torch_bytes(obj, proto=2, zipf=True):
    torch = _torch()
    b = io.BytesIO()
    torch.save(obj, b, pickle_protocol=proto, _use_new_zipfile_serialization=zipf)
    return b.getvalue()


def npy_bytes(arr, allow_pickle=True):
    import numpy as np
    b = io.BytesIO()
    np.save(b, arr, allow_pickle=allow_pickle)
    return b.getvalue()


def stats_dict(rng):
    import numpy as np
    r = np.random.default_rng(rng.randrange(1 << 30))
    from TTS.config.shared_configs import BaseAudioConfig
    return {"mel_mean": r.random(80), "mel_std": r.random(80), "linear_mean": r.random(513),
            "linear_std": r.random(513), "audio_config": BaseAudioConfig().to_dict()}


def npy_object_header(shape=()):
    """A .npy v1.0 header for an object array; the pickle follows."""
    d = "{'descr': '|O', 'fortran_order': False, 'shape': %r, }" % (shape,)
    pad = 64 - (10 + len(d) + 1) % 64
    h = (d + " " * pad + "\n").encode()
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h


def zip_bytes(members, prefix=b"", order=None):
    """A stored zip (fixed dates) of (name, data) members, written after prefix."""
    b = io.BytesIO()
    b.write(prefix)
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as z:
        for name, data in members:
            zi = zipfile.ZipInfo(name, FIXED_TIME)
            z.writestr(zi, data)
    return b.getvalue()


def torch_zip_members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(n, z.read(n)) for n in z.namelist()]


def legacy_tar(main_pickle, storages=None, tensors=None, fmt=tarfile.GNU_FORMAT, names=None, extra=()):
    """The pre-1.0 torch tar checkpoint: members storages, tensors, pickle (and sys_info)."""
    if storages is None:
        storages = pickle.dumps(0, protocol=2) + pickle.dumps([], protocol=2)
    if tensors is None:
        tensors = pickle.dumps(0, protocol=2)
    names = names or {}
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=fmt) as t:
        for name, data in [("sys_info", pickle.dumps({"protocol_version": 1001, "little_endian": True,
                                                      "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2)),
                           ("storages", storages), ("tensors", tensors), ("pickle", main_pickle)] + list(extra):
            ti = tarfile.TarInfo(names.get(name, name))
            ti.size, ti.mtime, ti.mode = len(data), 0, 0o644
            if fmt == tarfile.PAX_FORMAT and name in names:
                ti.pax_headers = {"path": name}
            t.addfile(ti, io.BytesIO(data))
    return b.getvalue()


def legacy_tar_with_tensor(rng, proto=2):
    """A benign legacy tar checkpoint with one float tensor, built as torch 0.3 wrote it."""
    import array
    n = rng.randint(1, 8)
    vals = array.array("f", [rng.random() for _ in range(n)]).tobytes()

    class P(pickle.Pickler):
        def persistent_id(self, obj):
            return obj.pid if isinstance(obj, _Pid) else None

    s = io.BytesIO()
    s.write(pickle.dumps(1, protocol=proto))
    sp = io.BytesIO()
    # storage record: (key, location, storage_type) with torch.FloatStorage as a global
    sp.write(b"\x80\x02(X\x01\x00\x00\x000X\x03\x00\x00\x00cpuctorch\nFloatStorage\nq\x00tq\x01.")
    s.write(sp.getvalue())
    s.write(struct.pack("<q", n) + vals)
    s.write(pickle.dumps([], protocol=proto))
    t = io.BytesIO()
    t.write(pickle.dumps(1, protocol=proto))
    t.write(pickle.dumps((0, "0", "torch.FloatTensor"), protocol=proto))
    t.write(struct.pack("<i", 1) + b"\0" * 4 + struct.pack("<q", n) + struct.pack("<q", 1) + struct.pack("<q", 0))
    m = io.BytesIO()
    P(m, protocol=proto).dump({"weight": _Pid("0"), "step": 3})
    return legacy_tar(m.getvalue(), s.getvalue(), t.getvalue(), fmt=rng.choice([tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT]))


class _Pid:
    def __init__(self, pid):
        self.pid = pid


CONFIG_CLASSES = [
    ("TTS.tts.configs.glow_tts_config", "GlowTTSConfig"),
    ("TTS.tts.configs.vits_config", "VitsConfig"),
    ("TTS.tts.configs.tacotron2_config", "Tacotron2Config"),
    ("TTS.tts.configs.fast_pitch_config", "FastPitchConfig"),
    ("TTS.vocoder.configs.hifigan_config", "HifiganConfig"),
    ("TTS.tts.configs.bark_config", "BarkConfig"),
]


def coqui_config(rng, cls=None):
    import importlib
    mod, name = cls or rng.choice(CONFIG_CLASSES)
    return getattr(importlib.import_module(mod), name)()


def config_json_bytes(cfg):
    """coqui's own save: Coqpit.save_json."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "config.json")
        cfg.save_json(p)
        with open(p, "rb") as f:
            return f.read()


def config_yaml_bytes(d):
    import yaml
    return yaml.safe_dump(d, sort_keys=False).encode()


def speakers_json(rng):
    return json.dumps({f"spk{i}": i for i in range(rng.randint(1, 5))}, indent=4).encode()


def d_vectors(rng):
    return {f"clip{i}.wav": {"name": f"spk{i % 2}", "embedding": [rng.random() for _ in range(8)]}
            for i in range(rng.randint(1, 4))}


def sevenzip_bytes(members):
    """A 7z archive of (name, data) members written by py7zr (None when py7zr is not installed)."""
    try:
        import py7zr
    except ImportError:
        return None
    b = io.BytesIO()
    with py7zr.SevenZipFile(b, "w") as z:
        for name, data in members:
            z.writestr(data, name)
    return b.getvalue()


# ---------------------------------------------------------------- benign

def benign(rng):
    out = []
    p = rng.choice([1, 2, 3, 4, 5])
    out.append(Case(f"torch-zip-p{p}", "benign", "model.pth", {"model.pth": torch_bytes(state_dict(rng), p)}, BIN_LOADERS))
    p = rng.choice([2, 3, 4, 5])
    out.append(Case(f"coqui-ckpt-zip-p{p}", "benign", "model.pth", {"model.pth": torch_bytes(coqui_checkpoint(rng), p)}, BIN_LOADERS))
    p = rng.choice([1, 2, 3, 4, 5])
    out.append(Case(f"torch-legacy-raw-p{p}", "benign", "model.pth",
                    {"model.pth": torch_bytes(state_dict(rng), p, zipf=False)}, BIN_LOADERS))
    p = rng.choice([2, 4])
    out.append(Case(f"coqui-ckpt-legacy-raw-p{p}", "benign", "model.pth",
                    {"model.pth": torch_bytes(coqui_checkpoint(rng), p, zipf=False)}, BIN_LOADERS))
    out.append(Case("torch-legacy-tar", "benign", "model.pth", {"model.pth": legacy_tar_with_tensor(rng, rng.choice([1, 2]))}, ["torch_full", "numpy"]))
    out.append(Case("defaultdict-list", "benign", "model.pth",
                    {"model.pth": torch_bytes({"model": state_dict(rng, 1), "d": collections.defaultdict(list, {"a": [1]})}, rng.choice([2, 4]))},
                    BIN_LOADERS, known="defaultdict-list"))
    import numpy as np
    r = np.random.default_rng(rng.randrange(1 << 30))
    out.append(Case("npy-float", "benign", "x.npy", {"x.npy": npy_bytes(r.random((3, 4)).astype(rng.choice(["f4", "f8", "i2"])), False)}, BIN_LOADERS))
    out.append(Case("npy-object", "benign", "x.npy", {"x.npy": npy_bytes(np.array([{"a": 1}, "s", 3.0], dtype=object))}, BIN_LOADERS))
    out.append(Case("npy-stats", "benign", "scale_stats.npy", {"scale_stats.npy": npy_bytes(np.array(stats_dict(rng), dtype=object))}, BIN_LOADERS + ["coqui_stats"]))
    b = io.BytesIO()
    (np.savez_compressed if rng.random() < 0.5 else np.savez)(b, a=r.random(5), o=np.array(["x", {"k": 1}], dtype=object))
    out.append(Case("npz", "benign", "x.npz", {"x.npz": b.getvalue()}, BIN_LOADERS))
    from safetensors.numpy import save as st_save
    out.append(Case("safetensors", "benign", "model.safetensors",
                    {"model.safetensors": st_save({"w": r.random((2, 3)).astype("f4"), "b": np.zeros(2, "f4")}, metadata={"format": "pt"})},
                    ["torch_full", "torch_wo", "numpy", "safetensors"]))
    out.append(Case("speakers-json", "benign", "speakers.json", {"speakers.json": speakers_json(rng)}, ["coqui_speakers"]))
    out.append(Case("speakers-pth", "benign", "speakers.pth", {"speakers.pth": torch_bytes(d_vectors(rng), rng.choice([2, 4]))},
                    BIN_LOADERS + ["coqui_dvectors"]))
    z = sevenzip_bytes([("model.pth", torch_bytes(state_dict(rng), rng.choice([2, 4]))),
                        ("scale_stats.npy", npy_bytes(np.array(stats_dict(rng), dtype=object)))])
    if z:
        out.append(Case("7z", "benign", "model.7z", {"model.7z": z}, ["sevenzip"]))
    cfg = coqui_config(rng)
    files = {}
    if hasattr(cfg, "audio") and rng.random() < 0.5 and hasattr(cfg.audio, "stats_path"):
        cfg.audio.stats_path = "scale_stats.npy"
        cfg.audio.signal_norm = True
        files["scale_stats.npy"] = npy_bytes(np.array(stats_dict(rng), dtype=object))
    if rng.random() < 0.3 and "output_path" in cfg.to_dict():
        cfg.output_path = "/home/trainer/runs/out"
    files["config.json"] = config_json_bytes(cfg)
    out.append(Case(f"config-json-{type(cfg).__name__}", "benign", "config.json", files, ["coqui_config"]))
    out.append(Case(f"config-yaml-{type(cfg).__name__}", "benign", "config.yaml",
                    {"config.yaml": config_yaml_bytes(cfg.to_dict()), **{k: v for k, v in files.items() if k != "config.json"}}, ["coqui_config"]))
    return out


# ---------------------------------------------------------------- malicious

def _payload(rng, marker, only_p0=False):
    ps = payloads.payloads(marker)
    if only_p0:
        ps = [x for x in ps if x[0].endswith("-p0")]
    return rng.choice(ps)


def malicious(rng, marker):
    out = []
    name, pl = _payload(rng, marker)
    out.append(Case(f"raw-pickle/{name}", "malicious", "model.pth", {"model.pth": pl}, BIN_LOADERS))
    base = torch_zip_members(torch_bytes(state_dict(rng, 1)))
    mem = [(n, pl if n.endswith("/data.pkl") else d) for n, d in base]
    out.append(Case(f"torch-zip/{name}", "malicious", "model.pth", {"model.pth": zip_bytes(mem)}, BIN_LOADERS))
    # legacy raw: payload in the first pickle (the magic number's place) or after a real magic
    if rng.random() < 0.5:
        body = pl
        fam = "legacy-raw-first"
    else:
        body = pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2) + pickle.dumps(1001, protocol=2) + pl
        fam = "legacy-raw-sysinfo"
    out.append(Case(f"{fam}/{name}", "malicious", "model.pth", {"model.pth": body}, BIN_LOADERS))
    where = rng.choice(["pickle", "storages"])
    out.append(Case(f"legacy-tar-{where}/{name}", "malicious", "model.pth",
                    {"model.pth": legacy_tar(pl) if where == "pickle" else legacy_tar(payloads.benign_pickle(2), storages=pl)}, BIN_LOADERS))
    out.append(Case(f"npy-object/{name}", "malicious", "scale_stats.npy", {"scale_stats.npy": npy_object_header() + pl},
                    BIN_LOADERS + ["coqui_stats"]))
    out.append(Case(f"npz/{name}", "malicious", "x.npz", {"x.npz": zip_bytes([("o.npy", npy_object_header() + pl)])}, BIN_LOADERS))
    z = sevenzip_bytes([("model.pth", pl)])
    if z:
        out.append(Case(f"7z/{name}", "malicious", "model.7z", {"model.7z": z}, ["sevenzip"]))
    # trailing bytes after a protocol-0 pickle
    n0, p0 = _payload(rng, marker, only_p0=True)
    tail = rng.choice([b"\n", b"\x00" * rng.randint(1, 64), rng.randbytes(rng.randint(1, 256)), b"\xff\xfe", b"trailing text\n",
                       torch_bytes(state_dict(rng, 1))])
    out.append(Case(f"trailing-after-p0/{n0}", "malicious", rng.choice(["model.pth", "scale_stats.npy", "speakers.pth"]),
                    None, BIN_LOADERS, known="trailing-after-p0-pickle"))
    out[-1].files = {out[-1].main: p0 + tail}
    # trailing after binary pickles
    out.append(Case(f"trailing-after-pickle/{name}", "malicious", "model.pth", {"model.pth": pl + os.urandom(rng.randint(1, 64))}, BIN_LOADERS))
    # polyglot: pickle + zip (torch: not PK at 0, so the legacy path unpickles the prefix)
    out.append(Case(f"polyglot-pickle-zip/{name}", "malicious", "model.pth", {"model.pth": pl + torch_bytes(state_dict(rng, 1))}, BIN_LOADERS))
    # polyglot: tar whose first header's name field is a protocol-0 pickle (numpy unpickles it)
    out.append(Case(f"polyglot-tar-name/{n0}", "malicious", "model.pth", {"model.pth": tar_name_polyglot(rng, p0)}, BIN_LOADERS))
    out.append(multi_eocd(rng, pl, name))
    out.append(tar_oddity(rng, pl, name))
    out.extend(config_attacks(rng, marker))
    return out


def tar_name_polyglot(rng, p0):
    """A legacy tar checkpoint whose first member's name bytes are a text pickle."""
    tb = bytearray(legacy_tar(payloads.benign_pickle(2), fmt=tarfile.USTAR_FORMAT))
    if len(p0) > 99:
        p0 = p0[:0] + payloads.call0("os", "system", "true")
    tb[0:100] = p0.ljust(100, b"\0")
    chk = sum(tb[0:148]) + 8 * 32 + sum(tb[156:512])
    tb[148:156] = b"%06o\0 " % chk
    return bytes(tb)


def multi_eocd(rng, pl, name):
    """Two archives in one file, or an extra end-of-central-directory record: which one a reader picks decides."""
    good = torch_bytes(state_dict(rng, 1))
    badm = [(n, pl if n.endswith("/data.pkl") else d) for n, d in torch_zip_members(good)]
    v = rng.choice(["good+bad", "bad+good", "good+bad+eocd(good)", "bad+good+eocd(bad)", "bad+eocd(good)-in-comment",
                    "good+bad-commentlen"])
    if v.startswith("good+bad"):
        first = good
        second = zip_bytes(badm, prefix=first)[len(first):]
    else:
        first = zip_bytes(badm)
        second = zip_bytes(torch_zip_members(good), prefix=first)[len(first):]
    data = first + second
    eocd1 = first[first.rfind(b"PK\x05\x06"):]
    if "+eocd(" in v:
        data += eocd1
    if v == "bad+eocd(good)-in-comment":
        data = first + second[:-2] + struct.pack("<H", len(eocd1)) + eocd1
    if v == "good+bad-commentlen":
        data = data[:-2] + struct.pack("<H", 1000)
    return Case(f"zip-multi-eocd/{v}/{name}", "malicious", "model.pth", {"model.pth": data}, BIN_LOADERS, known="zip-multi-eocd")


def tar_oddity(rng, pl, name):
    v = rng.choice(["pax-path", "gnu-longname", "no-nul-name", "duplicate-pickle", "v7-no-magic", "base256-size"])
    if v == "pax-path":
        data = legacy_tar(pl, fmt=tarfile.PAX_FORMAT, names={"pickle": "decoy"})
    elif v == "gnu-longname":
        data = legacy_tar(payloads.benign_pickle(2), fmt=tarfile.GNU_FORMAT, extra=[("a" * 120 + "/../pickle", pl)])
    elif v == "duplicate-pickle":
        data = legacy_tar(payloads.benign_pickle(2), extra=[("pickle", pl)])
    elif v == "v7-no-magic":
        b = bytearray(legacy_tar(pl, fmt=tarfile.USTAR_FORMAT))
        for off in range(0, len(b) - 512, 512):
            if b[off + 257:off + 262] == b"ustar":
                b[off + 257:off + 265] = b"\0" * 8
                chk = sum(b[off:off + 148]) + 8 * 32 + sum(b[off + 156:off + 512])
                b[off + 148:off + 156] = b"%06o\0 " % chk
        data = bytes(b)
    elif v == "no-nul-name":
        b = bytearray(legacy_tar(pl, fmt=tarfile.USTAR_FORMAT))
        # the size and mode fields without their NUL/space terminators
        for off in range(0, len(b) - 512, 512):
            if b[off + 257:off + 262] == b"ustar":
                size = int(b[off + 124:off + 135], 8)
                b[off + 124:off + 136] = b"%012o" % size
                b[off + 100:off + 108] = b"%08o" % 0o644
                chk = sum(b[off:off + 148]) + 8 * 32 + sum(b[off + 156:off + 512])
                b[off + 148:off + 156] = b"%06o\0 " % chk
        data = bytes(b)
    else:  # base256-size: GNU binary size field
        b = bytearray(legacy_tar(pl, fmt=tarfile.GNU_FORMAT))
        for off in range(0, len(b) - 512, 512):
            if b[off:off + 7] == b"pickle\0":
                size = int(b[off + 124:off + 135], 8)
                b[off + 124:off + 136] = b"\x80" + size.to_bytes(11, "big")
                chk = sum(b[off:off + 148]) + 8 * 32 + sum(b[off + 156:off + 512])
                b[off + 148:off + 156] = b"%06o\0 " % chk
        data = bytes(b)
    return Case(f"tar-{v}/{name}", "malicious", "model.pth", {"model.pth": data}, BIN_LOADERS)


URL_FORMS = [
    "https://example.invalid/x.json", "http://10.0.0.1/s.pth", "HTTP://example.invalid/x.json",
    "simplecache::https://example.invalid/x.json", "filecache::s3://bucket/x.pth", "blockcache::gs://b/x.json",
    "memory://x.json", "file:///etc/hostname", "local:///etc/hostname", "FILE:///etc/hostname", "file://localhost/etc/hostname",
    "zip://speakers.json::file:///tmp/a.zip", "tar://x.json::/tmp/a.tar", "dir::/etc/hostname", "github://org:repo@main/x.json",
    "hf://datasets/x/y.json", "reference://x", "ftp://example.invalid/x.json", "sftp://h/x.json", "ssh://h/x.json",
    "webdav://h/x.json", "abfs://c/x.json", "az://c/x.json", "oci://b/x", "dbfs:/x.json", "git://repo:/x.json",
    "jupyter://h/x", "libarchive://x::file:///tmp/a", "smb://h/x", "ws://h", " https://example.invalid/x.json",
    "https:/example.invalid/x.json", "https:example.invalid/x.json", "file:/etc/hostname", "data:,{}",
    "data:application/json;base64,e30=", "data:text/plain,%7B%7D",
]
PATH_FORMS = ["/etc/hostname", "../../../../etc/hostname", "sub/../../../../../etc/hostname", "~/../../etc/hostname",
              "./../../../../../etc/hostname", "//etc/hostname", "/proc/self/environ", "\\etc\\hostname"]


def config_attacks(rng, marker, field=None, target=None, form=None, cls=None):
    """coqui configs whose path fields point outside the model: URL forms, relative escapes, YAML and JSON reader quirks."""
    out = []
    cfg = coqui_config(rng, cls or rng.choice(CONFIG_CLASSES[:4]))
    d = cfg.to_dict()
    target = target or rng.choice(URL_FORMS + PATH_FORMS)
    field = field or rng.choice(["stats", "speakers", "dvec", "lang", "encoder"])
    if field == "stats":
        d["audio"]["stats_path"], d["audio"]["signal_norm"] = target, True
    elif field == "speakers":
        d["use_speaker_embedding"] = True
        d.setdefault("model_args", {})
        if isinstance(d.get("model_args"), dict):
            d["model_args"]["use_speaker_embedding"] = True
        d["speakers_file"] = target
    elif field == "dvec":
        d["use_d_vector_file"], d["d_vector_file"] = True, target
    elif field == "lang":
        d.setdefault("model_args", {})
        if isinstance(d.get("model_args"), dict):
            d["model_args"]["language_ids_file"], d["model_args"]["use_language_embedding"] = target, True
    else:
        if isinstance(d.get("model_args"), dict):
            d["model_args"]["speaker_encoder_model_path"] = target
            d["model_args"]["speaker_encoder_config_path"] = "enc.json"
    is_url = target in URL_FORMS
    known = ""
    form = form or rng.choice(["json", "json-comment", "json-bom", "json-dup", "yaml", "yaml-directive", "yaml-tag", "yaml-merge"])
    files = {}
    if form == "json":
        files["config.json"] = json.dumps(d, indent=4).encode()
    elif form == "json-comment":
        s = json.dumps(d, indent=4).replace('\n    "audio"', '\n    // trained on the cluster\n    "audio"', 1)
        files["config.json"] = s.encode()
    elif form == "json-bom":
        files["config.json"] = b"\xef\xbb\xbf" + json.dumps(d, indent=4).encode()
    elif form == "json-dup":
        # the payload value first, a clean value of the same key after it (or the reverse): Python keeps the last
        s = json.dumps(d, indent=4)
        files["config.json"] = s.encode()
    else:
        import yaml
        y = yaml.safe_dump(d, sort_keys=False)
        if form == "yaml-directive":
            y = "%YAML 1.1\n%TAG !c! tag:yaml.org,2002:\n---\n" + y
        elif form == "yaml-tag":
            y = y.replace(f"'{target}'", f"!!str '{target}'").replace(f" {target}\n", f" !!str {target}\n")
        elif form == "yaml-merge":
            y = "x-common: &c {stats_path: %s, signal_norm: true}\n" % json.dumps(target) + y.replace("audio:\n", "audio:\n  <<: *c\n", 1)
            if field != "stats":
                form = "yaml-merge-only"
        files["config.yaml"] = y.encode()
    main = "config.json" if "config.json" in files else "config.yaml"
    if field == "encoder":
        files["enc.json"] = json.dumps({"model": "lstm", "audio": {}}).encode()
    return [Case(f"config-{form}/{field}/{target.split(':')[0] if is_url else 'path'}", "malicious", main, files, ["coqui_config"],
                 note=target, known=known)]


# ---------------------------------------------------------------- mutants

def mutate(rng, case, marker):
    data = bytearray(case.files[case.main])
    op = rng.choice(["flip", "flip", "truncate", "insert", "append", "append-payload", "dup-chunk", "zero-run"])
    if not data:
        return None
    if op == "flip":
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    elif op == "truncate":
        data = data[:rng.randrange(len(data))]
    elif op == "insert":
        i = rng.randrange(len(data) + 1)
        data[i:i] = os.urandom(rng.randint(1, 16))
    elif op == "append":
        data += os.urandom(rng.randint(1, 64))
    elif op == "append-payload":
        data += rng.choice(payloads.payloads(marker))[1]
    elif op == "dup-chunk":
        i = rng.randrange(len(data))
        j = min(len(data), i + rng.randint(1, 64))
        data[j:j] = data[i:j]
    else:
        i = rng.randrange(len(data))
        data[i:i + rng.randint(1, 32)] = b"\0" * min(32, len(data) - i)
    files = dict(case.files)
    files[case.main] = bytes(data)
    return Case(f"mutant/{op}/{case.family}", "mutant", case.main, files, case.loaders)


def generate_round(rng, marker_for):
    """One round: every benign family, every malicious family, and mutants of the benign ones."""
    cases = benign(rng)
    mutants = []
    for c in cases:
        for _ in range(2):
            m = mutate(rng, c, marker_for())
            if m:
                mutants.append(m)
    cases += mutants
    return cases


def generate_malicious(rng, marker):
    return malicious(rng, marker)
