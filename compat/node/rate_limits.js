// Sends three messages and a transaction with the official Node SDK while
// the receiver's project has an error quota of one (set by the calling
// test, receiver/tests/compat_node.rs). Prints the message ids as JSON.
"use strict";

const Sentry = require("@sentry/node");
const { run } = require("./run.js");

async function main() {
  Sentry.init({
    dsn: process.env.SENTRY_DSN,
    tracesSampleRate: 1.0,
    // A transaction, as the other SDKs' quota scenarios send (version 11
    // would stream the span otherwise).
    traceLifecycle: "static",
    defaultIntegrations: false,
    sendClientReports: true,
  });
  const messages = [];
  for (let i = 0; i < 3; i++) {
    messages.push(Sentry.captureMessage(`limited message ${i}`));
    // One request at a time, so the limit the first answer carries is
    // known before the next message is sent.
    await Sentry.flush(5000);
  }
  Sentry.startSpan({ name: "after the limit", op: "task" }, () => {});
  return { messages };
}

run(main);
