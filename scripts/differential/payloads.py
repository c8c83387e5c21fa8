"""Hand-built pickle payloads for the differential harness.

Every payload, when a real unpickler runs it, touches MARKER (a path the
harness watches) or reads a file outside the model folder. Nothing here is
ever unpickled by this module; the bytes are written by hand, opcode by
opcode, so that each text-argument form is exactly what we mean.
"""

import pickle
import struct


def _s0(s):
    """Protocol-0 STRING argument (repr form, as pickle.py writes it)."""
    return b"S" + repr(s).encode() + b"\n"


def _u(s):
    """BINUNICODE."""
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def global0(mod, name):
    return b"c" + mod.encode() + b"\n" + name.encode() + b"\n"


def call0(mod, name, *args):
    """Protocol 0: GLOBAL, MARK, STRING..., TUPLE, REDUCE, STOP."""
    return global0(mod, name) + b"(" + b"".join(_s0(a) for a in args) + b"tR."


def call2(mod, name, *args):
    """Protocol 2: PROTO 2, GLOBAL, BINUNICODE args, TUPLEn, REDUCE, STOP."""
    body = b"\x80\x02" + global0(mod, name) + b"(" + b"".join(_u(a) for a in args) + b"tR."
    return body


def call4(mod, name, *args):
    """Protocol 4: STACK_GLOBAL with constant operands (framed)."""
    inner = _u(mod) + _u(name) + b"\x93" + b"(" + b"".join(_u(a) for a in args) + b"tR."
    return b"\x80\x04\x95" + struct.pack("<Q", len(inner)) + inner


def inst0(mod, name, *args):
    """Protocol 0 INST: MARK args INST module name."""
    return b"(" + b"".join(_s0(a) for a in args) + b"i" + mod.encode() + b"\n" + name.encode() + b"\n."


def obj1(mod, name, *args):
    """Protocol 1 OBJ: MARK class args OBJ."""
    return b"(" + global0(mod, name) + b"".join(_s0(a) for a in args) + b"o."


def getattr_call(mod, attr, *args):
    """builtins.getattr(builtins.__import__(mod), attr)(*args): a computed callee."""
    imp = global0("builtins", "getattr") + b"(" + global0("builtins", "__import__") + b"(" + _s0(mod) + b"tR" + _s0(attr) + b"tR"
    return b"\x80\x02" + imp + b"(" + b"".join(_u(a) for a in args) + b"tR."


def memo_text_forms(mod, name, arg, put=b"p0\n", get=b"g0\n"):
    """Protocol 0 with the callee fetched from the memo; PUT/GET keys in any text form."""
    return global0(mod, name) + put + b"0" + get + b"(" + _s0(arg) + b"tR."


def memo_overwrite(mod, name, arg, put1=b"p0\n", put2=b"p 0\n", get=b"g0\n"):
    """A benign global stored in one spelling of a memo key, the payload in another spelling
    of the same key: CPython reads both keys as the same integer."""
    return (global0("collections", "OrderedDict") + put1 + b"0" + global0(mod, name) + put2 + b"0" + get
            + b"(" + _s0(arg) + b"tR.")


def shell(marker):
    return f"touch {marker}"


def exec_src(marker):
    return f"open({marker!r}, 'w').write('x')"


def payloads(marker, proto_hint=None):
    """(name, bytes) of every payload form, each touching marker."""
    sh = shell(marker)
    src = exec_src(marker)
    out = [
        ("os-system-p0", call0("os", "system", sh)),
        ("posix-system-p0", call0("posix", "system", sh)),
        ("os-system-p2", call2("os", "system", sh)),
        ("builtins-exec-p2", call2("builtins", "exec", src)),
        ("builtin-eval-p0", call0("__builtin__", "eval", src)),
        ("builtins-open-write-p0", call0("builtins", "open", marker, "w")),
        ("stack-global-p4", call4("os", "system", sh)),
        ("torch-os-system-p4", call4("torch", "os.system", sh)),
        ("inst-p0", inst0("os", "system", sh)),
        ("obj-p1", obj1("os", "system", sh)),
        ("getattr-import-p2", getattr_call("os", "system", sh)),
        ("subprocess-getoutput-p2", call2("subprocess", "getoutput", sh)),
        ("runpy-exec-p2", call2("builtins", "exec", "import os; os.system(%r)" % sh)),
        ("memo-p0", memo_text_forms("os", "system", sh)),
        ("memo-space-p0", memo_text_forms("os", "system", sh, put=b"p 0\n", get=b"g0\n")),
        ("memo-zero-p0", memo_text_forms("os", "system", sh, put=b"p00\n", get=b"g0\n")),
        ("memo-plus-p0", memo_text_forms("os", "system", sh, put=b"p+0\n", get=b"g0 \n")),
        ("memo-overwrite-p0", memo_overwrite("os", "system", sh)),
        ("memo-overwrite-sp-p0", memo_overwrite("os", "system", sh, put2=b"p0 \n")),
        ("memo-overwrite-us-p0", memo_overwrite("os", "system", sh, put1=b"p10\n", put2=b"p1_0\n", get=b"g10\n")),
        # a harmless first opcode whose text argument CPython reads (strtol/PyLong_FromString
        # whitespace, NUL, 'L', raw-unicode-escape backslash runs), then the payload
        ("int-space-p0", b"I 1\n0" + call0("os", "system", sh)),
        ("int-nul-p0", b"I1\x00x\n0" + call0("os", "system", sh)),
        ("long-space-l-p0", b"L1 L\n0" + call0("os", "system", sh)),
        ("unicode-even-backslash-p0", b"V\\\\uZZZZ\n0" + call0("os", "system", sh)),
        ("get-tab-p0", memo_text_forms("os", "system", sh, put=b"p\t0\n", get=b"g0\x00\n")),
        ("read-outside-p2", call2("builtins", "open", "/etc/hostname")),
        ("numpy-fromfile-p2", call2("numpy", "fromfile", "/etc/hostname")),
    ]
    return out


def benign_pickle(proto):
    """A pickle of plain data (what a coqui checkpoint's metadata holds)."""
    return pickle.dumps({"step": 10, "epoch": 1, "model_loss": 0.5, "date": "2026-01-01", "names": ["a", "b"]}, protocol=proto)
