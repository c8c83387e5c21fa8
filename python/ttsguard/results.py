"""Typed results of the ttsguard binary's ``--json`` output.

Each parser takes the decoded JSON and raises ``ValueError`` when a field the verdict depends
on is missing or of the wrong type (the caller turns that into ToolError: output that does not
parse is never a pass). Fields the binary may add later are kept in ``raw``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional


def _get(d: Any, key: str, kind: Any, *, default: Any = ..., where: str = "") -> Any:
    if not isinstance(d, dict):
        raise ValueError(f"{where or 'result'}: want a JSON object, got {type(d).__name__}")
    if key not in d or d[key] is None:
        if default is ...:
            raise ValueError(f"{where or 'result'}: missing {key!r}")
        return default
    v = d[key]
    if kind is float and isinstance(v, int) and not isinstance(v, bool):
        v = float(v)
    if kind is int and isinstance(v, bool):
        raise ValueError(f"{where or 'result'}: {key!r} is not an integer")
    if not isinstance(v, kind):
        raise ValueError(f"{where or 'result'}: {key!r} is {type(v).__name__}, want {getattr(kind, '__name__', kind)}")
    return v


def _strings(d: Any, key: str, where: str) -> List[str]:
    v = _get(d, key, list, default=[], where=where)
    if not all(isinstance(s, str) for s in v):
        raise ValueError(f"{where}: {key!r} holds a value that is not a string")
    return list(v)


@dataclass(frozen=True)
class Finding:
    """One reason a file is not clean."""

    rule: str  # stable identifier, e.g. "pickle/global-not-allowed"
    severity: str  # info, low, medium, high, critical
    message: str
    offset: int = -1  # byte offset in the member (or file); -1 when not applicable
    member: str = ""  # archive member, nested members joined with "!"
    opcode: str = ""  # pickle opcode
    global_name: str = ""  # "module.qualname" of a pickle global ("global" in the JSON)
    field: str = ""  # config field path, header key ...

    @classmethod
    def from_json(cls, d: Any) -> "Finding":
        w = "finding"
        return cls(
            rule=_get(d, "rule", str, where=w),
            severity=_get(d, "severity", str, where=w),
            message=_get(d, "message", str, default="", where=w),
            offset=_get(d, "offset", int, default=-1, where=w),
            member=_get(d, "member", str, default="", where=w),
            opcode=_get(d, "opcode", str, default="", where=w),
            global_name=_get(d, "global", str, default="", where=w),
            field=_get(d, "field", str, default="", where=w),
        )

    def __str__(self) -> str:
        where = f" member={self.member}" if self.member else ""
        what = f" global={self.global_name}" if self.global_name else (f" field={self.field}" if self.field else "")
        return f"{self.severity}{where}{what} [{self.rule}] {self.message}"


def _verdict(d: Any, where: str) -> Dict[str, Any]:
    """The verdict, findings and unscannable fields a file's scan has in every result."""
    return dict(
        verdict=_get(d, "verdict", str, where=where),
        findings=[Finding.from_json(f) for f in _get(d, "findings", list, default=[], where=where)],
        unscannable=_get(d, "unscannable", str, default="", where=where),
    )


@dataclass(frozen=True)
class ScannedFile:
    """A file of ``scan``: its format (by content), verdict and findings."""

    path: str
    format: str
    size: int
    verdict: str  # clean, unsafe, unscannable ...
    findings: List[Finding] = field(default_factory=list)
    unscannable: str = ""  # why the file could not be fully parsed

    @property
    def clean(self) -> bool:
        return self.verdict == "clean"

    @classmethod
    def from_json(cls, d: Any) -> "ScannedFile":
        w = "scanned file"
        return cls(path=_get(d, "path", str, where=w), format=_get(d, "format", str, default="", where=w),
                   size=_get(d, "size", int, default=0, where=w), **_verdict(d, w))


