// Sends three messages and a transaction with the official Node SDK while
// the receiver's project has an error quota of one (set by the calling
// test, receiver/tests/compat_node.rs). Prints the message ids as JSON.
"use strict";

const Sentry = require("@sentry/node");

async function main() {
  Sentry.init({
    dsn: process.env.SENTRY_DSN,
    tracesSampleRate: 1.0,
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
  const flushed = await Sentry.close(10000);
  if (!flushed) {
    process.stderr.write("the SDK did not flush within 10 s\n");
    process.exit(2);
  }
  process.stdout.write(JSON.stringify({ messages }) + "\n");
}

main().catch((err) => {
  process.stderr.write(`scenario failed: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
