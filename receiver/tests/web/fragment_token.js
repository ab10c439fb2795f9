// Opens the page at an address whose fragment carries the token after a
// route (`#/issues#token=…`): the page takes and uses the token, and must
// also remove it from the address bar. Prints one JSON line.
//
//   node fragment_token.js <base url> <good token> <start hash>
'use strict';

const {loadPage} = require('./dom.js');

async function main() {
  const [base, token, start] = process.argv.slice(2);
  const page = await loadPage(base, start.replace('TOKEN', token));
  console.log(JSON.stringify({
    hash: location.hash,
    stored: sessionStorage.getItem('receiver.token'),
    text: page.text(),
  }));
  process.exit(0);
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