@dataclass(frozen=True)
class ScanReport:
    """The result of ``ttsguard.scan``: every file scanned; ``clean`` only when all are."""

    profile: str
    files: List[ScannedFile]
    clean: bool
    elapsed_ms: float
    raw: Dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_json(cls, d: Any) -> "ScanReport":
        w = "scan report"
        files = [ScannedFile.from_json(f) for f in _get(d, "files", list, where=w)]
        clean = _get(d, "clean", bool, where=w)
        if clean and not all(f.clean for f in files):
            raise ValueError("scan report: clean, but a file is not")
        return cls(
            profile=_get(d, "profile", str, default="", where=w),
            files=files,
            clean=clean,
            elapsed_ms=_get(d, "elapsed_ms", float, default=0.0, where=w),
            raw=d,
        )


@dataclass(frozen=True)
class FileFindings:
    """A file the scan gate refused (path relative to the model folder) and why."""

    file: str
    verdict: str
    findings: List[Finding] = field(default_factory=list)
    unscannable: str = ""

    @classmethod
    def from_json(cls, d: Any) -> "FileFindings":
        return cls(file=_get(d, "file", str, where="gate findings"), **_verdict(d, "gate findings"))


@dataclass(frozen=True)
class Gate:
    """The evidence of one gate: files, pin, signature, scan, integrity, requires."""

    name: str
    ok: bool
    detail: str
    warnings: List[str] = field(default_factory=list)
    findings: List[FileFindings] = field(default_factory=list)

    @classmethod
    def from_json(cls, d: Any) -> "Gate":
        w = "gate"
        return cls(
            name=_get(d, "name", str, where=w),
            ok=_get(d, "ok", bool, where=w),
            detail=_get(d, "detail", str, default="", where=w),
            warnings=_strings(d, "warnings", w),
            findings=[FileFindings.from_json(f) for f in _get(d, "findings", list, default=[], where=w)],
        )


def _gates(d: Any, where: str) -> List[Gate]:
    return [Gate.from_json(g) for g in _get(d, "gates", list, default=[], where=where)]


def _consistent(ok: bool, gates: List[Gate], where: str) -> None:
    if ok and not all(g.ok for g in gates):
        raise ValueError(f"{where}: ok, but a gate failed")


@dataclass(frozen=True)
class CheckResult:
    """The result of ``ttsguard.check``: every gate of the policy on a folder or a stored model."""

    target: str
    name: str
    path: str  # the folder checked (the read-only store folder for a stored model)
    stored: bool
    root_digest: str
    gates: List[Gate]
    ok: bool
    elapsed_ms: float
    requires: List["CheckResult"] = field(default_factory=list)
    raw: Dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_json(cls, d: Any) -> "CheckResult":
        w = "check result"
        gates, ok = _gates(d, w), _get(d, "ok", bool, where=w)
        requires = [CheckResult.from_json(r) for r in _get(d, "requires", list, default=[], where=w)]
        _consistent(ok, gates, w)
        if ok and not all(r.ok for r in requires):
            raise ValueError(f"{w}: ok, but a requirement failed")
        return cls(
            target=_get(d, "target", str, default="", where=w),
            name=_get(d, "name", str, default="", where=w),
            path=_get(d, "path", str, default="", where=w),
            stored=_get(d, "stored", bool, default=False, where=w),
            root_digest=_get(d, "root_digest", str, default="", where=w),
            gates=gates,
            ok=ok,
            elapsed_ms=_get(d, "elapsed_ms", float, default=0.0, where=w),
            requires=requires,
            raw=d,
        )


@dataclass(frozen=True)
class PullResult:
    """The result of ``ttsguard.pull``: where it came from, every gate, and the store folder."""

    name: str
    requested: List[str]
    path: str  # the read-only folder in the store ("" when refused)
    root_digest: str
    files: int
    bytes: int
    gates: List[Gate]
    pin: str  # "matched", "added", "updated" or ""
    ok: bool
    failure: str
    elapsed_ms: float
    sources: List[Dict[str, Any]] = field(default_factory=list)
    requires: List["PullResult"] = field(default_factory=list)
    raw: Dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_json(cls, d: Any) -> "PullResult":
        w = "pull result"
        gates, ok = _gates(d, w), _get(d, "ok", bool, where=w)
        _consistent(ok, gates, w)
        return cls(
            name=_get(d, "name", str, where=w),
            requested=_strings(d, "requested", w),
            path=_get(d, "path", str, default="", where=w),
            root_digest=_get(d, "root_digest", str, default="", where=w),
            files=_get(d, "files", int, default=0, where=w),
            bytes=_get(d, "bytes", int, default=0, where=w),
            gates=gates,
            pin=_get(d, "pin", str, default="", where=w),
            ok=ok,
            failure=_get(d, "failure", str, default="", where=w),
            elapsed_ms=_get(d, "elapsed_ms", float, default=0.0, where=w),
            sources=list(_get(d, "sources", list, default=[], where=w)),
            requires=[PullResult.from_json(r) for r in _get(d, "requires", list, default=[], where=w)],
            raw=d,
        )


