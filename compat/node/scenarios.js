// Drives the official JavaScript SDK for Node (@sentry/node) against a
// receiver.
//
// Usage: SENTRY_DSN=... NODE_PATH=<dir with node_modules> node scenarios.js
// Prints one JSON object on stdout: the event ids sent per scenario, so the
// calling test (receiver/tests/compat_node.rs) can assert what the receiver
// stored and how it grouped it.
"use strict";

const Sentry = require("@sentry/node");
const { run } = require("./run.js");

const ids = {};

function remember(name, eventId) {
  (ids[name] = ids[name] || []).push(eventId);
}

function parsePort(value) {
  const port = Number.parseInt(value, 10);
  if (Number.isNaN(port)) {
    throw new TypeError(`invalid port: ${value}`); // the cause of the handled error
  }
  return port;
}

function loadConfig() {
  try {
    parsePort("not-a-number");
  } catch (cause) {
    throw new Error("config load failed: bad port", { cause });
  }
}

function lookupUser(userId) {
  // One code line for every user id: these must group together.
  throw new RangeError(`user ${userId} not found`);
}

function chargeCard(amount) {
  // A different code line and type: a group of its own.
  throw new SyntaxError(`cannot split ${amount} cents by zero`);
}

async function main() {
  Sentry.init({
    dsn: process.env.SENTRY_DSN,
    release: "compat-node@1.0.0",
    environment: "ci",
    tracesSampleRate: 1.0,
    // Version 11 streams spans by default (v2 span containers, see
    // streaming.js); this script checks the transaction an SDK sends when
    // told to keep the static lifecycle.
    traceLifecycle: "static",
    enableLogs: true,
    // No auto-instrumentation noise: only what this script sends.
    defaultIntegrations: false,
    integrations: [Sentry.linkedErrorsIntegration(), Sentry.contextLinesIntegration()],
  });

  Sentry.startSession();

  try {
    loadConfig();
  } catch (err) {
    remember("handled", Sentry.captureException(err));
  }

  try {
    throw new Error("unhandled failure 42");
  } catch (err) {
    // What the onUncaughtException integration sends for an uncaught error.
    remember(
      "unhandled",
      Sentry.captureException(err, {
        mechanism: { type: "onuncaughtexception", handled: false },
      })
    );
  }

  remember("message", Sentry.captureMessage("compat message", "warning"));

  for (const userId of [101, 202, 303]) {
    try {
      lookupUser(userId);
    } catch (err) {
      remember("group_a", Sentry.captureException(err));
    }
  }
  try {
    chargeCard(999);
  } catch (err) {
    remember("group_b", Sentry.captureException(err));
  }

  // Three spans: db.query and http.client under the root span, cache.get
  // under db.query.
  await Sentry.startSpan({ name: "compat-transaction", op: "task" }, async (root) => {
    Sentry.startSpan({ name: "SELECT 1", op: "db.query" }, () => {
      Sentry.startSpan({ name: "user:1", op: "cache.get" }, () => {});
    });
    Sentry.startSpan({ name: "GET /next", op: "http.client" }, () => {});
    const context = root.spanContext();
    ids.transaction_trace_id = context.traceId;
    ids.transaction_span_id = context.spanId;
    // Metrics (a `trace_metric` container), recorded in the transaction.
    Sentry.metrics.count("compat.jobs", 2, { attributes: { queue: "default" } });
    Sentry.metrics.distribution("compat.latency", 12.5, { unit: "millisecond" });
  });

  Sentry.withScope((scope) => {
    scope.addAttachment({ data: "attached by compat test\n", filename: "compat.txt" });
    remember("attachment", Sentry.captureMessage("with attachment"));
  });

  ids.feedback = [
    Sentry.captureFeedback({
      message: "the compat page is slow",
      name: "Compat Tester",
      email: "tester@example.com",
      associatedEventId: ids.message[0],
    }),
  ];

  ids.check_in = [
    Sentry.captureCheckIn({ monitorSlug: "compat-job", status: "ok", duration: 1.5 }),
  ];

  Sentry.logger.info("compat log line", { attempt: 3 });

  Sentry.endSession();

  // A monitored job: `in_progress` with the monitor's config (the Python
  // scenario sends the same one), then `ok` under the same check-in id.
  // After the session has ended: awaited while it was open, the SDK sent
  // more updates of the session, which the test expects as one.
  await Sentry.withMonitor(
    "compat-cron",
    () => new Promise((resolve) => setTimeout(resolve, 50)),
    {
      schedule: { type: "crontab", value: "*/10 * * * *" },
      timezone: "Europe/Vienna",
      checkinMargin: 5,
      maxRuntime: 15,
      failureIssueThreshold: 2,
      recoveryThreshold: 3,
    },
  );
  return ids;
}

run(main);
