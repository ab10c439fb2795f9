// What every scenario script does around its own work: run `scenario`
// (an async function returning the ids to report), flush the SDK, and
// print the ids as one JSON line, or fail with a message and exit code.
"use strict";

const Sentry = require("@sentry/node");

function run(scenario) {
  (async () => {
    const ids = await scenario();
    const flushed = await Sentry.close(10000);
    if (!flushed) {
      process.stderr.write("the SDK did not flush within 10 s\n");
      process.exit(2);
    }
    process.stdout.write(JSON.stringify(ids) + "\n");
  })().catch((err) => {
    process.stderr.write(`scenario failed: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  });
}

module.exports = { run };
