// Drives the issue list's merge: ticks two issues and merges them with the
// list's button. Prints one JSON line per step ({"step", "hash", "text"});
// the Rust test (receiver/tests/web_ui.rs) checks them and the issues.
//
//   node merge_list.js <base url> <admin token> <issue id> <issue id>
'use strict';

const {loadPage} = require('./dom.js');

async function main() {
  const [base, token, first, second] = process.argv.slice(2);
  const page = await loadPage(base, '#token=' + token);

  await page.go('#/issues');
  page.report('list');

  for (const id of [first, second]) {
    const box = page.main.querySelectorAll('input[name=pick]').find((b) => b.value === id);
    box.checked = true;
    box.dispatchEvent({type: 'change', target: box, bubbles: true, preventDefault() {}, stopPropagation() {}});
  }
  page.report('ticked');
  page.button('Merge selected (2)').click();
  await page.settle();
  page.report('merged');
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
