"""An exception nobody catches, reported by the official Python sentry-sdk.

Usage: SENTRY_DSN=... python uncaught.py
The SDK's excepthook integration captures the exception, and its atexit
integration sends it before the interpreter exits (with status 1, after
printing the traceback). `before_send` prints the event id first, as one
JSON object on stdout: {"unhandled": [id]}.
"""

import json

import sentry_sdk


def before_send(event, hint):
    print(json.dumps({"unhandled": [event["event_id"]]}), flush=True)
    return event


def fail():
    raise ValueError("uncaught failure 7")


sentry_sdk.init(
    release="compat-app@1.0.0",
    environment="ci",
    before_send=before_send,
    shutdown_timeout=5,
)
fail()
