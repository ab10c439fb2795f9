// Drives the issue page's merge form against a running receiver: merges
// other issues (by short id) into the one shown. Prints one JSON line per
// step ({"step", "hash", "text"}); the Rust test (receiver/tests/web_ui.rs)
// checks them and the receiver's issues.
//
//   node merge.js <base url> <admin token> <issue id> <other issues, comma-separated>
'use strict';

const {loadPage} = require('./dom.js');

async function main() {
  const [base, token, issueId, others] = process.argv.slice(2);
  const page = await loadPage(base, '#token=' + token);

  await page.go('#/issues/' + issueId);
  page.report('shown');

  page.main.querySelector('form.merge input[name=merge]').value = others;
  page.button('Merge').click();
  await page.settle();
  page.report('merged');
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
