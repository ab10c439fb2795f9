"""Drives the official Python sentry-sdk against a receiver.

Usage: SENTRY_DSN=... python scenarios.py
Prints one JSON object on stdout: the event ids sent per scenario, so the
calling test can assert what the receiver stored and how it grouped it.
"""

import json
import sys
import time

import sentry_sdk
from sentry_sdk.crons import monitor

ids = {}

# The cron monitor of the `compat-cron` job (the Node scenario sends the
# same one).
MONITOR_CONFIG = {
    "schedule": {"type": "crontab", "value": "*/10 * * * *"},
    "timezone": "Europe/Vienna",
    "checkin_margin": 5,
    "max_runtime": 15,
    "failure_issue_threshold": 2,
    "recovery_threshold": 3,
}


def remember(name, event_id):
    ids.setdefault(name, []).append(event_id)


def parse_port(value):
    return int(value)  # the cause of the handled error


def load_config():
    try:
        parse_port("not-a-number")
    except ValueError as exc:
        raise RuntimeError("config load failed: bad port") from exc


def lookup_user(user_id):
    # One code line for every user id: these must group together.
    raise KeyError(f"user {user_id} not found")


def charge_card(amount):
    # A different code line and type: a group of its own.
    raise ZeroDivisionError(f"cannot split {amount} cents by zero")


def main():
    sentry_sdk.init(
        release="compat-app@1.0.0",
        environment="ci",
        traces_sample_rate=1.0,
        auto_session_tracking=True,
        # Keep the wire format predictable: no background flush races.
        shutdown_timeout=5,
    )
    sentry_sdk.get_isolation_scope().start_session()

    try:
        load_config()
    except RuntimeError as exc:
        remember("handled", sentry_sdk.capture_exception(exc))

    try:
        raise ValueError("unhandled failure 42")
    except ValueError:
        # What the excepthook integration does for an uncaught exception.
        event, hint = sentry_sdk.utils.event_from_exception(
            sys.exc_info(), mechanism={"type": "excepthook", "handled": False}
        )
        remember("unhandled", sentry_sdk.capture_event(event, hint=hint))

    remember("message", sentry_sdk.capture_message("compat message", level="warning"))

    for user_id in (101, 202, 303):
        try:
            lookup_user(user_id)
        except KeyError as exc:
            remember("group_a", sentry_sdk.capture_exception(exc))
    try:
        charge_card(999)
    except ZeroDivisionError as exc:
        remember("group_b", sentry_sdk.capture_exception(exc))

    # Three spans: db.query and http.client under the transaction, cache.get
    # under db.query (`name` replaced the deprecated `description` argument).
    with sentry_sdk.start_transaction(op="task", name="compat-transaction") as tx:
        with tx.start_child(op="db.query", name="SELECT 1") as query:
            with query.start_child(op="cache.get", name="user:1"):
                pass
        with tx.start_child(op="http.client", name="GET /next"):
            pass
        ids["transaction_trace_id"] = tx.trace_id
        ids["transaction_span_id"] = tx.span_id
        # Metrics (a `trace_metric` container), recorded in the transaction.
        sentry_sdk.metrics.count("compat.jobs", 2, attributes={"queue": "default"})
        sentry_sdk.metrics.distribution("compat.latency", 12.5, unit="millisecond")

    with sentry_sdk.new_scope() as scope:
        scope.add_attachment(bytes=b"attached by compat test\n", filename="compat.txt")
        remember("attachment", sentry_sdk.capture_message("with attachment"))

    # A monitored job: `in_progress`, then `ok` under the same check-in id,
    # both with the monitor's config.
    with monitor(monitor_slug="compat-cron", monitor_config=MONITOR_CONFIG):
        time.sleep(0.05)

    # A monitored job that fails: its `error` check-in opens a `Monitor
    # failure` issue on the receiver (threshold 1). The SDK reports the
    # run, not the exception, which the job's caller handles here.
    try:
        with monitor(monitor_slug="compat-cron-failing"):
            raise RuntimeError("the job failed")
    except RuntimeError:
        pass

    sentry_sdk.get_isolation_scope().end_session()
    sentry_sdk.flush(timeout=10)
    print(json.dumps(ids))


if __name__ == "__main__":
    main()
