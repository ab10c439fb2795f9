// Opens the page from the receiver's "Web UI:" link (the token in the
// fragment, kept for this tab only), then clicks "Remember token": the
// token is kept in localStorage for new tabs and the button goes. Prints
// one JSON line per step ({"step", "offered", "remembered"}).
//
//   node remember.js <base url> <token>
'use strict';

const {loadPage} = require('./dom.js');

async function main() {
  const [base, token] = process.argv.slice(2);
  const page = await loadPage(base, '#token=' + token);
  await page.go('#/issues');
  const button = page.document.getElementById('remember');
  const report = (step) => console.log(JSON.stringify({
    step,
    offered: !button.hidden,
    remembered: localStorage.getItem('receiver.token') === token,
  }));
  report('arrived');
  button.click();
  await page.settle();
  report('clicked');
  page.document.getElementById('forget').click();
  await page.settle();
  report('forgotten');
  process.exit(0);
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
