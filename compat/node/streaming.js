// Streams spans with the official Node SDK as it does by default since
// version 11 (no `traceLifecycle` option: v2 span containers instead of
// transactions) and prints the trace and segment span ids as JSON for
// receiver/tests/compat_node.rs.
"use strict";

const Sentry = require("@sentry/node");
const { run } = require("./run.js");

async function main() {
  Sentry.init({
    dsn: process.env.SENTRY_DSN,
    release: "compat-node@1.0.0",
    environment: "ci",
    tracesSampleRate: 1.0,
    defaultIntegrations: false,
  });
  const ids = {};
  await Sentry.startSpan({ name: "streamed-segment", op: "task" }, async (root) => {
    Sentry.startSpan({ name: "SELECT 2", op: "db.query" }, () => {
      Sentry.startSpan({ name: "user:2", op: "cache.get" }, () => {});
    });
    const context = root.spanContext();
    ids.trace_id = context.traceId;
    ids.segment_span_id = context.spanId;
  });
  return ids;
}

run(main);
