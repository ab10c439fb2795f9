// Opens each route given on the command line in the web page, against a
// running receiver, and prints one JSON line per route: {"route", "text",
// "errors"}, the main area's text once the page has settled and the text
// of the error boxes it shows (a failed request, a script error). A last
// line, route "timers", counts the intervals left running after leaving
// the live view normally and in a hurry; a first, route "login", lists the
// project picker's entries after a token arrived by a pasted link. The Rust test
// (receiver/tests/web_ui.rs) checks what each view shows.
//
//   node views.js <base url> <token> '#/issues' '#/issues/1' …
'use strict';

const {loadPage} = require('./dom.js');

async function main() {
  const [base, token, ...routes] = process.argv.slice(2);
  // Opened without a token (the login form), then given one by a pasted
  // `#token=` link: the project picker fills in.
  const page = await loadPage(base, '');
  page.jump('#token=' + token);
  await page.settle();
  const picker = page.document.getElementById('project');
  console.log(JSON.stringify({route: 'login', projects: picker.options.map((o) => o.textContent)}));
  for (const route of routes) {
    await page.go(route);
    const errors = page.main.querySelectorAll('div.error').map((e) => e.textContent);
    console.log(JSON.stringify({route, text: page.text(), errors}));
  }
  // Leaving the live view (polling every 2 s) stops its timer, also when
  // the user leaves before its first answer has come back.
  await page.go('#/releases');
  const afterLeaving = page.intervals();
  page.slowNetwork(200);
  page.jump('#/live');
  await new Promise((r) => setTimeout(r, 50)); // its first request is out
  await page.go('#/client-reports');
  page.slowNetwork(0);
  console.log(JSON.stringify({route: 'timers', afterLeaving, afterRushing: page.intervals()}));
  process.exit(0);
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
