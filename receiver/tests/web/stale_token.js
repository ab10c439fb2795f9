// Opens the page from an old address whose token is dead while the browser
// remembers a good token: the page goes on with the remembered one and
// keeps it. Prints one JSON line ({"text", "remembered", "login"}).
//
//   node stale_token.js <base url> <good token>
'use strict';

const {loadPage} = require('./dom.js');

async function main() {
  const [base, token] = process.argv.slice(2);
  const page = await loadPage(base, '#token=dead-token-0123456789abcdef', {'receiver.token': token});
  await page.go('#/issues');
  console.log(JSON.stringify({
    text: page.text(),
    remembered: localStorage.getItem('receiver.token'),
    login: !!page.document.body.findAll((e) => e.tagName === 'INPUT' && e.getAttribute('type') === 'password').length,
  }));
  // The issue list's auto-refresh timer would keep Node running.
  process.exit(0);
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
