// Drives the web page's Grouping view against a running receiver: sets a
// project's fingerprint rules with its form, then tries rules that do not
// parse. Prints one JSON line per step ({"step", "hash", "text"}); the Rust
// test (receiver/tests/web_ui.rs) checks them and the project's rules.
//
//   node grouping.js <base url> <admin token> <rules>
'use strict';

const {loadPage} = require('./dom.js');

async function main() {
  const [base, token, rules] = process.argv.slice(2);
  const page = await loadPage(base, '#token=' + token);

  await page.go('#/grouping');
  page.report('shown');

  const textarea = page.main.querySelector('form.rules textarea[name=rules]');
  textarea.value = rules;
  page.button('Save rules').click();
  await page.settle();
  page.report('saved');

  textarea.value = 'colour:red -> x';
  page.button('Save rules').click();
  await page.settle();
  page.report('refused');
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
