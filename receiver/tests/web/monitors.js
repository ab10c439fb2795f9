// Drives the web page's Crons view against a running receiver: opens a
// monitor, mutes it and deletes it with its buttons. Prints one JSON line per step
// ({"step", "hash", "text"}, then the dialogs); the Rust test
// (receiver/tests/web_ui.rs) checks them and the receiver's state.
//
//   node monitors.js <base url> <admin token> <read-only token>
'use strict';

const {loadPage} = require('./dom.js');

async function main() {
  const [base, token, readOnly] = process.argv.slice(2);
  // A read-only token is shown no control it could only be refused.
  const reader = await loadPage(base, '#token=' + readOnly);
  await reader.go('#/monitors?monitor=nightly&project=1');
  reader.report('read-only');

  const page = await loadPage(base, '#token=' + token);

  await page.go('#/monitors?monitor=nightly&project=1');
  page.report('chosen');

  page.button('Mute monitor').click();
  await page.settle();
  page.report('muted');

  page.button('Delete monitor').click();
  await page.settle();
  page.report('deleted');
  console.log(JSON.stringify({step: 'dialogs', dialogs: page.dialogs.splice(0)}));
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
