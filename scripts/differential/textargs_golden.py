"""Record how CPython's C unpickler reads the text arguments of protocol-0 opcodes.

    /usr/bin/python3 scripts/differential/textargs_golden.py > internal/scan/pickle/testdata/textargs.json

For INT, LONG, FLOAT, STRING, UNICODE, GET and PUT, each with hand-picked and random arguments
(whitespace, signs, bases, underscores, NUL bytes, 'L' suffixes, escapes), it builds a pickle,
runs pickle.loads (the C unpickler: what torch.load and np.load run) and writes
{"op", "pickle" (hex), "ok", "result", "lenient", "error"}. The Go test TestTextArgsAsCPython
(internal/scan/pickle) runs the scanner's decoder on the same bytes and must agree: same
success, same value. "lenient" marks errors that depend on the process rather than the bytes
(sys.int_max_str_digits, MemoryError for a huge memo index), where the scanner reads on.
"""

import json
import pickle
import random
import struct
import sys

assert pickle.Unpickler.__module__ == "_pickle", "needs the C unpickler"

ALPHABET = b" \t\x0b\x0c\r\x00+-_0123456789xXoObBeE.LlinfatyINFATY'\"\\uU\x80\xa0ag"


def canon(v):
    if isinstance(v, bool):
        return f"bool:{int(v)}"
    if isinstance(v, int):
        return f"int:{v}" if abs(v) < 10 ** 150 else "int:big"
    if isinstance(v, float):
        return "float:nan" if v != v else "float:" + struct.pack(">d", v).hex()
    if isinstance(v, str):
        return "str:" + v.encode("utf-8", "surrogatepass").hex()
    if isinstance(v, bytes):
        return "str:" + v.hex()
    return "other:" + type(v).__name__


def load(data):
    # STRING's bytes are kept as bytes (the scanner does not decode them: torch.load decodes
    # UTF-8, np.load ASCII); UNICODE and the rest do not depend on the encoding.
    try:
        return True, canon(pickle.loads(data, encoding="bytes")), False, ""
    except MemoryError as e:
        return False, "", True, "MemoryError " + str(e)[:80]
    except Exception as e:  # noqa: BLE001 - every failure is a result here
        msg = f"{type(e).__name__}: {e}"[:120]
    # Lenient: the failure comes from sys.int_max_str_digits, which the environment can lift.
    sys.set_int_max_str_digits(0)
    try:
        pickle.loads(data, encoding="bytes")
        return False, "", True, msg + " (loads with int_max_str_digits=0)"
    except Exception:  # noqa: BLE001
        return False, "", False, msg
    finally:
        sys.set_int_max_str_digits(4300)


GET_PREFIX = b"I100\np0\n0I101\np1\n0I102\np2\n0I108\np8\n0I110\np10\n0"


def case(op, arg):
    if op == "PUT":
        data = b"I100\np" + arg + b"\n."
        ok, res, len_, err = load(data)
        if ok:
            u = pickle.Unpickler(__import__("io").BytesIO(data))
            u.load()
            (k,) = u.memo.copy().keys()
            data = b"I100\np" + arg + b"\n0g%d\n." % k
            ok, res, len_, err = load(data)
    elif op == "GET":
        data = GET_PREFIX + b"g" + arg + b"\n."
        ok, res, len_, err = load(data)
    else:
        data = {"INT": b"I", "LONG": b"L", "FLOAT": b"F", "STRING": b"S", "UNICODE": b"V"}[op] + arg + b"\n."
        ok, res, len_, err = load(data)
    return {"op": op, "pickle": data.hex(), "ok": ok, "result": res, "lenient": len_, "error": err}


NUMS = [b"0", b"1", b"00", b"01", b"10", b" 1", b"1 ", b"+1", b"-1", b"+0", b"-0", b"010", b"0x10", b"0X1f",
        b"0x", b"0xg", b"0o17", b"0b101", b"0_0", b"1_0", b"1__0", b"_1", b"1_", b"0x_1", b"0x__1", b"0_1",
        b"1\x00", b"1\x00junk", b"\x00", b"\x00x", b" ", b"\t7\x0b", b"1\r", b"9223372036854775807",
        b"9223372036854775808", b"-9223372036854775808", b"-9223372036854775809", b"99999999999999999999",
        b"0777777777777777777777777", b"0x7fffffffffffffffff", b"1L", b"1LL", b"L", b"01L", b"0L", b"12L",
        b"1 L", b"1L ", b"\xa01", b"\x801", b"1\xa0", b"- 1", b"++1", b"1e3", b"1.0", b"\x1c1", b"1\x1c",
        b"119547037146038801333356", b"1" * 4300, b"1" * 4301, b"0" * 4301, b"1_" * 2000 + b"1",
        b"0x" + b"f" * 5000, b"2", b"02", b"0B1", b"0O7", b"0b2", b"0o8", b"\x0c\x0d1\x09"]
