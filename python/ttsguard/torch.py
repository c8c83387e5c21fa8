"""A guarded ``torch.load`` and ``numpy.load``: every file is scanned by ttsguard before it is loaded.

    import torch, ttsguard.torch

    with ttsguard.torch.guard():          # for a block
        state = torch.load("model.pth")   # ttsguard.ScanError if the checkpoint holds code

    ttsguard.torch.install()              # for the rest of the process (uninstall() undoes it)

While a guard is installed:

- ``torch.load`` (and ``torch.serialization.load``) scans the file with the bundled binary and
  refuses one with findings (ScanError, with the findings) or one it cannot scan (ToolError); it
  then loads the very file it scanned: the descriptor opened before the scan, checked to be the
  same file, unchanged (device, inode, size, modification time) after it. A file object that is
  not a plain file (BytesIO, a stream) is copied to a private temporary file, scanned and loaded
  from there. ``weights_only`` defaults to True (what coqui-tts 0.28 itself passes for its
  checkpoints on torch 2.4 and later); a caller's explicit ``weights_only=False`` is kept, for a
  file that passed the scan.
- ``numpy.load(..., allow_pickle=True)`` is scanned the same way (coqui loads ``scale_stats.npy``
  so); without ``allow_pickle`` numpy refuses pickles itself and the call is unchanged.

Code that took its own reference before the guard was installed (``from torch import load``)
is not covered. Installs nest; each restores what it replaced.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import threading
from contextlib import contextmanager
from typing import Any, Iterator, Optional, Sequence

from . import scan as _scan
from .errors import IntegrityError

__all__ = ["Guard", "guard", "install", "uninstall", "scan_before_load"]

_lock = threading.RLock()
_global: list = []  # guards installed by install(), innermost last


def _identity(st: os.stat_result) -> tuple:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class Guard:
    """Scans before ``torch.load`` and ``numpy.load(allow_pickle=True)`` while installed.

    Args:
        profile: the scan profile ("coqui" or "weights-only"; default: the policy's, else coqui).
        policy: a trust policy file whose scan settings apply.
        allow_globals: extra pickle globals to allow (module.qualname).
        weights_only: the default of torch.load's weights_only (True).
        numpy: also guard numpy.load (True).
    """

    def __init__(self, *, profile: Optional[str] = None, policy: Optional[str] = None,
                 allow_globals: Sequence[str] = (), weights_only: bool = True, numpy: bool = True) -> None:
        self.profile, self.policy, self.allow_globals = profile, policy, tuple(allow_globals)
        self.weights_only, self.numpy = weights_only, numpy
        self.scanned: list = []  # the ScanReport of every file scanned, in order
        self._saved: list = []  # (object, attribute, original, replacement)

    # -- scanning -------------------------------------------------------------------------

    def scan(self, path: str) -> None:
        """Scans one file; raises unless it is clean."""
        self.scanned.append(_scan(path, profile=self.profile, policy=self.policy, allow_globals=self.allow_globals))

    @contextmanager
    def opened(self, f: Any) -> Iterator[Any]:
        """Yields a file object holding exactly the bytes that were scanned (see the module doc)."""
        if isinstance(f, (str, os.PathLike)):
            path = os.fspath(f)
            fh = open(path, "rb")
            try:
                self._scan_open(fh, path)
                yield fh
            finally:
                fh.close()
            return
        name = getattr(f, "name", None)
        try:
            fd = f.fileno()
            pos = f.tell()
        except (AttributeError, OSError, ValueError):
            fd, pos = None, None
        if fd is not None and pos == 0 and isinstance(name, str) and os.path.isfile(name) \
                and _identity(os.fstat(fd)) == _identity(os.stat(name)):
            self._scan_open(f, name, fd)
            yield f
            return
        with self._spooled(f) as fh:
            yield fh

    def _scan_open(self, fh: Any, path: str, fd: Optional[int] = None) -> None:
        fd = fh.fileno() if fd is None else fd
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            raise IntegrityError(f"{path!r} is not a regular file; ttsguard scans files before they are loaded")
        self.scan(path)
        after_path, after_fd = os.stat(path), os.fstat(fd)
        if not (_identity(before) == _identity(after_fd) == _identity(after_path)):
            raise IntegrityError(f"{path!r} changed while it was scanned; not loaded")

    @contextmanager
    def _spooled(self, f: Any) -> Iterator[Any]:
        d = tempfile.mkdtemp(prefix="ttsguard-load-")
        try:
            p = os.path.join(d, "checkpoint")
            with open(p, "wb") as out:
                shutil.copyfileobj(f, out)
            with open(p, "rb") as fh:
                self._scan_open(fh, p)
                yield fh
        finally:
            shutil.rmtree(d, ignore_errors=True)

    # -- the replacements -------------------------------------------------------------------

    def _torch_load(self, orig: Any) -> Any:
        guard = self

        def load(f: Any, map_location: Any = None, pickle_module: Any = None, *,
                 weights_only: Optional[bool] = None, mmap: Optional[bool] = None, **kwargs: Any) -> Any:
            if weights_only is None and pickle_module is None:
                weights_only = guard.weights_only
            if mmap and isinstance(f, (str, os.PathLike)):
                # torch maps the file by name: scan the name (the window until torch opens it is
                # docs/python.md's time-of-check note).
                guard.scan(os.fspath(f))
                return orig(f, map_location, pickle_module, weights_only=weights_only, mmap=mmap, **kwargs)
            with guard.opened(f) as fh:
                return orig(fh, map_location, pickle_module, weights_only=weights_only, mmap=mmap, **kwargs)

        load.__wrapped__ = orig  # type: ignore[attr-defined]
        load.__doc__ = "torch.load, scanned by ttsguard first (ttsguard.torch).\n\n" + (orig.__doc__ or "")
        return load

    def _numpy_load(self, orig: Any) -> Any:
        guard = self

        def load(file: Any, mmap_mode: Any = None, allow_pickle: bool = False, *args: Any, **kwargs: Any) -> Any:
            if not allow_pickle:
                return orig(file, mmap_mode, allow_pickle, *args, **kwargs)
            if mmap_mode is not None and isinstance(file, (str, os.PathLike)):
                guard.scan(os.fspath(file))  # numpy maps the file by name
                return orig(file, mmap_mode, allow_pickle, *args, **kwargs)
            import numpy

            cm = guard.opened(file)
            fh = cm.__enter__()
            owned = isinstance(file, (str, os.PathLike))
            try:
                ret = orig(fh, mmap_mode, allow_pickle, *args, **kwargs)
            except BaseException:
                cm.__exit__(None, None, None)
                raise
            if owned and isinstance(ret, numpy.lib.npyio.NpzFile):
                ret.fid = fh  # an .npz is read lazily: NpzFile.close closes the scanned file
                return ret
            cm.__exit__(None, None, None)
            return ret

        load.__wrapped__ = orig  # type: ignore[attr-defined]
        load.__doc__ = "numpy.load, scanned by ttsguard first when allow_pickle (ttsguard.torch).\n\n" + (orig.__doc__ or "")
        return load

    # -- installing ---------------------------------------------------------------------------

    def _patch(self, obj: Any, attr: str, make: Any) -> None:
        orig = getattr(obj, attr)
        new = make(orig)
        setattr(obj, attr, new)
        self._saved.append((obj, attr, orig, new))

    def install(self) -> "Guard":
        """Replaces torch.load (and numpy.load) until uninstall()."""
        import torch
        import torch.serialization

        with _lock:
            if self._saved:
                raise RuntimeError("this guard is already installed")
            orig = torch.load
            self._patch(torch, "load", lambda o: self._torch_load(o))
            if torch.serialization.load is orig:
                new = torch.load
                torch.serialization.load = new
                self._saved.append((torch.serialization, "load", orig, new))
            if self.numpy:
                import numpy

                self._patch(numpy, "load", lambda o: self._numpy_load(o))
        return self

    def uninstall(self) -> None:
        """Puts back what install() replaced (what was there before, where nobody replaced it since)."""
        with _lock:
            for obj, attr, orig, new in reversed(self._saved):
                if getattr(obj, attr) is new:
                    setattr(obj, attr, orig)
            self._saved.clear()

    @property
    def installed(self) -> bool:
        return bool(self._saved)

    def __enter__(self) -> "Guard":
        return self.install()

    def __exit__(self, *exc: Any) -> None:
        self.uninstall()


def guard(**options: Any) -> Guard:
    """A Guard (see Guard for the options): ``with guard(): ...``, or ``guard().install()``."""
    return Guard(**options)


def install(**options: Any) -> Guard:
    """Installs a guard for the rest of the process (until uninstall()) and returns it."""
    with _lock:
        g = Guard(**options).install()
        _global.append(g)
        return g


def uninstall() -> None:
    """Uninstalls the guard the last install() installed."""
    with _lock:
        if _global:
            _global.pop().uninstall()


def scan_before_load(path: str, **options: Any) -> None:
    """Scans one file as the guard does (ScanError when it is not clean)."""
    Guard(**options).scan(path)
