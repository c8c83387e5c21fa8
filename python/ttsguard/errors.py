"""The exceptions of the ttsguard package.

Every failure is an ``Error``; what the binary found comes with it (``evidence``: the typed
result it printed with ``--json``, when it printed one), so a caller can show or log why.
A check that could not be completed is never a success: a missing or crashed binary, an
internal error or output that does not parse raise ``ToolError``.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence


class Error(Exception):
    """Base class: a ttsguard command did not succeed.

    Attributes:
        evidence: the typed result of the command (ScanReport, CheckResult, PullResult,
            VerifyResult), or None when it printed none.
        returncode: the binary's exit status (negative: killed by that signal), or None.
        stderr: what the binary wrote on standard error.
        argv: the command line that ran.
    """

    def __init__(
        self,
        message: str,
        *,
        evidence: Any = None,
        returncode: Optional[int] = None,
        stderr: str = "",
        argv: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.evidence = evidence
        self.returncode = returncode
        self.stderr = stderr
        self.argv = list(argv)


class IntegrityError(Error):
    """The model is not the one that was trusted: a pin, signature or stored file does not match,
    or a download did not arrive intact (exit status 1)."""


class ScanError(Error):
    """A file holds code or something the scanner cannot fully read (exit status 1).

    ``findings`` lists every refused file with its findings (FileFindings)."""

    @property
    def findings(self) -> list:
        from .results import findings_of  # a cycle at import time otherwise

        return findings_of(self.evidence)


class PolicyError(Error):
    """The trust policy forbids it: a source not allowed, terms of service not accepted, a model
    the lock file does not pin under --frozen, files the policy refuses (exit status 1)."""


class UsageError(Error, ValueError):
    """Bad arguments or unreadable input: no such file or stored model, an invalid policy (exit status 2)."""


class ToolError(Error, RuntimeError):
    """The check could not be completed: the bundled binary is missing, crashed, failed internally
    (exit status 3) or printed something that is not the result it promises. Never a pass."""
