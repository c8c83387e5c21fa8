#!/usr/bin/env python3
"""Split one `ttsguard pull` of a URL into phases from an strace log (no change to ttsguard).

    strace -f --seccomp-bpf -ttt -T -e signal=none \\
        -e trace=execve,openat,fsync,renameat,mkdirat,exit_group -o LOG ttsguard pull ... URL
    timeline.py LOG        prints "phase<TAB>seconds" lines

Phase boundaries are the file system calls that mark them, in this order:
  exec                                  start-up, policy, store open
  O_CREAT of the download (download/)   download: TLS + write + SHA-256
  the first fsync after it              download: fsync (the call's own duration)
  that fsync's return                   place / extract
  an O_NONBLOCK|O_NOFOLLOW open of a
  staged model file (manifest.Build)    manifest hash (re-read of the staged model)
  the first plain open of a staged
  model file (the scan gate)            pin + signature + scan gates
  the store's .lock (Commit)            commit: re-hash of the staged model
  Commit's tmp/commit-* work folder     commit: fsync, move blobs, tree, metadata, lock file
  the last call                         (end)
A marker that is not found (a phase the build does not have) gets "—"; the phase
before it then runs to the next marker that is found.
"""
import re
import sys

LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(\w+)\((.*)$")
DUR = re.compile(r"<(\d+\.\d+)>\s*$")


def parse(path):
    ev = []
    with open(path) as f:
        for raw in f:
            m = LINE.match(raw.rstrip("\n"))
            if m:  # skips "<... resumed>", "+++ exited", signals
                _, ts, call, rest = m.groups()
                d = DUR.search(rest)
                ev.append((float(ts), call, rest, float(d.group(1)) if d else 0.0))
    return ev


def find(ev, start, pred):
    for i in range(max(start, 0), len(ev)):
        if pred(ev[i]):
            return i
    return None


def is_open(e, *need, avoid=()):
    return e[1] == "openat" and all(n in e[2] for n in need) and not any(a in e[2] for a in avoid)


def main():
    ev = parse(sys.argv[1])
    if not ev:
        sys.exit("timeline.py: no events in " + sys.argv[1])
    staged = ("/stage-", "/model/")
    i_dl = find(ev, 0, lambda e: is_open(e, "/download/", "O_CREAT"))
    i_sync = None if i_dl is None else find(ev, i_dl + 1, lambda e: e[1] == "fsync")
    after = i_sync if i_sync is not None else (i_dl if i_dl is not None else 0)
    i_hash = find(ev, after + 1, lambda e: is_open(e, *staged, "O_NONBLOCK|O_NOFOLLOW"))
    i_scan = find(ev, (i_hash if i_hash is not None else after) + 1,
                  lambda e: is_open(e, *staged, avoid=("O_NONBLOCK", "O_DIRECTORY", "O_WRONLY", "O_RDWR")))
    i_lock = find(ev, (i_scan if i_scan is not None else after) + 1, lambda e: is_open(e, '/.lock"'))
    i_work = None if i_lock is None else find(ev, i_lock + 1, lambda e: e[1] == "mkdirat" and "/tmp/commit-" in e[2])
    t = lambda i: None if i is None else ev[i][0]
    sync_end = None if i_sync is None else ev[i_sync][0] + ev[i_sync][3]
    t_end = ev[-1][0] + ev[-1][3]
    marks = [
        ("start-up, policy, store open", ev[0][0]),
        ("download: TLS + write + SHA-256", t(i_dl)),
        ("download: fsync", t(i_sync)),
        ("place / extract", sync_end),
        ("manifest hash (re-read of the staged model)", t(i_hash)),
        ("pin + signature + scan gates", t(i_scan)),
        ("commit: re-hash of the staged model", t(i_lock)),
        ("commit: fsync, move blobs, tree, metadata, lock file", t(i_work)),
    ]
    for k, (name, a) in enumerate(marks):
        if a is None:
            print(f"{name}\t—")
            continue
        b = next((m[1] for m in marks[k + 1:] if m[1] is not None), t_end)
        print(f"{name}\t{b - a:.2f}")
    print(f"total (under strace)\t{t_end - ev[0][0]:.2f}")


if __name__ == "__main__":
    main()
