// Drives the issue views against a running receiver: filters the list
// through its form, then resolves, reopens and ignores one issue with its
// buttons (Resolve double-clicked). Prints one JSON line per step ({"step", "hash", "text"}); the
// Rust test (receiver/tests/web_ui.rs) checks them and the issue's status.
//
//   node issues.js <base url> <token> <issue id>
'use strict';

const {loadPage} = require('./dom.js');

async function main() {
  const [base, token, issueId] = process.argv.slice(2);
  const page = await loadPage(base, '#token=' + token);
  const report = (step) => page.report(step);
  const button = page.button;

  // A page size that is none of the select's (typed into the address)
  // survives Apply.
  await page.go('#/issues?limit=10');
  report('list');

  const form = page.main.querySelector('form.filters');
  form.querySelector('select[name=level]').value = 'warning';
  button('Apply').click();
  await page.settle();
  report('warnings');

  // Another project starts at its first page: the cursor goes.
  await page.go('#/issues?level=warning&cursor=0:25:0');
  const picker = page.document.getElementById('project');
  picker.value = picker.options[picker.options.length - 1].value;
  picker.dispatchEvent({type: 'change', target: picker, bubbles: true, preventDefault() {}, stopPropagation() {}});
  await page.settle();
  report('other project');

  await page.go('#/issues/' + issueId);
  // Resolve is double-clicked: one change, not two.
  const resolve = button('Resolve');
  resolve.click();
  resolve.click();
  await page.settle();
  report('resolved');
  for (const [label, step] of [['Unresolve', 'reopened'], ['Ignore', 'ignored'],
    ['Unresolve', 'reopened again'], ['Resolve in next release', 'next release']]) {
    button(label).click();
    await page.settle();
    report(step);
  }
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
