// Opens a trace in the web page against a running receiver, clicks the
// span whose row shows the given text and prints the span panel's text
// once its data has come ({"step", "hash", "text"} lines, the last one
// the panel's). The Rust test (receiver/tests/web_ui.rs) checks it.
//
//   node span_detail.js <base url> <token> <trace id> <text of the span's row>
'use strict';

const {loadPage} = require('./dom.js');

async function main() {
  const [base, token, traceId, rowText] = process.argv.slice(2);
  const page = await loadPage(base, '#token=' + token);
  await page.go('#/traces/' + traceId);
  const row = page.main.querySelectorAll('div.span-row').find((r) => r.textContent.includes(rowText));
  if (!row) throw new Error('no span row shows ' + JSON.stringify(rowText));
  row.click();
  await page.settle();
  const panel = page.main.querySelector('div.span-detail');
  console.log(JSON.stringify({step: 'panel', text: panel ? panel.textContent : ''}));
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
