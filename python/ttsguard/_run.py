"""Running the bundled binary and turning its exit status and ``--json`` output into a result or
an exception. Fail closed: only exit status 0 together with a result that parses and says ok is
a success; anything else raises.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any, Callable, List, Optional, Sequence, Tuple, Type

from .errors import Error, IntegrityError, PolicyError, ScanError, ToolError, UsageError

# The binary the wheel carries. Never another one on PATH: the Python API is only as good as
# the binary it asks.
BINARY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin", "ttsguard")


def binary() -> str:
    """The bundled binary's path; ToolError when it is missing or not executable."""
    if not os.path.isfile(BINARY) or not os.access(BINARY, os.X_OK):
        raise ToolError(
            f"the bundled ttsguard binary is missing or not executable: {BINARY}; "
            "install a platform wheel (pip install ttsguard on linux x86_64 or aarch64)"
        )
    return BINARY


def _message(stderr: str, fallback: str) -> str:
    """The binary's error: its last "ttsguard: " line with the indented lines that continue it."""
    lines = stderr.strip().split("\n")  # not splitlines(): it also breaks at U+2028, \x1c ... that the binary leaves in a line
    starts = [i for i, ln in enumerate(lines) if ln.startswith("ttsguard: ")]
    if not starts:
        return lines[-1] if lines else fallback
    first = starts[-1]
    out = [lines[first][len("ttsguard: "):]]
    for ln in lines[first + 1:]:
        if not ln.startswith("  "):
            break
        out.append(ln[2:])
    return "\n".join(out)


def invoke(args: Sequence[str], operands: Sequence[str] = ()) -> Tuple[int, str, str, List[str]]:
    """Runs ``ttsguard --json ARGS -- OPERANDS``; returns (status, stdout, stderr, argv)."""
    for a in operands:
        if not isinstance(a, (str, os.PathLike)):
            raise UsageError(f"{a!r}: want a path or a name (str or os.PathLike), got {type(a).__name__}")
    argv = [binary(), "--json", *args, "--", *[os.fspath(a) for a in operands]]
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        raise ToolError(f"cannot run the bundled ttsguard binary {argv[0]}: {e}", argv=argv) from e
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"), argv


# Gate names (internal/pull) and the exception a failure of each raises.
_GATE_ERRORS = {
    "scan": ScanError,
    "pin": IntegrityError,
    "signature": IntegrityError,
    "integrity": IntegrityError,
    "files": PolicyError,
}

# Refusals that come with no failed gate (pull): the policy's, by the words ttsguard uses for them
# (internal/policy, internal/fetch, internal/pull); any other is an IntegrityError (a download that
# did not arrive intact, a pin that does not match).
_POLICY_WORDS = ("not allowed", "terms of service", "--frozen")


def _gate_error(result: Any) -> Optional[Type[Error]]:
    for g in getattr(result, "gates", []) or []:
        if g.ok:
            continue
        if g.name == "requires":
            for r in getattr(result, "requires", []) or []:
                if not r.ok:
                    return _gate_error(r) or IntegrityError
        return _GATE_ERRORS.get(g.name, PolicyError)
    for r in getattr(result, "requires", []) or []:
        if not r.ok:
            return _gate_error(r)
    return None


def call(
    args: Sequence[str],
    operands: Sequence[str],
    parse: Callable[[Any], Any],
    ok: Callable[[Any], bool],
    failure: Type[Error],
) -> Any:
    """Runs the binary and returns parse(JSON) when it exited 0 and ok(result) holds.

    Exit 1 raises the error its evidence names (the first failed gate), else ``failure``; exit 2
    UsageError; exit 3, a signal, or output that does not parse, ToolError.
    """
    code, out, err, argv = invoke(args, operands)
    result: Any = None
    problem = ""
    if out.strip():
        try:
            result = parse(json.loads(out))
        except (ValueError, TypeError, AttributeError) as e:  # json.JSONDecodeError is a ValueError
            problem = f"its output is not the result it promises: {e}"
    kw = dict(evidence=result, returncode=code, stderr=err, argv=argv)
    if code == 0:
        if result is None:
            raise ToolError(f"ttsguard exited 0 but {problem or 'printed no result'}; not treated as a pass", **kw)
        if not ok(result):
            raise ToolError("ttsguard exited 0 but its result is not a pass; not treated as one", **kw)
        return result
    msg = _message(err, f"ttsguard exited with status {code}")
    if code == 1:
        if result is not None and ok(result):
            raise ToolError(f"ttsguard exited 1 but its result says ok: {msg}", **kw)
        cls = _gate_error(result) if result is not None else None
        if cls is None:
            text = (getattr(result, "failure", "") or "") + "\n" + err
            cls = PolicyError if any(w in text for w in _POLICY_WORDS) else failure
        raise cls(msg, **kw)
    if code == 2:
        raise UsageError(msg, **kw)
    if code < 0:
        raise ToolError(f"ttsguard was killed by signal {-code}; the check did not complete", **kw)
    raise ToolError(f"ttsguard failed (exit status {code}): {msg}", **kw)
