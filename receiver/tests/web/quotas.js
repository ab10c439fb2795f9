// Drives the web page's rate-limits view against a running receiver:
// lists, adds a quota through the form, removes it with its button.
// Prints one JSON line per step ({"step", "text", "dialogs"}); the Rust
// test (receiver/tests/web_ui.rs) checks them and the receiver's state.
//
//   node quotas.js <base url> <admin token> <public key>
'use strict';

const {loadPage} = require('./dom.js');

async function main() {
  const [base, token, publicKey] = process.argv.slice(2);
  const page = await loadPage(base, '#token=' + token);
  const report = (step) => {
    console.log(JSON.stringify({step, text: page.text(), dialogs: page.dialogs.splice(0)}));
  };

  await page.go('#/quotas');
  report('empty');

  const form = page.main.querySelector('form.quota');
  const field = (name) => form.querySelector('[name=' + name + ']');
  field('limit').value = '5';
  field('window').value = '120';
  for (const option of field('categories').options) option.selected = ['error', 'log_item'].includes(option.value);
  field('publicKey').value = ' ' + publicKey + ' ';
  field('reason').value = 'from_the_page';
  form.querySelector('button').click();
  await page.settle();
  report('added');

  // A refused form shows the receiver's reason and adds nothing.
  const again = page.main.querySelector('form.quota');
  again.querySelector('[name=limit]').value = '1';
  again.querySelector('[name=window]').value = '100000';
  again.querySelector('button').click();
  await page.settle();
  report('refused');

  page.button('Remove').click();
  await page.settle();
  report('removed');
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
