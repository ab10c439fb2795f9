// Drives the Transactions view against a running receiver holding more
// transactions than one API request reads, few of them named `needle …`:
// the view asks again from where each answer stopped, a bounded number of
// times, says how far it searched and searches further when asked; sorted
// by duration, it says which transactions the sort covers. Prints one
// JSON line per step ({"step", "hash", "text"}); the Rust test
// (receiver/tests/web_ui.rs) checks them.
//
//   node transactions.js <base url> <token>
'use strict';

const {loadPage} = require('./dom.js');

async function main() {
  const [base, token] = process.argv.slice(2);
  const page = await loadPage(base, '#token=' + token);
  const report = (step) => {
    console.log(JSON.stringify({step, hash: location.hash, text: page.text()}));
  };

  await page.go('#/transactions?query=needle');
  report('needles');
  page.button('Search further').click();
  await page.settle();
  report('further');

  await page.go('#/transactions?sort=-duration');
  report('slowest');
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
