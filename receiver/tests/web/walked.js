// Drives the Spans or Transactions view against a running receiver
// holding more rows than one API request reads, few of them matching
// `filter`: the view asks again from where each answer stopped, a bounded
// number of times, says how far it searched and searches further when
// asked; sorted by duration, it says which rows the sort covers. Prints
// one JSON line per step ({"step", "hash", "text"}); the Rust test
// (receiver/tests/web_ui.rs) checks them.
//
//   node walked.js <base url> <token> <spans|transactions> <filter>
'use strict';

const {loadPage} = require('./dom.js');

async function main() {
  const [base, token, view, filter] = process.argv.slice(2);
  const page = await loadPage(base, '#token=' + token);
  const report = (step) => page.report(step);

  await page.go('#/' + view + '?' + filter);
  report('needles');
  page.button('Search further').click();
  await page.settle();
  report('further');

  await page.go('#/' + view + '?sort=-duration');
  report('slowest');
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
