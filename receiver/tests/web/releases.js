// Drives the releases view and an attachment download against a running
// receiver: pages through the releases two at a time, searches them, then
// opens an event with an attachment, deletes its issue behind the page's
// back and clicks Download. Prints one JSON line per step ({"step", "hash",
// "text"}); the Rust test (receiver/tests/web_ui.rs) checks them.
//
//   node releases.js <base url> <token> <issue id> <event id>
'use strict';

const {loadPage} = require('./dom.js');

async function main() {
  const [base, token, issueId, eventId] = process.argv.slice(2);
  const page = await loadPage(base, '#token=' + token);
  const report = (step) => page.report(step);
  const button = page.button;

  await page.go('#/releases?limit=2');
  report('first page');
  button('Older →').click();
  await page.settle();
  report('older');

  const form = page.main.querySelector('form.filters');
  form.querySelector('input[name=query]').value = 'app@1.';
  button('Apply').click();
  await page.settle();
  report('search');

  await page.go('#/issues/' + issueId + '/events/' + eventId);
  report('event');
  // Gone since the page listed it: the download must say so.
  const gone = await fetch(base + '/api/0/issues/' + issueId + '/', {method: 'DELETE', headers: {Authorization: 'Bearer ' + token}});
  if (gone.status !== 202 && gone.status !== 204 && gone.status !== 200) throw new Error('delete: ' + gone.status);
  button('Download').click();
  await page.settle();
  report('download');
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
