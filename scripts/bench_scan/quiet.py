#!/usr/bin/env python3
"""Wait until the machine is idle enough to time something.

    quiet.py MAX_SECONDS      prints the busy cores of the last 1-second window

Other processes on a shared machine skew wall-clock numbers: wait up to
MAX_SECONDS for a 1-second window in which the whole machine uses < 0.15 cores.
"""
import sys
import time

THRESHOLD = 0.15


def _ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def busy_cores(window=1.0):
    import os
    b0, t0 = _ticks()
    time.sleep(window)
    b1, t1 = _ticks()
    return (b1 - b0) / max(1, t1 - t0) * os.cpu_count()


def wait_quiet(max_seconds):
    """Return the busy cores of the last window (< THRESHOLD unless the wait ran out)."""
    deadline = time.monotonic() + max_seconds
    while True:
        b = busy_cores()
        if b < THRESHOLD or time.monotonic() >= deadline:
            return b


if __name__ == "__main__":
    print(f"{wait_quiet(float(sys.argv[1]) if len(sys.argv) > 1 else 60):.2f}")
