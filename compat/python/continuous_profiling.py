"""Drives the official Python sentry-sdk's continuous profiler (trace
lifecycle: it samples every thread while a sampled transaction runs and
sends `profile_chunk` items, no `profile` item) against a receiver: one
transaction whose main thread spends most of its time in `busy` and then
in `wait`, while a thread named `spinner` computes in `spin`.

Usage: SENTRY_DSN=... python continuous_profiling.py
Prints one JSON object on stdout: the transaction's trace id.
"""

import json
import threading
import time

import sentry_sdk


def busy(seconds):
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
    return n


def spin(seconds, done):
    busy(seconds)
    done.set()
    # Alive until the chunk is sent: the SDK names the threads alive then
    # (a thread that ended may lend its id to another).
    time.sleep(5)


def wait(seconds):
    time.sleep(seconds)


def main():
    sentry_sdk.init(traces_sample_rate=1.0, profile_session_sample_rate=1.0,
                    profile_lifecycle="trace",
                    release="compat-continuous@1.0.0", shutdown_timeout=5)
    with sentry_sdk.start_transaction(op="task", name="continuously-profiled") as tx:
        done = threading.Event()
        spinner = threading.Thread(target=spin, args=(0.3, done), name="spinner",
                                   daemon=True)
        spinner.start()
        busy(0.3)
        wait(0.15)
        done.wait(timeout=5)
        ids = {"trace_id": tx.trace_id}
    # The profiler stops (and sends its chunk) once no sampled
    # transaction runs; give it the moment it takes.
    time.sleep(0.5)
    sentry_sdk.flush(timeout=10)
    print(json.dumps(ids))


if __name__ == "__main__":
    main()
