"""Drives the official Python sentry-sdk against a receiver whose project
has an error quota of one event per window.

Usage: SENTRY_DSN=... python rate_limits.py
Prints one JSON object on stdout: the ids of the three messages captured
(the receiver's answer to the first says the quota is used up) and the
trace id of a transaction sent afterwards (not covered by the quota).
"""

import json

import sentry_sdk


def main():
    sentry_sdk.init(traces_sample_rate=1.0, shutdown_timeout=5)
    ids = {"messages": []}
    for n in range(3):
        ids["messages"].append(sentry_sdk.capture_message(f"limited {n}"))
        sentry_sdk.flush(timeout=10)
    with sentry_sdk.start_transaction(op="task", name="after-the-limit") as tx:
        ids["transaction_trace_id"] = tx.trace_id
    sentry_sdk.flush(timeout=10)
    print(json.dumps(ids))


if __name__ == "__main__":
    main()