@dataclass(frozen=True)
class Signer:
    method: str  # key, certificate, sigstore
    key_hint: str = ""
    curve: str = ""
    subject: str = ""
    issuer: str = ""
    identity: str = ""
    identity_provider: str = ""
    not_after: str = ""
    warnings: List[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, d: Any) -> "Signer":
        w = "signer"
        s = {k: _get(d, k, str, default="", where=w) for k in
             ("key_hint", "curve", "subject", "issuer", "identity", "identity_provider", "not_after")}
        return cls(method=_get(d, "method", str, where=w), warnings=_strings(d, "warnings", w), **s)


@dataclass(frozen=True)
class VerifyResult:
    """The result of ``ttsguard.verify``: the OMS signature, its signer, and every file compared."""

    model: str
    signature: str
    ok: bool
    signer: Optional[Signer]
    root_digest: str
    files: int
    bytes_hashed: int
    missing: List[str]
    extra: List[str]
    changed: List[str]
    warnings: List[str]
    failure: str
    elapsed_ms: float
    raw: Dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_json(cls, d: Any) -> "VerifyResult":
        w = "verify result"
        signer = _get(d, "signer", dict, default=None, where=w)
        return cls(
            model=_get(d, "model", str, default="", where=w),
            signature=_get(d, "signature", str, default="", where=w),
            ok=_get(d, "ok", bool, where=w),
            signer=Signer.from_json(signer) if signer is not None else None,
            root_digest=_get(d, "root_digest", str, default="", where=w),
            files=_get(d, "files", int, default=0, where=w),
            bytes_hashed=_get(d, "bytes_hashed", int, default=0, where=w),
            missing=_strings(d, "missing", w),
            extra=_strings(d, "extra", w),
            changed=_strings(d, "changed", w),
            warnings=_strings(d, "warnings", w),
            failure=_get(d, "failure", str, default="", where=w),
            elapsed_ms=_get(d, "elapsed_ms", float, default=0.0, where=w),
            raw=d,
        )


@dataclass(frozen=True)
class StoredModel:
    """A model in the store (``ttsguard.ls``, ``ttsguard.path``)."""

    name: str
    path: str  # its read-only folder
    root_digest: str
    kind: str = ""  # tts model, vocoder, other ("" from path)
    family: str = ""
    files: int = 0
    bytes: int = 0
    created: str = ""

    @classmethod
    def from_json(cls, d: Any) -> "StoredModel":
        w = "stored model"
        return cls(
            name=_get(d, "name", str, where=w),
            path=_get(d, "path", str, where=w),
            root_digest=_get(d, "root_digest", str, where=w),
            kind=_get(d, "kind", str, default="", where=w),
            family=_get(d, "family", str, default="", where=w),
            files=_get(d, "files", int, default=0, where=w),
            bytes=_get(d, "bytes", int, default=0, where=w),
            created=_get(d, "created", str, default="", where=w),
        )


def findings_of(evidence: Any) -> List[FileFindings]:
    """Every refused file with its findings, from a scan report, check or pull result."""
    if isinstance(evidence, ScanReport):
        return [FileFindings(file=f.path, verdict=f.verdict, findings=f.findings, unscannable=f.unscannable)
                for f in evidence.files if not f.clean]
    out: List[FileFindings] = []
    for g in getattr(evidence, "gates", []) or []:
        out.extend(g.findings)
    for r in getattr(evidence, "requires", []) or []:
        out.extend(findings_of(r))
    return out