FLOATS = [b"1.0", b"1", b".5", b"5.", b".", b"-.5", b"+1e3", b"1e", b"1e+", b"1E-3", b"1e3x", b"inf", b"-inf",
          b"Infinity", b"INFINITY", b"infinit", b"nan", b"-nan", b"NaN", b"nanx", b" 1.0", b"1.0 ", b"1.0\x00x",
          b"1e400", b"-1e400", b"1e-400", b"0e99999999999", b"1_0", b"0x1p3", b"00.5", b"1.5e00003", b"",
          b"1.7976931348623157e308", b"1.7976931348623159e308", b"2.4703282292062328e-324", b"1..2", b"e5", b"+",
          b"\x00", b"1\r", b"0.1" + b"0" * 500 + b"1"]
MEMO = [b"0", b"1", b" 0", b"0 ", b"+0", b"-0", b"00", b"1_0", b"10", b"010", b"0x1", b"1\x00", b"1\x00x", b"\x00",
        b"-1", b"-2", b"8", b"08", b"\t8\r", b"1e1", b"", b" ", b"99999999999", b"9223372036854775808", b"2L",
        b"\xa01", b"0_8", b"1__0", b"_1", b"1_", b"0" * 4301, b"1" * 20]
STRINGS = [b"''", b"'a'", b'"a"', b"'a\"", b"'", b"a", b"'\\x41'", b"'\\x4'", b"'\\x4g'", b"'\\'", b"'\\\\'",
           b"'\\101\\1\\0'", b"'\\777'", b"'\\q'", b"'\\n\\t\\a\\b\\f\\v\\r'", b"'\xe9'", b"'a\x00b'", b"'\\8'",
           b"' '", b"'\\\"'", b"'a'b'", b"'\\\n'"[:-1]]
UNICODES = [b"", b"a", b"\\u0041", b"\\\\u0041", b"\\\\\\u0041", b"\\u004", b"\\u004g", b"\\U0001F600",
            b"\\U00110000", b"\\ud800", b"\\udc00x", b"\\x41", b"\\", b"\\\\", b"\xe9\xff", b"\\U0010ffff", b"\\uD83D",
            b"a\\u", b"\\u+041", b"\\u 041", b"\\\\\\\\u0041", b"\x00"]


def main():
    rng = random.Random(1611)
    out = []
    for a in NUMS:
        for op in ("INT", "LONG"):
            out.append(case(op, a))
    for a in MEMO:
        for op in ("PUT", "GET"):
            out.append(case(op, a))
    out += [case("FLOAT", a) for a in FLOATS]
    out += [case("STRING", a) for a in STRINGS]
    out += [case("UNICODE", a) for a in UNICODES]
    for op, alpha, n in [("INT", ALPHABET, 700), ("LONG", ALPHABET, 500), ("FLOAT", ALPHABET, 600),
                         ("PUT", ALPHABET, 300), ("GET", ALPHABET, 300),
                         ("INT", b" 0123456789_+-xXob\x00\t", 400), ("LONG", b" 0123456789_+-xXobL\x00", 300),
                         ("PUT", b" 0123456789_+-\x00", 200), ("GET", b" 0128_+-\x00", 200),
                         ("FLOAT", b"0123456789.eE+-_ \x00infa", 400),
                         ("STRING", b"'\"\\xabc0178nutU \x00\xe9", 300), ("UNICODE", b"\\uUabcdef0189D \xe9", 400)]:
        for _ in range(n):
            k = rng.randint(0, 7)
            out.append(case(op, bytes(rng.choice(alpha) for _ in range(k))))
    seen = set()
    uniq = []
    for c in out:
        if c["pickle"] not in seen:
            seen.add(c["pickle"])
            uniq.append(c)
    json.dump({"python": sys.version.split()[0], "cases": uniq}, sys.stdout, indent=0)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
