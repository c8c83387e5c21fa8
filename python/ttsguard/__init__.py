"""ttsguard for Python: the ttsguard binary's checks as functions with typed results.

Every function runs the static ttsguard binary bundled in this package (never another one on
PATH) with ``--json`` and returns its evidence as a dataclass, or raises:

- ``IntegrityError``: a pin, signature or stored file does not match (the model is not the trusted one);
- ``ScanError``: a checkpoint holds code, or cannot be fully read;
- ``PolicyError``: the trust policy forbids it (source, terms of service, --frozen);
- ``UsageError``: bad arguments, no such file or stored model, an invalid policy;
- ``ToolError``: the check could not be completed (missing or crashed binary). Never a pass.

Each takes ``policy=`` (a trust policy file); without it the binary finds one as the command
line does ($TTSGUARD_POLICY, ./ttsguard.yaml, ~/.config/ttsguard/policy.yaml, the built-in one).

``ttsguard.coqui.TTS`` is a drop-in for coqui's ``TTS.api.TTS`` that loads only checked models;
``ttsguard.torch.guard()`` makes ``torch.load`` and ``numpy.load(allow_pickle=True)`` scan first.
"""

from __future__ import annotations

import os
from typing import List, Optional, Sequence, Union

from . import _run
from .errors import Error, IntegrityError, PolicyError, ScanError, ToolError, UsageError
from .results import (
    CheckResult,
    FileFindings,
    Finding,
    Gate,
    PullResult,
    ScannedFile,
    ScanReport,
    Signer,
    StoredModel,
    VerifyResult,
)

__version__ = "0.1.0"

__all__ = [
    "check", "scan", "pull", "path", "ls", "verify", "binary",
    "Error", "IntegrityError", "ScanError", "PolicyError", "UsageError", "ToolError",
    "CheckResult", "ScanReport", "ScannedFile", "PullResult", "VerifyResult", "StoredModel",
    "Gate", "Finding", "FileFindings", "Signer",
]

PathLike = Union[str, "os.PathLike[str]"]


def binary() -> str:
    """The path of the bundled ttsguard binary (what the ``ttsguard`` command runs)."""
    return _run.binary()


def _policy(policy: Optional[PathLike]) -> List[str]:
    return ["--policy", os.fspath(policy)] if policy is not None else []


def check(path_or_name: PathLike, *, policy: Optional[PathLike] = None, name: Optional[str] = None) -> CheckResult:
    """Runs every gate of the policy (pin, signature, scan; a stored model is re-hashed) on a model
    folder or a stored model, as ``ttsguard check``. A stored model's name means the stored model
    even when a folder of that name is in the working folder (write ``./NAME`` for the folder).
    ``name``: the model name whose pins and signers apply to a folder (default: its base name)."""
    args = ["check", *_policy(policy)] + (["--name", name] if name else [])
    return _run.call(args, [path_or_name], CheckResult.from_json, lambda r: r.ok, IntegrityError)


def scan(*paths: PathLike, profile: Optional[str] = None, policy: Optional[PathLike] = None,
         allow_globals: Sequence[str] = ()) -> ScanReport:
    """Scans files and folders for code hidden in checkpoints (PyTorch, NumPy, safetensors, 7z) and
    unsafe paths in coqui configs, as ``ttsguard scan``; ScanError (with the report) unless every
    file is clean. ``profile``: "coqui" (the default) or "weights-only"."""
    if not paths:
        raise UsageError("scan: give at least one path")
    args = ["scan", *_policy(policy)] + (["--profile", profile] if profile else [])
    for g in allow_globals:
        args += ["--allow-global", g]
    return _run.call(args, paths, ScanReport.from_json, lambda r: r.clean, ScanError)


def pull(source: PathLike, *more: PathLike, name: Optional[str] = None, policy: Optional[PathLike] = None,
         catalog: Optional[PathLike] = None, accept_tos: bool = False, frozen: bool = False,
         signature: Optional[PathLike] = None) -> PullResult:
    """Fetches a model (a coqui catalog id, ``hf://OWNER/REPO[@REV]``, https URL(s), a local folder or
    archive) through every gate of the policy into the read-only store, as ``ttsguard pull``; the
    first pull pins it in the lock file. Returns the evidence with the stored folder (``.path``)."""
    args = ["pull", *_policy(policy)]
    if name:
        args += ["--name", name]
    if catalog is not None:
        args += ["--catalog", os.fspath(catalog)]
    if signature is not None:
        args += ["--signature", os.fspath(signature)]
    args += ["--accept-tos"] if accept_tos else []
    args += ["--frozen"] if frozen else []
    return _run.call(args, [source, *more], PullResult.from_json, lambda r: r.ok, IntegrityError)


def path(name: str, *, policy: Optional[PathLike] = None) -> str:
    """The read-only folder of a stored model (UsageError when the store has no such model).
    It does not re-check the model: ``check(name)`` does."""
    m = _run.call(["path", *_policy(policy)], [name], StoredModel.from_json, lambda r: bool(r.path), ToolError)
    return m.path


def ls(*, policy: Optional[PathLike] = None) -> List[StoredModel]:
    """The models in the store."""
    def parse(d: object) -> List[StoredModel]:
        if not isinstance(d, list):
            raise ValueError("ls: want a JSON list")
        return [StoredModel.from_json(m) for m in d]
    return _run.call(["ls", *_policy(policy)], [], parse, lambda r: True, ToolError)


def verify(model: PathLike, *, public_key: Optional[PathLike] = None, certificate_chain: Sequence[PathLike] = (),
           identity: Optional[str] = None, identity_provider: Optional[str] = None,
           trust_root: Optional[PathLike] = None, signature: Optional[PathLike] = None,
           ignore_paths: Sequence[PathLike] = (), ignore_unsigned_files: bool = False) -> VerifyResult:
    """Verifies a model folder or file against its OpenSSF Model Signing signature (``model.sig``, or
    ``signature``), as ``ttsguard verify``: with ``public_key``, with ``certificate_chain`` (CA
    files), or keyless with ``identity`` and ``identity_provider`` (``trust_root`` optional).
    IntegrityError, with the files missing, extra and changed, when it does not verify."""
    kinds = [public_key is not None, bool(certificate_chain), identity is not None or identity_provider is not None]
    if sum(kinds) != 1:
        raise UsageError("verify: give exactly one of public_key, certificate_chain, or identity and identity_provider")
    if public_key is not None:
        args = ["verify", "key", "--public-key", os.fspath(public_key)]
    elif certificate_chain:
        args = ["verify", "certificate"]
        for c in certificate_chain:
            args += ["--certificate-chain", os.fspath(c)]
    else:
        if not identity or not identity_provider:
            raise UsageError("verify: keyless verification needs both identity and identity_provider")
        args = ["verify", "sigstore", "--identity", identity, "--identity-provider", identity_provider]
        if trust_root is not None:
            args += ["--trust-root", os.fspath(trust_root)]
    if signature is not None:
        args += ["--signature", os.fspath(signature)]
    for p in ignore_paths:
        args += ["--ignore-paths", os.fspath(p)]
    if ignore_unsigned_files:
        args.append("--ignore-unsigned-files")
    return _run.call(args, [model], VerifyResult.from_json, lambda r: r.ok, IntegrityError)
