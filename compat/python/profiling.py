"""Drives the official Python sentry-sdk's transaction profiler against a
receiver: one profiled transaction whose main thread spends most of its
time in `busy` (computing) and then in `wait` (sleeping).

Usage: SENTRY_DSN=... python profiling.py
Prints one JSON object on stdout: the transaction's trace id.
"""

import json
import time

import sentry_sdk


def busy(seconds):
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
    return n


def wait(seconds):
    time.sleep(seconds)


def main():
    sentry_sdk.init(traces_sample_rate=1.0, profiles_sample_rate=1.0,
                    release="compat-profiling@1.0.0", shutdown_timeout=5)
    with sentry_sdk.start_transaction(op="task", name="profiled-task") as tx:
        busy(0.3)
        wait(0.1)
        ids = {"trace_id": tx.trace_id}
    sentry_sdk.flush(timeout=10)
    print(json.dumps(ids))


if __name__ == "__main__":
    main()
