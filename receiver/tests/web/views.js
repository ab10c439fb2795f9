// Opens each route given on the command line in the web page, against a
// running receiver, and prints one JSON line per route: {"route", "text",
// "errors"}, the main area's text once the page has settled and the text
// of the error boxes it shows (a failed request, a script error). The Rust test
// (receiver/tests/web_ui.rs) checks what each view shows.
//
//   node views.js <base url> <token> '#/issues' '#/issues/1' …
'use strict';

const {loadPage} = require('./dom.js');

async function main() {
  const [base, token, ...routes] = process.argv.slice(2);
  const page = await loadPage(base, '#token=' + token);
  for (const route of routes) {
    await page.go(route);
    const errors = page.main.querySelectorAll('div.error').map((e) => e.textContent);
    console.log(JSON.stringify({route, text: page.text(), errors}));
  }
  // The live view polls every 2 s; nothing else should be left running.
  process.exit(0);
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
