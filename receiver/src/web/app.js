// The receiver's web page: a client of the JSON API under /api/0/.
//
// Plain browser JavaScript, no build step and nothing loaded from elsewhere.
// Everything shown comes from events that any holder of a DSN can send, so
// it is untrusted: the DOM is built with createElement and textContent only
// (see `h` below), never from HTML strings, and links are only ever the
// page's own `#/…` routes.
//
// The API token comes from the URL fragment (`/ui/#token=…`, never sent to
// the server), is kept in sessionStorage (or localStorage when the user asks
// for it), and is removed from the address bar at once.
'use strict';

(function () {
  const TOKEN_KEY = 'receiver.token';
  const PROJECT_KEY = 'receiver.project';
  const AUTO_KEY = 'receiver.autorefresh';
  const main = document.getElementById('main');

  const state = {
    token: null,
    projects: [],
    project: '-1',
    scope: null, // the token's: 'read' hides what it may not change
    generation: 0, // bumped on every navigation; stale async work checks it
    timers: [],
  };

  // ---------------------------------------------------------------- DOM

  // h('div', {class: 'x', onclick: f}, 'text', child, [more]) — text is
  // always a text node. Attribute values are set with setAttribute, event
  // handlers with addEventListener; `href` must be one of our routes.
  function h(tag, attrs) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const key of Object.keys(attrs)) {
        const value = attrs[key];
        if (value === null || value === undefined || value === false) continue;
        if (key.startsWith('on')) {
          if (typeof value !== 'function') throw new Error('h: handler ' + key + ' must be a function');
          el.addEventListener(key.slice(2), value);
        } else if (key === 'class') {
          el.className = value;
        } else if (key === 'href') {
          const s = String(value);
          if (s.startsWith('#')) el.setAttribute('href', s);
        } else if (key === 'value') {
          el.value = String(value);
        } else if (key === 'checked' || key === 'open' || key === 'disabled' || key === 'selected') {
          el[key] = Boolean(value);
        } else if (key === 'style' || key === 'src' || key === 'srcdoc' || /html$/i.test(key)) {
          // Markup and inline styles never come from here (CSP forbids the
          // latter anyway); element.style.x is set directly where needed.
          throw new Error('h: refusing attribute ' + key);
        } else {
          el.setAttribute(key, value === true ? '' : String(value));
        }
      }
    }
    for (let i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  function append(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) {
      for (const c of child) append(el, c);
    } else if (child instanceof Node) {
      el.appendChild(child);
    } else {
      el.appendChild(document.createTextNode(String(child)));
    }
  }

  function setView(generation, node) {
    if (generation !== state.generation) return false;
    main.replaceChildren(node);
    return true;
  }

  function section(title, body, extra) {
    return h('section', {class: 'card'}, h('h2', null, title, extra || null), body);
  }

  function kvTable(obj) {
    const rows = [];
    for (const key of Object.keys(obj || {}).sort()) {
      rows.push(h('tr', null, h('th', null, key), h('td', null, valueNode(obj[key]))));
    }
    if (!rows.length) return h('p', {class: 'muted'}, 'empty');
    return h('table', {class: 'kv'}, h('tbody', null, rows));
  }

  function valueNode(v) {
    if (v === null || v === undefined) return h('span', {class: 'muted'}, 'null');
    if (typeof v === 'object') return h('pre', {class: 'json'}, JSON.stringify(v, null, 2));
    return String(v);
  }

  function badge(text, kind) {
    return h('span', {class: 'badge ' + (kind || '')}, text);
  }

  function levelBadge(level) {
    const l = String(level || 'error');
    return h('span', {class: 'level level-' + l.replace(/[^a-z]/g, ''), title: l}, l);
  }

  // Times: lists say how long ago (`time`), logs and breadcrumbs the
  // clock time to the millisecond (`stamp`), both in the browser's time
  // zone, which each says (a column header, a tooltip with UTC too).
  function time(iso) {
    if (!iso) return h('span', {class: 'muted'}, '—');
    return h('time', {datetime: iso, title: fullTime(iso)}, ago(iso));
  }

  function stamp(iso) {
    if (!iso) return h('span', {class: 'muted'}, '—');
    return h('time', {datetime: String(iso), title: fullTime(iso), class: 'mono'}, clock(iso));
  }

  // The browser's offset from UTC: 'UTC+01:00'.
  function zone(date) {
    const off = -(date || new Date()).getTimezoneOffset();
    const p = (n) => String(Math.floor(Math.abs(n))).padStart(2, '0');
    return 'UTC' + (off < 0 ? '-' : '+') + p(off / 60) + ':' + p(off % 60);
  }

  // A time in full, local then UTC: '2026-11-29 18:40:52.123 UTC+01:00 ·
  // 2026-11-29T17:40:52.123Z'.
  function fullTime(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return day(d) + ' ' + clockOf(d) + ' ' + zone(d) + ' · ' + d.toISOString();
  }

  function day(d) {
    const p = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate());
  }

  function clockOf(d) {
    const p = (n, w) => String(n).padStart(w || 2, '0');
    return p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds()) + '.' + p(d.getMilliseconds(), 3);
  }

  function ago(iso) {
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return String(iso);
    const s = Math.round((Date.now() - t) / 1000);
    // A time ahead (a monitor's next run): 'in 5m'.
    if (s < 0) return 'in ' + elapsed(-s);
    return elapsed(s) + ' ago';
  }

  // Seconds as the largest whole unit: '5m'.
  function elapsed(s) {
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm';
    if (s < 86400) return Math.floor(s / 3600) + 'h';
    return Math.floor(s / 86400) + 'd';
  }

  // Local clock time to the millisecond, with the day when not today.
  function clock(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    const today = day(new Date()) === day(d);
    return (today ? '' : day(d) + ' ') + clockOf(d);
  }

  function ms(v) {
    if (v === null || v === undefined || Number.isNaN(Number(v))) return '—';
    const n = Number(v);
    if (n >= 1000) return (n / 1000).toFixed(2) + ' s';
    if (n >= 10) return n.toFixed(1) + ' ms';
    return n.toFixed(2) + ' ms';
  }

  function percent(v) {
    if (v === null || v === undefined) return '—';
    return (Number(v) * 100).toFixed(2) + ' %';
  }

  function loading() {
    return h('p', {class: 'muted loading'}, 'Loading…');
  }

  function errorBox(err) {
    return h('div', {class: 'error'}, h('strong', null, 'Error: '), err && err.message ? err.message : String(err));
  }

  // Runs `fn` every `msDelay` ms while the view of `generation` is shown. A
  // view starts its timer after its first request; if the user has moved on
  // by then, the timer never starts (render() stops only those it knows).
  function every(generation, msDelay, fn) {
    if (generation !== state.generation) return;
    const id = setInterval(fn, msDelay);
    state.timers.push(id);
  }

  // ---------------------------------------------------------------- routes

  // What the address may name: anything else is "No such page", never a
  // path segment of an API request (`..` would climb out of it).
  const ISSUE_ID = /^(?:\d+|[A-Za-z0-9][A-Za-z0-9_.-]*-[A-Za-z0-9]+)$/;
  const EVENT_REF = /^(?:latest|oldest|recommended|[0-9a-fA-F]{32}|[0-9a-fA-F-]{36})$/;
  const TRACE_ID = /^[0-9a-fA-F]{32}$/;
  const HEX_ID = /^[0-9a-fA-F]{8,32}$/;

  function route() {
    const raw = location.hash.replace(/^#/, '') || '/issues';
    const q = raw.indexOf('?');
    const path = q >= 0 ? raw.slice(0, q) : raw;
    const params = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
    const segs = path.split('/').filter(Boolean).map(safeDecode);
    return {segs, params};
  }

  function safeDecode(s) {
    try {
      return decodeURIComponent(s);
    } catch (_) {
      return s;
    }
  }

  function link(path, params) {
    const qs = params ? paramString(params) : '';
    return '#' + path + (qs ? '?' + qs : '');
  }

  function paramString(params) {
    const out = new URLSearchParams();
    for (const key of Object.keys(params)) {
      const v = params[key];
      if (v === null || v === undefined || v === '') continue;
      out.set(key, String(v));
    }
    return out.toString();
  }

  function enc(s) {
    return encodeURIComponent(String(s));
  }

  // ---------------------------------------------------------------- token

  function takeTokenFromFragment() {
    const hash = location.hash;
    const m = /(?:^#|[?&#])token=([^&]*)/.exec(hash);
    if (!m) return;
    const token = safeDecode(m[1]).trim();
    // The same separators as the match above (`#/issues#token=…` too), so
    // that the token found is the one removed.
    let rest = hash.replace(/(^#|[?&#])token=[^&]*&?/, '$1').replace(/[?&#]$/, '');
    // A `#` left after the route (`#/issues#level=error`) starts the page's
    // parameters.
    const inner = rest.indexOf('#', 1);
    if (inner > 0) {
      const joiner = rest.lastIndexOf('?', inner) > 0 ? '&' : '?';
      rest = rest.slice(0, inner) + joiner + rest.slice(inner + 1);
    }
    // What is left must be a page of ours (`#token=…&x=1` leaves `#x=1`).
    if (!rest.startsWith('#/')) rest = '#/issues';
    history.replaceState(null, '', location.pathname + location.search + rest);
    if (token) saveToken(token, false);
  }

  function loadToken() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || localStorage.getItem(TOKEN_KEY) || null;
    } catch (_) {
      return state.token;
    }
  }

  function saveToken(token, remember) {
    state.token = token;
    try {
      sessionStorage.setItem(TOKEN_KEY, token);
      if (remember) localStorage.setItem(TOKEN_KEY, token);
    } catch (_) {
      // Storage disabled: the token lives as long as the page.
    }
  }

  // Offers to keep a token that this tab alone keeps (from the "Web UI:"
  // link or the login form without "remember"): a link opened in a new
  // tab asked for it again.
  function updateRemember() {
    const button = document.getElementById('remember');
    if (!button) return;
    let kept = true;
    try {
      kept = !!state.token && localStorage.getItem(TOKEN_KEY) === state.token;
    } catch (_) {
      // Storage disabled: nothing to offer.
    }
    button.hidden = !state.token || kept;
  }

  function forgetToken() {
    state.token = null;
    try {
      sessionStorage.removeItem(TOKEN_KEY);
      localStorage.removeItem(TOKEN_KEY);
    } catch (_) {
      // nothing stored
    }
  }

  // Forgets a token the receiver refused, only where it is stored, and
  // takes a different stored one if there is one (returns whether).
  function dropToken(failed) {
    state.token = null;
    try {
      if (sessionStorage.getItem(TOKEN_KEY) === failed) sessionStorage.removeItem(TOKEN_KEY);
      if (localStorage.getItem(TOKEN_KEY) === failed) localStorage.removeItem(TOKEN_KEY);
    } catch (_) {
      return false;
    }
    const other = loadToken();
    if (other && other !== failed) {
      state.token = other;
      return true;
    }
    return false;
  }

  class AuthError extends Error {}

  function showLogin(message) {
    stopTimers();
    state.generation++;
    updateRemember();
    const input = h('input', {type: 'password', name: 'token', autocomplete: 'off', placeholder: '64 hex digits', size: 70, required: true});
    const remember = h('input', {type: 'checkbox', name: 'remember'});
    const status = h('p', {class: 'error-text'}, message || '');
    const form = h('form', {class: 'login', onsubmit: async (e) => {
      e.preventDefault();
      const token = input.value.trim();
      if (!token) return;
      status.textContent = 'Checking…';
      try {
        const res = await fetch('/api/0/', {headers: {Authorization: 'Bearer ' + token}, cache: 'no-store', credentials: 'omit'});
        if (res.status === 401) {
          status.textContent = 'The receiver does not know this token.';
          return;
        }
        saveToken(token, remember.checked);
        await loadProjects();
        render();
      } catch (err) {
        status.textContent = 'Cannot reach the receiver: ' + err.message;
      }
    }},
    h('h2', null, 'API token'),
    h('p', null, 'Open the "Web UI:" address that ', h('code', null, 'receiver serve'),
      ' prints (its token is valid until that process exits), or paste any API token: ',
      h('code', null, 'receiver tokens create'), ' makes one (', h('code', null, '--scope read'),
      ' for a page that cannot change issues).'),
    h('p', null, input),
    h('p', null, h('label', null, remember, ' remember in this browser (localStorage; otherwise this tab only)')),
    h('p', null, h('button', {type: 'submit'}, 'Use token')),
    status);
    main.replaceChildren(form);
    input.focus();
  }

  // ---------------------------------------------------------------- API

  async function api(path, options) {
    const opts = options || {};
    if (!state.token) throw new AuthError('no token');
    const used = state.token;
    const headers = {Authorization: 'Bearer ' + used, Accept: 'application/json'};
    let body;
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    const res = await fetch(path, {method: opts.method || 'GET', headers, body, cache: 'no-store', credentials: 'omit'});
    if (res.status === 401) {
      // Another token remembered in this browser is tried once: an old
      // "Web UI:" address from the history must not log the user out.
      // (Requests in flight together: the first to fail switches, the
      // others follow it.)
      if ((state.token && state.token !== used) || dropToken(used)) return api(path, options);
      showLogin('The receiver refused the token (a "Web UI:" token dies with its receiver process). Paste a current one.');
      throw new AuthError('unauthorised');
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (_) {
        data = text;
      }
    }
    if (!res.ok) {
      const detail = data && data.detail ? data.detail : res.status + ' ' + res.statusText;
      throw new Error(detail);
    }
    return {data, headers: res.headers, status: res.status};
  }

  function apiPath(path, params) {
    const qs = paramString(params || {});
    return path + (qs ? '?' + qs : '');
  }

  // Sentry Link header: `<url>; rel="next"; results="true"; cursor="…"`.
  function parseLinks(header) {
    const out = {};
    if (!header) return out;
    for (const part of header.split(/,\s*(?=<)/)) {
      const rel = /rel="([^"]*)"/.exec(part);
      const results = /results="([^"]*)"/.exec(part);
      const cursor = /cursor="([^"]*)"/.exec(part);
      if (rel && cursor) out[rel[1]] = {cursor: cursor[1], results: !!results && results[1] === 'true'};
    }
    return out;
  }

  function pager(links, onCursor, cursor) {
    const prev = links.previous;
    const next = links.next;
    return h('div', {class: 'pager'},
      h('button', {type: 'button', disabled: !cursor, onclick: () => onCursor('')}, '⇤ First'),
      h('button', {type: 'button', disabled: !(prev && prev.results), onclick: () => onCursor(prev.cursor)}, '← Newer'),
      h('button', {type: 'button', disabled: !(next && next.results), onclick: () => onCursor(next.cursor)}, 'Older →'));
  }

  // Whether the token may change things (a `read` token may not).
  function canWrite() {
    return state.scope !== 'read';
  }

  function projectParam() {
    return state.project && state.project !== '-1' ? state.project : '';
  }

  async function loadProjects() {
    const select = document.getElementById('project');
    try {
      const [root, {data}] = await Promise.all([api('/api/0/'), api('/api/0/projects/')]);
      state.scope = root.data && root.data.auth ? root.data.auth.scope : null;
      state.projects = Array.isArray(data) ? data : [];
    } catch (err) {
      if (err instanceof AuthError) throw err;
      state.projects = [];
    }
    const options = [h('option', {value: '-1'}, 'all')];
    for (const p of state.projects) {
      options.push(h('option', {value: p.id}, p.name + ' (' + p.id + ')'));
    }
    select.replaceChildren(...options);
    if (!state.projects.some((p) => String(p.id) === state.project)) state.project = '-1';
    select.value = state.project;
  }

  // A project's name as the picker shows it, by id (the id when unknown).
  function projectName(id) {
    const p = (state.projects || []).find((x) => String(x.id) === String(id));
    return p ? String(p.name || p.slug || id) : 'project ' + id;
  }

  // ---------------------------------------------------------------- render

  function stopTimers() {
    for (const id of state.timers) clearInterval(id);
    state.timers = [];
  }

  async function render() {
    stopTimers();
    updateRemember();
    const generation = ++state.generation;
    if (!state.token) {
      showLogin('');
      return;
    }
    const {segs, params} = route();
    const view = segs[0] || 'issues';
    for (const a of document.querySelectorAll('#nav a')) {
      a.classList.toggle('active', a.getAttribute('data-view') === view
        || (view === 'traces' && a.getAttribute('data-view') === 'transactions')
        || (view === 'profilers' && a.getAttribute('data-view') === 'profiles'));
    }
    main.replaceChildren(loading());
    try {
      if (view === 'issues' && segs.length === 1) await issueList(generation, params);
      else if (view === 'issues' && ISSUE_ID.test(segs[1]) && segs[2] === 'events' && !segs[3]) await issueEvents(generation, segs[1], params);
      else if (view === 'issues' && ISSUE_ID.test(segs[1]) && (!segs[3] || EVENT_REF.test(segs[3]))) await issueDetail(generation, segs[1], segs[3] || 'latest');
      else if (view === 'transactions') await transactionList(generation, params);
      else if (view === 'spans') await spanList(generation, params);
      else if (view === 'profiles' && segs.length === 1) await profileList(generation, params);
      else if (view === 'profiles' && HEX_ID.test(segs[1] || '')) await profileView(generation, segs[1], params);
      else if (view === 'profilers' && HEX_ID.test(segs[1] || '')) await profilerView(generation, segs[1], params);
      else if (view === 'monitors') await monitorsView(generation, params);
      // A trace by its first 8 or more digits, as the tables show it.
      else if (view === 'traces' && HEX_ID.test(segs[1] || '')) await traceView(generation, segs[1], params);
      else if (view === 'releases') await releasesView(generation, params);
      else if (view === 'client-reports') await clientReportsView(generation, params);
      else if (view === 'feedback') await feedbackView(generation, params);
      else if (view === 'logs') await logsView(generation, params);
      else if (view === 'metrics') await metricsView(generation, params);
      else if (view === 'quotas') await quotasView(generation);
      else if (view === 'grouping') await groupingRulesView(generation);
      else if (view === 'live') await liveView(generation, params);
      else setView(generation, h('p', null, 'No such page. ', h('a', {href: '#/issues'}, 'Issues')));
    } catch (err) {
      if (err instanceof AuthError) return;
      setView(generation, errorBox(err));
    }
  }

  // ---------------------------------------------------------------- issues

  const LEVELS = ['fatal', 'error', 'warning', 'info', 'debug'];
  const STATUS_TERM = /(?:^|\s)!?is:(?:resolved|unresolved|ignored|muted|archived)(?:\s|$)/i;
  const SORTS = [['date', 'last seen'], ['new', 'first seen'], ['freq', 'events'], ['user', 'users']];

  // A select showing `value` even when it is none of `options` (a value
  // typed into the address), so that Apply keeps it.
  function select(name, value, options) {
    const all = value && !options.some(([v]) => v === value) ? [[value, value]].concat(options) : options;
    const el = h('select', {name, 'aria-label': name.replace(/_/g, ' ')},
      all.map(([v, label]) => h('option', {value: v, selected: v === value}, label)));
    return el;
  }

  // The issue list's status menu; an `is:resolved` (unresolved, ignored)
  // in the search decides the status, and the menu says so rather than
  // showing a status it does not apply.
  function statusSelect(f) {
    if (!STATUS_TERM.test(f.query)) {
      return select('status', f.status, [['unresolved', 'unresolved'], ['resolved', 'resolved'], ['ignored', 'ignored'], ['all', 'any status']]);
    }
    const decided = select('status', '', [['', 'status: as searched']]);
    decided.disabled = true;
    decided.title = 'The search\'s is: term chooses the status';
    return decided;
  }

  async function issueList(generation, params) {
    const f = {
      query: params.get('query') || '',
      status: params.get('status') || 'unresolved',
      level: params.get('level') || '',
      environment: params.get('environment') || '',
      release: params.get('release') || '',
      sort: params.get('sort') || 'date',
      limit: params.get('limit') || '25',
      cursor: params.get('cursor') || '',
    };
    const go = (changes) => {
      location.hash = link('/issues', Object.assign({}, f, {cursor: ''}, changes));
    };
    const form = h('form', {class: 'filters', onsubmit: (e) => {
      e.preventDefault();
      const data = new FormData(e.target);
      const next = {};
      for (const k of ['query', 'status', 'level', 'environment', 'release', 'sort', 'limit']) next[k] = String(data.get(k) || '').trim();
      go(next);
    }},
    h('input', {name: 'query', 'aria-label': 'search', type: 'search', value: f.query, placeholder: 'search: text, is:regressed, level:error, assigned:none…', class: 'grow'}),
    statusSelect(f),
    select('level', f.level, [['', 'any level']].concat(LEVELS.map((l) => [l, l]))),
    h('input', {name: 'environment', 'aria-label': 'environment', value: f.environment, placeholder: 'environment', size: 12}),
    h('input', {name: 'release', 'aria-label': 'release', value: f.release, placeholder: 'release', size: 14}),
    select('sort', f.sort, SORTS.map(([v, l]) => [v, 'sort: ' + l])),
    select('limit', f.limit, [['25', '25'], ['50', '50'], ['100', '100']]),
    h('button', {type: 'submit'}, 'Apply'));

    const autoBox = h('input', {type: 'checkbox', checked: sessionGet(AUTO_KEY) === '1'});
    const tableHolder = h('div', null, loading());
    // Issues ticked for a merge (ids), kept across auto-refreshes.
    const selected = new Set();
    const mergeButton = h('button', {type: 'button', disabled: true, onclick: async () => {
      const ids = Array.from(selected);
      if (ids.length < 2) return;
      mergeButton.disabled = true;
      mergeStatus.textContent = 'Merging…';
      try {
        const query = ids.map((id) => 'id=' + enc(id)).join('&');
        const answer = (await api('/api/0/organizations/local/issues/?' + query, {method: 'PUT', body: {merge: true}})).data;
        selected.clear();
        const parent = answer && answer.merge && answer.merge.parent;
        if (parent) location.hash = '#/issues/' + enc(parent);
      } catch (err) {
        mergeButton.disabled = false;
        if (!(err instanceof AuthError)) mergeStatus.textContent = err.message;
      }
    }}, 'Merge selected');
    const mergeStatus = h('span', {class: 'muted'});
    const mergeBar = () => canWrite()
      ? h('div', {class: 'merge-bar'}, mergeButton, ' ', mergeStatus)
      : null;
    const updateBar = () => {
      mergeButton.disabled = selected.size < 2;
      mergeButton.textContent = selected.size ? 'Merge selected (' + selected.size + ')' : 'Merge selected';
    };
    const info = h('span', {class: 'muted'});
    const view = h('div', null,
      h('div', {class: 'titlebar'}, h('h1', null, 'Issues'), info,
        h('label', {class: 'auto', title: 'Reload the list every 5 s while this tab is visible'}, autoBox, ' auto-refresh')),
      form, tableHolder);

    const load = async () => {
      const q = {
        project: projectParam(),
        query: f.query,
        // An `is:resolved` (or unresolved, ignored) in the search decides
        // the status itself; the select would be added to it.
        status: f.status === 'all' || STATUS_TERM.test(f.query) ? '' : f.status,
        level: f.level,
        environment: f.environment,
        release: f.release,
        sort: f.sort,
        limit: f.limit,
        cursor: f.cursor,
      };
      // `query` is always sent, so the API's `is:unresolved` default does
      // not apply and the status select decides.
      const rest = paramString(Object.assign({}, q, {query: ''}));
      const path = '/api/0/organizations/local/issues/?query=' + enc(f.query) + (rest ? '&' + rest : '');
      const {data, headers} = await api(path);
      if (generation !== state.generation) return;
      const hits = headers.get('X-Hits');
      info.textContent = hits !== null ? hits + ' matching' : '';
      const links = parseLinks(headers.get('Link'));
      const shown = data || [];
      // What is no longer listed (merged, deleted, filtered out) is no
      // longer selected.
      for (const id of Array.from(selected)) {
        if (!shown.some((i) => String(i.id) === id)) selected.delete(id);
      }
      tableHolder.replaceChildren(mergeBar(), issueTable(shown, canWrite() ? selected : null, updateBar),
        pager(links, (c) => { location.hash = link('/issues', Object.assign({}, f, {cursor: c})); }, f.cursor));
      updateBar();
    };
    setView(generation, view);
    try {
      await load();
    } catch (err) {
      if (err instanceof AuthError) throw err;
      tableHolder.replaceChildren(errorBox(err));
    }
    autoBox.addEventListener('change', () => sessionSet(AUTO_KEY, autoBox.checked ? '1' : '0'));
    every(generation, 5000, () => {
      if (autoBox.checked && document.visibilityState === 'visible') load().catch(() => {});
    });
  }

  // The issue list; with `selected` (a Set of ids, admin tokens only), a
  // box per issue to pick issues to merge, `changed` called on each tick.
  // The error's message under an issue's title when the title does not
  // hold it, as Sentry's stream shows it: a message captured with a stack
  // trace (a synthetic exception) is titled by its crash function ("?",
  // "main"), which alone tells issues apart badly.
  function issueValue(i) {
    const value = i.metadata && typeof i.metadata.value === 'string' ? i.metadata.value.trim() : '';
    const line = value.split('\n')[0];
    const title = String(i.title || '');
    if (!line || title.includes(line)) return null;
    // A title cut short ("Type: the start of the value…") holds it too.
    const stem = title.endsWith('…') ? title.slice(0, -1) : '';
    const shown = stem.includes(': ') ? stem.slice(stem.indexOf(': ') + 2) : stem;
    if (shown && line.startsWith(shown)) return null;
    return h('div', {class: 'issue-value'}, line.length > 140 ? line.slice(0, 140) + '…' : line);
  }

  function issueTable(issues, selected, changed) {
    if (!issues.length) return h('p', {class: 'empty'}, 'No issues match. Send an event to the DSN, or change the filters.');
    const pick = (i) => selected
      ? h('td', {class: 'pick'}, h('input', {type: 'checkbox', name: 'pick', value: String(i.id),
        'aria-label': 'select ' + i.shortId, checked: selected.has(String(i.id)),
        onchange: (e) => {
          if (e.target.checked) selected.add(String(i.id)); else selected.delete(String(i.id));
          changed();
        }}))
      : null;
    return h('table', {class: 'list issues'},
      h('thead', null, h('tr', null, selected ? h('th', null, '') : null, h('th', null, 'Issue'), h('th', {class: 'num'}, 'Events'), h('th', {class: 'num'}, 'Users'), h('th', null, 'First seen'), h('th', null, 'Last seen'))),
      h('tbody', null, issues.map((i) => h('tr', null,
        pick(i),
        h('td', null,
          h('div', {class: 'issue-title'}, levelBadge(i.level), ' ', h('a', {href: '#/issues/' + enc(i.id)}, i.title || '(no title)')),
          issueValue(i),
          h('div', {class: 'issue-sub'},
            h('span', {class: 'mono'}, i.shortId), ' ',
            i.culprit ? h('span', {class: 'culprit'}, i.culprit) : null, ' ',
            i.status !== 'unresolved' ? badge(i.status, 'status-' + i.status) : null,
            i.substatus && i.status === 'unresolved' ? badge(i.substatus, 'sub-' + i.substatus) : null,
            state.project === '-1' && i.project ? badge(i.project.slug, 'project') : null)),
        h('td', {class: 'num'}, i.count),
        h('td', {class: 'num'}, i.userCount),
        h('td', null, time(i.firstSeen)),
        h('td', null, time(i.lastSeen))))));
  }

  function sessionGet(key) {
    try {
      return sessionStorage.getItem(key);
    } catch (_) {
      return null;
    }
  }

  function sessionSet(key, value) {
    try {
      sessionStorage.setItem(key, value);
    } catch (_) {
      // ignored
    }
  }

  // ---------------------------------------------------------------- issue

  async function issueDetail(generation, id, which) {
    const [issueRes, eventRes, feedbackRes] = await Promise.all([
      api('/api/0/issues/' + enc(id) + '/'),
      api('/api/0/issues/' + enc(id) + '/events/' + enc(which) + '/').catch((err) => {
        if (err instanceof AuthError) throw err;
        return {error: err};
      }),
      api('/api/0/issues/' + enc(id) + '/user-reports/').catch((err) => {
        if (err instanceof AuthError) throw err;
        return {error: err};
      }),
    ]);
    const issue = issueRes.data;
    const event = eventRes.error ? null : eventRes.data;
    const view = h('div', {class: 'issue'},
      issueHeader(issue),
      h('div', {class: 'columns'},
        h('div', {class: 'main-col'},
          eventRes.error ? errorBox(eventRes.error) : eventSection(issue, event)),
        h('aside', {class: 'side-col'},
          feedbackRes.error ? section('User feedback', errorBox(feedbackRes.error)) : feedbackSection(issue, feedbackRes.data),
          tagBreakdown(issue),
          groupingSection(issue),
          activitySection(issue))));
    setView(generation, view);
    if (event) loadAttachments(generation, event);
  }

  // What users wrote about this issue's events (`feedback` and legacy
  // `user_report` items), newest first; nothing when there is none.
  function feedbackSection(issue, list) {
    const items = Array.isArray(list) ? list : [];
    if (!items.length) return null;
    return section('User feedback (' + items.length + (items.length === 100 ? '+' : '') + ')', h('ul', {class: 'feedback'},
      items.map((f) => h('li', null,
        h('blockquote', null, String(f.comments || '')),
        h('div', {class: 'muted'},
          String(f.name || 'anonymous'), f.email ? ' <' + String(f.email) + '>' : '', ' · ', ago(f.dateCreated),
          f.eventID ? [' · ', h('a', {href: '#/issues/' + enc(issue.id) + '/events/' + enc(f.eventID)}, 'event')] : null)))));
  }

  function issueHeader(issue) {
    const message = h('span', {class: 'error-text'});
    let buttons = [];
    const update = async (body) => {
      // One change at a time: a double click sends one request.
      for (const b of buttons) b.disabled = true;
      message.textContent = 'Saving…';
      try {
        await api('/api/0/issues/' + enc(issue.id) + '/', {method: 'PUT', body});
        render();
      } catch (err) {
        for (const b of buttons) b.disabled = false;
        if (!(err instanceof AuthError)) message.textContent = err.message;
      }
    };
    buttons = !canWrite() ? []
      : issue.status === 'unresolved'
      ? [h('button', {type: 'button', onclick: () => update({status: 'resolved'})}, 'Resolve'),
        h('button', {type: 'button', onclick: () => update({status: 'resolvedInNextRelease'}), title: 'Events of the current latest release and older do not reopen it'}, 'Resolve in next release'),
        h('button', {type: 'button', onclick: () => update({status: 'ignored'})}, 'Ignore')]
      : [h('button', {type: 'button', onclick: () => update({status: 'unresolved'})}, 'Unresolve')];
    const details = issue.statusDetails || {};
    // "In the next release" is stored with the release that was latest
    // then: it is the one after that, not that one.
    const statusText = details.inNextRelease
      ? issue.status + ' in the next release after ' + (details.inRelease || 'the latest')
      : issue.status + (details.inRelease ? ' in ' + details.inRelease : '');
    // Merging: the issue seen most often takes the others in, and is shown.
    const others = h('input', {name: 'merge', placeholder: 'DEFAULT-2, DEFAULT-3', size: 18});
    const mergeForm = !canWrite() ? null : h('form', {class: 'merge', onsubmit: async (e) => {
      e.preventDefault();
      const keys = others.value.split(',').map((k) => k.trim()).filter((k) => k);
      if (!keys.length) return;
      message.textContent = 'Merging…';
      try {
        // The bulk endpoint takes numeric ids: short ids are looked up.
        const ids = [issue.id];
        for (const key of keys) ids.push((await api('/api/0/issues/' + enc(key) + '/')).data.id);
        const query = ids.map((id) => 'id=' + enc(id)).join('&');
        const answer = (await api('/api/0/organizations/local/issues/?' + query, {method: 'PUT', body: {merge: true}})).data;
        const parent = answer && answer.merge && answer.merge.parent;
        if (parent && parent !== String(issue.id)) location.hash = '#/issues/' + enc(parent);
        else render();
      } catch (err) {
        if (!(err instanceof AuthError)) message.textContent = err.message;
      }
    }}, h('label', {title: 'The issue seen most often takes the others in: their events, groupings, users and counts'}, 'Merge with ', others), ' ', h('button', {type: 'submit'}, 'Merge'));
    return h('div', {class: 'card issue-head'},
      h('div', {class: 'crumbs'}, h('a', {href: '#/issues'}, 'Issues'), ' / ', h('span', {class: 'mono'}, issue.shortId)),
      h('h1', null, levelBadge(issue.level), ' ', issue.title || '(no title)'),
      issue.culprit ? h('p', {class: 'culprit'}, issue.culprit) : null,
      h('div', {class: 'actions'}, badge(statusText, 'status-' + issue.status),
        issue.substatus ? badge(issue.substatus, 'sub-' + issue.substatus) : null,
        buttons, mergeForm, canWrite() ? null : h('span', {class: 'muted'}, ' read-only token'), message),
      h('dl', {class: 'stats'},
        stat('Events', h('a', {href: '#/issues/' + enc(issue.id) + '/events', title: 'every event of this issue'}, String(issue.count))),
        stat('Users', issue.userCount),
        stat('First seen', time(issue.firstSeen)),
        stat('Last seen', time(issue.lastSeen)),
        stat('First release', issue.firstRelease ? issue.firstRelease.version : '—'),
        stat('Last release', issue.lastRelease ? issue.lastRelease.version : '—'),
        stat('Environments', (issue.environments || []).join(', ') || '—'),
        stat('Project', issue.project ? issue.project.name : '—'),
        issue.assignedTo ? stat('Assigned', issue.assignedTo.name) : null));
  }

  // An issue's events, newest first, 50 a page, filtered by environment
  // and level: each opens on the issue's page.
  async function issueEvents(generation, id, params) {
    const f = readFilters(params, ['environment', 'level'], {});
    const base = '/issues/' + enc(id) + '/events';
    const [{data: issue}, {data, headers}] = await Promise.all([
      api('/api/0/issues/' + enc(id) + '/'),
      api(apiPath('/api/0/issues/' + enc(id) + '/events/', {environment: f.environment, level: f.level, cursor: f.cursor, limit: 50}))]);
    const i = issue || {};
    const rows = Array.isArray(data) ? data : [];
    const form = filterForm(base, ['environment', 'level'],
      h('input', {name: 'environment', 'aria-label': 'environment', value: f.environment, placeholder: 'environment', size: 12}),
      select('level', f.level, [['', 'any level']].concat(LEVELS.map((l) => [l, l]))),
      h('button', {type: 'submit'}, 'Apply'));
    const tag = (e, key) => {
      const t = (e.tags || []).find((x) => x.key === key);
      return t ? String(t.value) : '';
    };
    const who = (e) => {
      const u = e.user && typeof e.user === 'object' ? e.user : {};
      return String(u.email || u.username || u.id || u.ip_address || '');
    };
    const table = rows.length
      ? h('table', {class: 'list'},
        h('thead', null, h('tr', null, h('th', null, 'Event'), h('th', null, 'Message'), h('th', null, 'Release'),
          h('th', null, 'Environment'), h('th', null, 'User'), h('th', null, 'When'))),
        h('tbody', null, rows.map((e) => h('tr', null,
          h('td', null, levelBadge(e.level), ' ', h('a', {href: '#/issues/' + enc(i.id || id) + '/events/' + enc(e.eventID)}, h('code', null, String(e.eventID).slice(0, 8)))),
          h('td', {class: 'wrap'}, String(e.message || e.title || '')),
          h('td', null, tag(e, 'release')),
          h('td', null, tag(e, 'environment')),
          h('td', {class: 'wrap'}, who(e)),
          h('td', null, time(e.dateCreated))))))
      : h('p', {class: 'empty'}, 'No events of this issue match these filters.');
    const links = parseLinks(headers.get('Link'));
    setView(generation, h('div', null,
      h('div', {class: 'crumbs'}, h('a', {href: '#/issues'}, 'Issues'), ' / ',
        h('a', {href: '#/issues/' + enc(i.id || id)}, h('span', {class: 'mono'}, String(i.shortId || id))), ' / events'),
      h('h1', null, levelBadge(i.level), ' ', String(i.title || '(no title)')),
      h('p', {class: 'muted'}, String(i.count || 0) + ' events in all, newest first'),
      form, table,
      pager(links, (c) => { location.hash = link(base, Object.assign({}, f, {cursor: c})); }, f.cursor)));
  }

  function stat(label, value) {
    return h('div', null, h('dt', null, label), h('dd', null, value));
  }

  function tagBreakdown(issue) {
    const tags = issue.tags || [];
    if (!tags.length) return section('Tags', h('p', {class: 'muted'}, 'no tags'));
    return section('Tags', h('div', {class: 'tags'}, tags.map((t) => h('div', {class: 'tag'},
      h('div', {class: 'tag-key'}, t.key, h('span', {class: 'muted'}, ' ' + t.uniqueValues + ' value' + (t.uniqueValues === 1 ? '' : 's') + (t.sampled ? ' (newest events)' : ''))),
      t.topValues.map((v) => {
        const share = t.totalValues ? v.count / t.totalValues : 0;
        const bar = h('span', {class: 'bar'});
        bar.style.width = (share * 100).toFixed(1) + '%';
        return h('div', {class: 'tag-value', title: v.count + ' of ' + t.totalValues + ' events'},
          h('span', {class: 'bar-track'}, bar),
          h('span', {class: 'tag-name'}, v.value),
          h('span', {class: 'muted num'}, Math.round(share * 100) + '%'));
      })))));
  }

  function groupingSection(issue) {
    const g = issue.grouping || {};
    const hashes = g.hashes || [];
    const ex = g.explanation && typeof g.explanation === 'object' ? g.explanation : null;
    const body = [];
    body.push(h('p', {class: 'muted'}, 'Events join this issue when one of their grouping hashes is one of these.'));
    for (const hash of hashes) {
      body.push(h('div', {class: 'hash'},
        h('div', null, h('code', null, hash.hash), ' ', badge(hash.variant), ' ', badge(hash.component)),
        hash.inputs && hash.inputs.length
          ? h('ol', {class: 'inputs'}, hash.inputs.map((i) => h('li', null, h('code', null, i))))
          : null));
    }
    if (ex) {
      const fp = ex.fingerprint || {};
      body.push(h('p', null, 'Config ', h('code', null, String(ex.config || '?')),
        ', fingerprint ', h('code', null, String(fp.type || 'default')),
        fp.values && fp.values.length ? [' ', h('code', null, JSON.stringify(fp.values))] : null,
        fp.rule ? [' from the project\'s rule ', h('code', null, String(fp.rule))] : null));
      const variants = ex.variants && typeof ex.variants === 'object' ? ex.variants : {};
      for (const name of Object.keys(variants)) {
        const v = variants[name] || {};
        body.push(h('details', {class: 'variant', open: !!v.contributes},
          h('summary', null, h('strong', null, name), ' ',
            v.contributes ? badge('contributes', 'yes') : badge('does not contribute', 'no'),
            v.hash ? [' ', h('code', null, String(v.hash))] : null,
            v.hint ? h('span', {class: 'muted'}, ' — ' + v.hint) : null),
          v.component ? componentTree(v.component) : (v.values ? valueNode(v.values) : null)));
      }
    } else if (g.explanation !== undefined && g.explanation !== null) {
      body.push(valueNode(g.explanation));
    }
    return section('Why grouped', body);
  }

  // {id, contributes, hint?, values: [node | string]}
  function componentTree(node) {
    if (node === null || typeof node !== 'object') return h('code', null, String(node));
    const values = Array.isArray(node.values) ? node.values : [];
    const leafs = values.filter((v) => v === null || typeof v !== 'object');
    const kids = values.filter((v) => v !== null && typeof v === 'object');
    // Runs of children that do not contribute fold into one closed line:
    // a 150-frame recursion listed every frame it ignored, open, making
    // the section tens of thousands of pixels tall.
    const shown = [];
    for (let i = 0; i < kids.length;) {
      let j = i;
      while (j < kids.length && node.contributes && !kids[j].contributes) j++;
      if (j - i >= 3) {
        const hints = Array.from(new Set(kids.slice(i, j).map((k) => k.hint).filter((x) => x)));
        shown.push(h('details', {class: 'folded'},
          h('summary', {class: 'muted'}, (j - i) + ' ' + String(kids[i].id || 'value') + 's that do not contribute',
            hints.length === 1 ? ' (' + hints[0] + ')' : ''),
          kids.slice(i, j).map(componentTree)));
        i = j;
      } else {
        shown.push(componentTree(kids[i]));
        i += 1;
      }
    }
    return h('ul', {class: 'component ' + (node.contributes ? 'yes' : 'no')},
      h('li', null,
        h('span', {class: 'cid'}, String(node.id || '?')),
        leafs.map((l) => [' ', h('code', null, String(l))]),
        node.hint ? h('span', {class: 'hint'}, ' (' + node.hint + ')') : null,
        shown));
  }

  function activitySection(issue) {
    const items = issue.activity || [];
    if (!items.length) return null;
    return section('Activity', h('ul', {class: 'activity'}, items.map((a) => h('li', null,
      activityText(issue, a), ' ', h('span', {class: 'muted'}, time(a.dateCreated))))));
  }

  // What an activity entry says, in words (its data as JSON for a kind
  // this page does not know).
  function activityText(issue, a) {
    // A status set by the store itself keeps its release as plain text.
    const d = typeof a.data === 'string' ? {version: a.data}
      : a.data && typeof a.data === 'object' ? a.data : {};
    const code = (v) => h('code', null, String(v));
    switch (a.type) {
      case 'set_resolved':
        return [h('strong', null, 'Resolved'), d.reason ? ' (' + String(d.reason) + (d.monitor ? ', monitor ' + String(d.monitor) : '') + ')' : null];
      case 'set_resolved_in_release':
        return [h('strong', null, 'Resolved in release '), d.version ? code(d.version) : null];
      case 'set_resolved_in_next_release':
        return [h('strong', null, 'Resolved in the next release'), d.version ? [' after ', code(d.version)] : null];
      case 'set_unresolved': return h('strong', null, 'Reopened');
      case 'set_ignored': return h('strong', null, 'Ignored');
      case 'regression':
        return [h('strong', null, 'Regression'), ': ',
          d.event_id ? h('a', {href: '#/issues/' + enc(issue.id) + '/events/' + enc(d.event_id)}, 'an event') : 'an event',
          d.release ? [' of release ', code(d.release)] : null, ' reopened it'];
      case 'merge': {
        const n = Array.isArray(d.issues) ? d.issues.length : 0;
        return [h('strong', null, 'Merged'), ' ' + n + ' issue' + (n === 1 ? '' : 's') + ' into this one'];
      }
      case 'assigned': return [h('strong', null, 'Assigned'), ' to ', String(d.assignee || '')];
      case 'unassigned': return h('strong', null, 'Unassigned');
      default:
        return [h('strong', null, String(a.type)),
          Object.keys(d).length ? h('div', {class: 'muted'}, JSON.stringify(d)) : null];
    }
  }

  // ---------------------------------------------------------------- event

  function eventSection(issue, ev) {
    const base = '#/issues/' + enc(issue.id) + '/events/';
    const nav = h('div', {class: 'event-nav'},
      navLink('⇤ Oldest', base + 'oldest', ev.previousEventID),
      navLink('← Older', ev.previousEventID ? base + enc(ev.previousEventID) : null, true),
      navLink('Newer →', ev.nextEventID ? base + enc(ev.nextEventID) : null, true),
      navLink('Latest ⇥', base + 'latest', ev.nextEventID));
    const trace = ev.contexts && ev.contexts.trace && ev.contexts.trace.trace_id;
    // A failing cron monitor's occurrence links to its monitor.
    const monitor = ev.type === 'generic' && ev.contexts && ev.contexts.monitor && ev.contexts.monitor.slug;
    const raw = h('div', {class: 'raw'});
    // `raw=1`: the event as normalised; `sent=1`: as the SDK sent it.
    let shown = null;
    const jsonButton = (flag, label) => h('button', {type: 'button', class: 'quiet', onclick: async () => {
      if (shown === flag) {
        shown = null;
        raw.replaceChildren();
        return;
      }
      shown = flag;
      raw.replaceChildren(loading());
      try {
        const {data} = await api('/api/0/projects/local/' + enc(ev.projectID) + '/events/' + enc(ev.eventID) + '/?' + flag + '=1');
        if (shown === flag) raw.replaceChildren(h('pre', {class: 'json'}, JSON.stringify(data, null, 2)));
      } catch (err) {
        if (!(err instanceof AuthError)) raw.replaceChildren(errorBox(err));
      }
    }}, label);
    const rawButton = [jsonButton('raw', 'Stored JSON'), ' ', jsonButton('sent', 'As sent')];
    return h('div', {class: 'event'},
      h('div', {class: 'card event-head'},
        nav,
        h('div', null, 'Event ', h('code', null, ev.eventID), ' · ', time(ev.dateCreated),
          ev.release ? [' · release ', h('code', null, ev.release.version || String(ev.release))] : null,
          ev.environment ? [' · ', h('code', null, ev.environment)] : null,
          TRACE_ID.test(String(trace || '')) ? [' · ', h('a', {href: '#/traces/' + enc(trace)}, 'trace')] : null,
          monitor ? [' · ', h('a', {href: link('/monitors', {monitor: String(monitor), project: String(ev.projectID)})}, 'cron monitor')] : null,
          ' ', rawButton),
        raw),
      tagsSection(ev),
      entries(ev),
      contextSection(ev),
      h('div', {class: 'attachments'}),
      extraSections(ev));
  }

  function navLink(label, href, enabled) {
    if (!href || !enabled) return h('span', {class: 'disabled'}, label);
    return h('a', {href, class: 'button'}, label);
  }

  function tagsSection(ev) {
    const tags = Array.isArray(ev.tags) ? ev.tags : [];
    if (!tags.length) return null;
    return section('Tags', h('div', {class: 'chips'}, tags.map((t) => h('span', {class: 'chip'},
      h('span', {class: 'chip-key'}, String(t.key)), h('span', {class: 'chip-value'}, String(t.value))))));
  }

  function entries(ev) {
    const out = [];
    for (const entry of ev.entries || []) {
      const data = entry.data || {};
      if (entry.type === 'message') {
        out.push(section('Message', h('pre', {class: 'message'}, String(data.formatted || data.message || ''))));
      } else if (entry.type === 'exception') {
        out.push(exceptionSection(data.values || []));
      } else if (entry.type === 'threads') {
        out.push(threadsSection(data.values || []));
      } else if (entry.type === 'stacktrace') {
        out.push(section('Stack trace', stacktrace(data)));
      } else if (entry.type === 'breadcrumbs') {
        out.push(breadcrumbsSection(data.values || []));
      } else if (entry.type === 'request') {
        out.push(requestSection(data));
      } else if (entry.type === 'spans' || entry.type === 'debugmeta') {
        out.push(section(entry.type === 'spans' ? 'Spans' : 'Debug meta', h('details', null, h('summary', null, 'show'), valueNode(data))));
      }
    }
    return out;
  }

  function exceptionSection(values) {
    const newestFirst = sessionGet('receiver.newestFirst') !== '0';
    const ordered = newestFirst ? values.slice().reverse() : values.slice();
    const toggle = h('label', {class: 'small'}, h('input', {type: 'checkbox', checked: newestFirst, onchange: (e) => {
      sessionSet('receiver.newestFirst', e.target.checked ? '1' : '0');
      render();
    }}), ' most recent first');
    const blocks = [];
    ordered.forEach((exc, i) => {
      if (i > 0) {
        blocks.push(h('p', {class: 'chain muted'}, newestFirst
          ? '↑ was caused by ↓'
          : '↓ the exception above caused'));
      }
      const mech = exc.mechanism || {};
      blocks.push(h('div', {class: 'exception'},
        h('h3', null, h('span', {class: 'exc-type'}, String(exc.type || 'Error')),
          exc.module ? h('span', {class: 'muted'}, ' (' + exc.module + ')') : null),
        exc.value !== undefined && exc.value !== null ? h('pre', {class: 'exc-value'}, String(exc.value)) : null,
        h('div', {class: 'badges'},
          mech.type ? badge('mechanism: ' + mech.type) : null,
          mech.handled === false ? badge('unhandled', 'no') : (mech.handled === true ? badge('handled', 'yes') : null)),
        exc.stacktrace ? stacktrace(exc.stacktrace, newestFirst) : h('p', {class: 'muted'}, 'no stack trace')));
    });
    return section(values.length > 1 ? 'Exceptions (' + values.length + ', chained)' : 'Exception', blocks, toggle);
  }

  function threadsSection(values) {
    const blocks = values.filter((t) => t && t.stacktrace).map((t) => h('details', {class: 'thread', open: !!(t.crashed || t.current)},
      h('summary', null, 'Thread ', String(t.name || (t.id !== null && t.id !== undefined ? t.id : '?')), t.crashed ? ' ' : null, t.crashed ? badge('crashed', 'no') : null, t.current ? ' ' : null, t.current ? badge('current') : null),
      stacktrace(t.stacktrace)));
    if (!blocks.length) return null;
    return section('Threads', blocks);
  }

  // Frames arrive oldest first. In-app frames are highlighted; runs of
  // other frames fold into a closed <details> (only when some frame is
  // in-app: otherwise all are shown).
  function stacktrace(st, newestFirst) {
    const frames = Array.isArray(st && st.frames) ? st.frames.slice() : [];
    if (newestFirst !== false) frames.reverse();
    if (!frames.length) return h('p', {class: 'muted'}, 'no frames');
    const anyInApp = frames.some((f) => f && f.in_app === true);
    const out = [];
    let run = [];
    let openedFirst = false;
    const flush = () => {
      if (!run.length) return;
      out.push(h('details', {class: 'system-frames'}, h('summary', null, run.length + ' other frame' + (run.length === 1 ? '' : 's')), run));
      run = [];
    };
    for (const f of frames) {
      if (!f || typeof f !== 'object') continue;
      const inApp = f.in_app === true;
      const expand = !openedFirst && (inApp || !anyInApp);
      if (expand) openedFirst = true;
      const el = frame(f, inApp, expand);
      if (anyInApp && !inApp) {
        run.push(el);
      } else {
        flush();
        out.push(el);
      }
    }
    flush();
    return h('div', {class: 'frames'}, out);
  }

  function frame(f, inApp, expand) {
    const where = f.filename || f.abs_path || f.module || f.package || '?';
    const line = f.lineno !== undefined && f.lineno !== null ? ':' + f.lineno + (f.colno ? ':' + f.colno : '') : '';
    const hasContext = f.context_line !== undefined || (f.pre_context && f.pre_context.length) || (f.vars && Object.keys(f.vars).length);
    const head = [h('span', {class: 'fn'}, String(f.function || '?')), h('span', {class: 'muted'}, ' in '),
      h('span', {class: 'file'}, String(where) + line),
      f.module && f.filename ? h('span', {class: 'muted'}, ' (' + f.module + ')') : null,
      inApp ? badge('in app', 'app') : null];
    if (!hasContext) return h('div', {class: 'frame' + (inApp ? ' in-app' : '')}, h('div', {class: 'frame-head'}, head));
    return h('details', {class: 'frame' + (inApp ? ' in-app' : ''), open: expand},
      h('summary', {class: 'frame-head'}, head),
      contextLines(f),
      f.vars && Object.keys(f.vars).length ? h('div', {class: 'vars'}, h('h4', null, 'Variables'), kvTable(f.vars)) : null);
  }

  function contextLines(f) {
    const pre = Array.isArray(f.pre_context) ? f.pre_context : [];
    const post = Array.isArray(f.post_context) ? f.post_context : [];
    const lineno = typeof f.lineno === 'number' ? f.lineno : null;
    const rows = [];
    const row = (n, text, current) => h('div', {class: 'src' + (current ? ' current' : '')},
      h('span', {class: 'ln'}, n === null ? '' : String(n)), h('span', {class: 'code'}, String(text === null || text === undefined ? '' : text)));
    pre.forEach((t, i) => rows.push(row(lineno === null ? null : lineno - pre.length + i, t, false)));
    if (f.context_line !== undefined && f.context_line !== null) rows.push(row(lineno, f.context_line, true));
    post.forEach((t, i) => rows.push(row(lineno === null ? null : lineno + 1 + i, t, false)));
    if (!rows.length) return null;
    return h('div', {class: 'context'}, rows);
  }

  function breadcrumbsSection(crumbs) {
    if (!crumbs.length) return null;
    return section('Breadcrumbs (' + crumbs.length + ')', h('div', {class: 'scroll'}, h('table', {class: 'list crumbs'},
      h('thead', null, h('tr', null, h('th', null, 'Time (local)'), h('th', null, 'Category'), h('th', null, 'Level'), h('th', null, 'Message'), h('th', null, 'Data'))),
      h('tbody', null, crumbs.slice().reverse().map((c) => h('tr', {class: 'crumb-' + String(c.level || 'info').replace(/[^a-z]/g, '')},
        h('td', null, c.timestamp ? stamp(typeof c.timestamp === 'number' ? c.timestamp * 1000 : c.timestamp) : ''),
        h('td', null, String(c.category || c.type || '')),
        h('td', null, String(c.level || '')),
        h('td', {class: 'msg'}, String(c.message || '')),
        h('td', null, c.data && Object.keys(c.data).length ? h('code', {class: 'data'}, JSON.stringify(c.data)) : '')))))));
  }

  function requestSection(req) {
    const rows = [];
    rows.push(h('p', null, h('strong', null, String(req.method || 'GET')), ' ', h('code', null, String(req.url || ''))));
    const pairs = (v) => {
      if (Array.isArray(v)) {
        const o = {};
        for (const p of v) if (Array.isArray(p) && p.length >= 2) o[String(p[0])] = p[1];
        return o;
      }
      return v && typeof v === 'object' ? v : null;
    };
    for (const [label, key] of [['Query', 'query_string'], ['Headers', 'headers'], ['Cookies', 'cookies'], ['Environment', 'env']]) {
      const v = req[key];
      if (v === undefined || v === null || v === '') continue;
      const obj = pairs(v);
      rows.push(h('h4', null, label), obj ? kvTable(obj) : h('code', null, String(v)));
    }
    if (req.data !== undefined && req.data !== null) rows.push(h('h4', null, 'Body'), valueNode(req.data));
    return section('Request', rows);
  }

  function contextSection(ev) {
    const contexts = ev.contexts && typeof ev.contexts === 'object' ? ev.contexts : {};
    const out = [];
    if (ev.user && typeof ev.user === 'object' && Object.keys(ev.user).length) out.push(section('User', kvTable(ev.user)));
    const keys = Object.keys(contexts);
    if (keys.length) {
      out.push(section('Contexts', h('div', {class: 'contexts'}, keys.sort().map((k) => h('div', {class: 'context-box'},
        h('h4', null, k), contexts[k] && typeof contexts[k] === 'object' ? kvTable(contexts[k]) : valueNode(contexts[k]))))));
    }
    return out;
  }

  function extraSections(ev) {
    const out = [];
    if (ev.extra && typeof ev.extra === 'object' && Object.keys(ev.extra).length) out.push(section('Additional data', kvTable(ev.extra)));
    if (Array.isArray(ev.errors) && ev.errors.length) {
      out.push(section('Processing errors', h('ul', null, ev.errors.map((e) => h('li', null, h('code', null, JSON.stringify(e)))))));
    }
    if (ev.sdk && typeof ev.sdk === 'object') {
      out.push(section('SDK', h('p', null, h('code', null, String(ev.sdk.name || '?') + ' ' + String(ev.sdk.version || '')),
        Array.isArray(ev.sdk.integrations) ? h('span', {class: 'muted'}, ' integrations: ' + ev.sdk.integrations.join(', ')) : null)));
    }
    if (ev.modules && typeof ev.modules === 'object' && Object.keys(ev.modules).length) {
      out.push(section('Packages', h('details', null, h('summary', null, Object.keys(ev.modules).length + ' modules'), kvTable(ev.modules))));
    }
    return out;
  }

  async function loadAttachments(generation, ev) {
    const holder = main.querySelector('.attachments');
    if (!holder || !ev.projectID || !ev.eventID) return;
    let list;
    try {
      list = (await api('/api/0/projects/local/' + enc(ev.projectID) + '/events/' + enc(ev.eventID) + '/attachments/')).data;
    } catch (err) {
      if (err instanceof AuthError || generation !== state.generation) return;
      holder.replaceChildren(section('Attachments', errorBox(new Error('the attachments could not be listed: ' + (err.message || err)))));
      return;
    }
    if (generation !== state.generation || !Array.isArray(list) || !list.length) return;
    holder.replaceChildren(section('Attachments', h('ul', null, list.map((a) => {
      const status = h('span', {class: 'error-text'});
      return h('li', null,
        h('button', {type: 'button', class: 'quiet', onclick: () => download(ev, a, status)}, 'Download'), ' ',
        h('code', null, String(a.name)), h('span', {class: 'muted'}, ' ' + String(a.type || '') + ' · ' + String(a.mimetype || '?') + ' · ' + a.size + ' bytes'),
        status);
    }))));
  }

  // Downloads attachment `a`; says in `status` why when it cannot.
  async function download(ev, a, status) {
    status.textContent = '';
    const failed = (why) => { status.textContent = ' Download failed: ' + why; };
    let res;
    try {
      res = await fetch('/api/0/projects/local/' + enc(ev.projectID) + '/events/' + enc(ev.eventID) + '/attachments/' + enc(a.id) + '/?download=1',
        {headers: {Authorization: 'Bearer ' + state.token}, cache: 'no-store', credentials: 'omit'});
    } catch (err) {
      failed(err && err.message ? err.message : 'the receiver cannot be reached');
      return;
    }
    if (!res.ok) {
      let why = res.status + ' ' + res.statusText;
      try {
        const body = await res.json();
        if (body && body.detail) why = String(body.detail);
      } catch (_) {
        // not JSON: the status says enough
      }
      failed(why);
      return;
    }
    // Always a download (octet-stream), never rendered by the page.
    const blob = new Blob([await res.arrayBuffer()], {type: 'application/octet-stream'});
    const url = URL.createObjectURL(blob);
    const anchor = document.createElement('a');
    anchor.href = url;
    anchor.download = String(a.name || 'attachment').replace(/[\\/]/g, '_');
    document.body.appendChild(anchor);
    anchor.click();
    anchor.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // ---------------------------------------------------------------- transactions

  async function transactionList(generation, params) {
    const keys = ['query', 'op', 'status', 'environment', 'release', 'min_duration', 'sort'];
    const f = readFilters(params, keys, {sort: '-timestamp'});
    const form = filterForm('/transactions', keys,
    h('input', {name: 'query', 'aria-label': 'search', type: 'search', value: f.query, placeholder: 'name contains…', class: 'grow'}),
    h('input', {name: 'op', 'aria-label': 'op', value: f.op, placeholder: 'op', size: 12}),
    h('input', {name: 'status', 'aria-label': 'status', value: f.status, placeholder: 'status', size: 10}),
    h('input', {name: 'environment', 'aria-label': 'environment', value: f.environment, placeholder: 'environment', size: 12}),
    h('input', {name: 'release', 'aria-label': 'release', value: f.release, placeholder: 'release', size: 14}),
    h('input', {name: 'min_duration', 'aria-label': 'minimum duration in ms', value: f.min_duration, placeholder: 'min ms', size: 7, inputmode: 'decimal'}),
    select('sort', f.sort, [['-timestamp', 'newest'], ['timestamp', 'oldest'], ['-duration', 'slowest'], ['duration', 'fastest']]),
    h('button', {type: 'submit'}, 'Apply'));
    const title = h('div', {class: 'titlebar'}, h('h1', null, 'Transactions'));
    const result = await fetchWalked(generation, '/api/0/local/transactions/', f, title, form);
    if (!result) return;
    const {rows, links, scan} = result;
    const longest = longestDuration(rows);
    const table = rows.length
      ? h('table', {class: 'list'},
        h('thead', null, h('tr', null, h('th', null, 'Transaction'), h('th', null, 'Op'), h('th', null, 'Status'), h('th', {class: 'num'}, 'Duration'), h('th', null, 'Release'), h('th', null, 'Environment'), h('th', null, 'Started'))),
        h('tbody', null, rows.map((t) => h('tr', null,
          h('td', null, t.traceID ? h('a', {href: link('/traces/' + enc(t.traceID), {txn: t.eventID})}, String(t.transaction || '(unnamed)')) : String(t.transaction || '(unnamed)')),
          h('td', null, String(t.op || '')),
          h('td', null, String(t.status || '')),
          durationCell(t.duration, longest),
          h('td', null, String(t.release || '')),
          h('td', null, String(t.environment || '')),
          h('td', null, time(t.startTimestamp))))))
      : scan.stopped
        ? h('p', {class: 'empty'}, 'No matching transactions among those searched.')
        : keys.some((k) => k !== 'sort' && f[k])
          ? h('p', {class: 'empty'}, 'No transactions match these filters.')
          : h('p', {class: 'empty'}, 'No transactions. SDKs send them when tracing is on (traces_sample_rate). An SDK that streams its spans sends segments instead: ',
        h('a', {href: link('/spans', {segment: '1'})}, 'see Spans'), '.');
    const goTo = (c) => { location.hash = link('/transactions', Object.assign({}, f, {cursor: c})); };
    setView(generation, h('div', null, title, form, scanNote(scan, rows.length, links, f, goTo, 'transactions'), table, pager(links, goTo, f.cursor)));
  }

  // The filters `keys` as the address gives them (`defaults` for those it
  // leaves out), and its cursor.
  function readFilters(params, keys, defaults) {
    const f = {};
    for (const k of keys) f[k] = params.get(k) || (defaults && defaults[k]) || '';
    f.cursor = params.get('cursor') || '';
    return f;
  }

  // A filter form of `fields` that, submitted, opens `route` with the
  // values of `keys` (at the first page).
  function filterForm(route, keys, ...fields) {
    return h('form', {class: 'filters', onsubmit: (e) => {
      e.preventDefault();
      const data = new FormData(e.target);
      const next = {};
      for (const k of keys) next[k] = String(data.get(k) || '').trim();
      location.hash = link(route, next);
    }}, fields);
  }

  // A page of a list API with the filters `f` (50 rows of the picked
  // project): its rows and headers, or null when the API refused the
  // filters, after showing the error under the form, which stays to be
  // corrected.
  async function fetchList(generation, path, f, title, form) {
    try {
      const {data, headers} = await api(apiPath(path, Object.assign({project: projectParam(), limit: 50}, f)));
      return {rows: Array.isArray(data) ? data : [], headers};
    } catch (err) {
      if (err instanceof AuthError) throw err;
      setView(generation, h('div', null, title, form, errorBox(err)));
      return null;
    }
  }

  // The longest duration of `rows` (1 when none), for relative bars.
  function longestDuration(rows) {
    return rows.reduce((m, r) => Math.max(m, Number(r.duration) || 0), 0) || 1;
  }

  // A table cell with a duration and a bar relative to `longest`.
  function durationCell(duration, longest) {
    const bar = h('span', {class: 'bar'});
    bar.style.width = ((Number(duration) || 0) / longest * 100).toFixed(1) + '%';
    return h('td', {class: 'num duration'}, h('span', {class: 'bar-track'}, bar), duration == null ? 'unfinished' : ms(duration));
  }

  // ---------------------------------------------------------------- spans

  async function spanList(generation, params) {
    const keys = ['query', 'op', 'status', 'segment', 'source', 'min_duration', 'sort'];
    const f = readFilters(params, keys, {sort: '-timestamp'});
    const form = filterForm('/spans', keys,
    h('input', {name: 'query', 'aria-label': 'search', type: 'search', value: f.query, placeholder: 'description contains…', class: 'grow'}),
    h('input', {name: 'op', 'aria-label': 'op', value: f.op, placeholder: 'op', size: 12}),
    h('input', {name: 'status', 'aria-label': 'status', value: f.status, placeholder: 'status', size: 10}),
    select('segment', f.segment, [['', 'all spans'], ['1', 'segments'], ['0', 'child spans']]),
    select('source', f.source, [['', 'any source'], ['transaction', 'in transactions'], ['stream', 'streamed']]),
    h('input', {name: 'min_duration', 'aria-label': 'minimum duration in ms', value: f.min_duration, placeholder: 'min ms', size: 7, inputmode: 'decimal'}),
    select('sort', f.sort, [['-timestamp', 'newest'], ['timestamp', 'oldest'], ['-duration', 'slowest'], ['duration', 'fastest']]),
    h('button', {type: 'submit'}, 'Apply'));
    const title = h('div', {class: 'titlebar'}, h('h1', null, 'Spans'));
    const result = await fetchWalked(generation, '/api/0/local/spans/', f, title, form);
    if (!result) return;
    const {rows, links, scan} = result;
    const longest = longestDuration(rows);
    const table = rows.length
      ? h('table', {class: 'list'},
        h('thead', null, h('tr', null, h('th', null, 'Span'), h('th', null, 'Op'), h('th', null, 'Status'), h('th', {class: 'num'}, 'Duration'), h('th', null, 'Came in'), h('th', null, 'Started'))),
        h('tbody', null, rows.map((s) => {
          const name = String(s.description || '(no description)');
          return h('tr', null,
            h('td', null, h('a', {href: link('/traces/' + enc(s.traceID), s.transactionID ? {txn: s.transactionID} : {})}, name),
              s.isSegment ? [' ', badge('segment', 'info')] : null),
            h('td', null, String(s.op || '')),
            h('td', null, String(s.status || '')),
            durationCell(s.duration, longest),
            h('td', {class: 'wrap'}, s.transactionID ? 'transaction ' + String(s.transaction || '(unnamed)')
              : s.transaction ? 'streamed, segment ' + String(s.transaction) : 'streamed'),
            h('td', null, time(s.startTimestamp)));
        })))
      : h('p', {class: 'empty'}, scan.stopped
        ? 'No matching spans among those searched.'
        : keys.some((k) => k !== 'sort' && f[k])
          ? 'No spans match these filters.'
          : 'No spans. They come inside transactions, or on their own from SDKs that stream spans.');
    const goTo = (c) => { location.hash = link('/spans', Object.assign({}, f, {cursor: c})); };
    setView(generation, h('div', null, title, form, scanNote(scan, rows.length, links, f, goTo, 'spans'), table, pager(links, goTo, f.cursor)));
  }

  // ---------------------------------------------------------------- profiles

  async function profileList(generation, params) {
    const cursor = params.get('cursor') || '';
    // The continuous profilers' own pages (`pcursor`), when no profile
    // page is asked for.
    const pcursor = params.get('pcursor') || '';
    const title = h('div', {class: 'titlebar'}, h('h1', null, 'Profiles'));
    const [{data}, sessions] = await Promise.all([
      api(apiPath('/api/0/local/profiles/', {project: projectParam(), limit: 50, cursor})),
      // Continuous profilers' sessions: on the first page only.
      cursor ? Promise.resolve({data: null})
        : api(apiPath('/api/0/local/profilers/', {project: projectParam(), limit: 25, cursor: pcursor}))]);
    const rows = data && Array.isArray(data.profiles) ? data.profiles : [];
    const longest = rows.reduce((m, p) => Math.max(m, Number(p.durationMs) || 0), 0) || 1;
    const table = rows.length
      ? h('table', {class: 'list'},
        h('thead', null, h('tr', null, h('th', null, 'Transaction'), h('th', {class: 'num'}, 'Duration'), h('th', {class: 'num'}, 'Samples'),
          h('th', null, 'Platform'), h('th', null, 'Release'), h('th', null, 'Received'))),
        h('tbody', null, rows.map((p) => h('tr', null,
          h('td', null, h('a', {href: '#/profiles/' + enc(p.transactionID)}, String(p.transaction || '(unnamed)'))),
          p.durationMs == null ? h('td', {class: 'num muted'}, '?') : durationCell(p.durationMs, longest),
          h('td', {class: 'num'}, String(p.samples)),
          h('td', null, String(p.platform || '')),
          h('td', null, String(p.release || '')),
          h('td', null, time(p.received))))))
      : h('p', {class: 'empty'}, 'No transaction profiles. An SDK sends them for sampled transactions when its profiles sample rate is set (profiles_sample_rate in Python).');
    const more = data && data.cursor
      ? h('p', null, h('a', {href: link('/profiles', {cursor: data.cursor})}, 'Older profiles'))
      : null;
    const profilers = sessions.data && Array.isArray(sessions.data.profilers) ? sessions.data.profilers : [];
    const continuous = cursor ? null : section('Continuous profilers', [profilers.length
      ? h('div', null,
        h('p', {class: 'muted'}, 'Sessions of a profiler that samples while the app runs or while traces run (profile_session_sample_rate): a transaction it sampled has its profile on its own page, from the chunks that cover it.'),
        h('table', {class: 'list'},
          h('thead', null, h('tr', null, h('th', null, 'Profiler'), projectParam() ? null : h('th', null, 'Project'),
            h('th', null, 'Started'), h('th', {class: 'num'}, 'Span'),
            h('th', {class: 'num'}, 'Chunks'), h('th', {class: 'num'}, 'Samples'), h('th', null, 'Platform'), h('th', null, 'Release'))),
          h('tbody', null, profilers.map((p) => h('tr', null,
            h('td', null, h('a', {href: '#/profilers/' + enc(p.profilerID)}, h('code', null, String(p.profilerID).slice(0, 8)))),
            projectParam() ? null : h('td', null, projectName(p.projectID)),
            h('td', null, time(p.start)),
            h('td', {class: 'num'}, ms(Math.max(0, Date.parse(p.end) - Date.parse(p.start)))),
            h('td', {class: 'num'}, String(p.chunks)),
            h('td', {class: 'num'}, String(p.samples)),
            h('td', null, String(p.platform || '')),
            h('td', null, String(p.release || '')))))))
      : h('p', {class: 'empty'}, pcursor ? 'No earlier continuous profilers.' : 'No continuous profiles. An SDK sends them when its profile session sample rate is set (profile_session_sample_rate in Python, profileSessionSampleRate in Node).'),
      sessions.data && sessions.data.cursor
        ? h('p', null, h('a', {href: link('/profiles', {pcursor: sessions.data.cursor})}, 'Earlier profilers'))
        : null]);
    setView(generation, h('div', null, title, table, more, continuous));
  }

  // A profile's thread picker (links to `base` with another thread) and
  // its functions by self time.
  function profileFunctions(d, base, keep) {
    const threads = Array.isArray(d.threads) ? d.threads : [];
    const functions = Array.isArray(d.functions) ? d.functions : [];
    const sampled = Number(d.sampledMs) || 0;
    const share = (v) => sampled > 0 ? (Number(v) / sampled * 100).toFixed(1) + '%' : '';
    const picker = h('p', null, 'Thread: ', threads.map((t, i) => [i ? ' · ' : '',
      t.id === d.threadID
        ? h('strong', null, String(t.name || t.id) + ' (' + t.samples + ' samples)')
        : h('a', {href: link(base, Object.assign({}, keep || {}, {thread: t.id}))}, String(t.name || t.id) + ' (' + t.samples + ')')]));
    const table = functions.length
      ? h('table', {class: 'list'},
        h('thead', null, h('tr', null, h('th', null, 'Function'), h('th', null, 'Module or file'),
          h('th', {class: 'num'}, 'Self'), h('th', {class: 'num'}, 'Total'))),
        h('tbody', null, functions.map((f) => h('tr', null,
          h('td', null, h('code', null, String(f.function)), f.inApp ? [' ', badge('app', 'info')] : null),
          h('td', {class: 'muted'}, String(f.module || f.file || '')),
          durationCell(f.selfMs, sampled || 1),
          h('td', {class: 'num'}, ms(f.totalMs) + ' · ' + share(f.totalMs))))))
      : h('p', {class: 'empty'}, 'No samples of this thread.');
    return [picker,
      h('p', {class: 'muted'}, 'Where the thread\'s ' + ms(sampled) + ' went: each function\'s time as the innermost frame (self, with its share) and on the stack (total).'),
      table];
  }

  async function profileView(generation, id, params) {
    const thread = params.get('thread') || '';
    const {data} = await api(apiPath('/api/0/local/profiles/' + enc(id) + '/', {thread}));
    const d = data || {};
    const p = d.profile || {};
    setView(generation, h('div', null,
      h('div', {class: 'crumbs'}, h('a', {href: '#/profiles'}, 'Profiles'), ' / profile'),
      h('h1', null, 'Profile of ', String(p.transaction || 'a transaction')),
      h('p', {class: 'muted'}, ms(p.durationMs), ' · ', String(p.platform || ''), ' · received ', time(p.received),
        p.traceID ? [' · ', h('a', {href: '#/traces/' + enc(p.traceID)}, 'trace')] : null,
        p.profilerID ? [' · from the chunks of continuous profiler ',
          h('a', {href: '#/profilers/' + enc(p.profilerID)}, String(p.profilerID).slice(0, 8))] : null,
        d.chunks && d.chunksRead < d.chunks ? ' · the first ' + d.chunksRead + ' of its ' + d.chunks + ' chunks summarised' : null),
      profileFunctions(d, '/profiles/' + enc(id))));
  }

  async function profilerView(generation, id, params) {
    const thread = params.get('thread') || '';
    const start = params.get('start') || '';
    const end = params.get('end') || '';
    const {data} = await api(apiPath('/api/0/local/profilers/' + enc(id) + '/', {thread, start, end}));
    const d = data || {};
    const p = d.profiler || {};
    const partial = d.windowStart
      ? [' · only the samples from ', stamp(d.windowStart), ' to ', stamp(d.windowEnd), ' (', ms(Date.parse(d.windowEnd) - Date.parse(d.windowStart)), ') · ',
        h('a', {href: '#/profilers/' + enc(id)}, 'the whole session')]
      : Number(d.chunksRead) < Number(p.chunks)
        ? [' · the latest ', String(d.chunksRead), ' summarised'] : null;
    setView(generation, h('div', null,
      h('div', {class: 'crumbs'}, h('a', {href: '#/profiles'}, 'Profiles'), ' / continuous profiler'),
      h('h1', null, 'Continuous profiler ', h('code', null, String(p.profilerID || id).slice(0, 8))),
      h('p', {class: 'muted'}, stamp(p.start), ' to ', stamp(p.end), ' · ', String(p.chunks), Number(p.chunks) === 1 ? ' chunk' : ' chunks', partial,
        ' · ', String(p.platform || ''), p.release ? [' · ', String(p.release)] : null),
      profileFunctions(d, '/profilers/' + enc(id), {start, end})));
  }

  // Rows one Spans or Transactions page shows, and the most requests it
  // sends to fill them. Those APIs read at most 50 000 rows a request (a
  // trace or a few named transactions excepted): with a filter that keeps
  // few, an answer can stop short of a page (`X-Scan-Stopped`) with a
  // cursor that goes on where it stopped.
  const WALK_PAGE = 50;
  const WALK_REQUESTS = 5;

  // A page of the list at `path` with the filters `f`: its rows, links and
  // how much the answers read ({scanned, stopped, to}), or null (see
  // fetchList). In time order, an answer that stopped short is followed
  // by requests from where it stopped (going the way `f.cursor` goes)
  // until the page is full, the rows run out or WALK_REQUESTS were sent.
  async function fetchWalked(generation, path, f, title, form) {
    const first = await fetchList(generation, path, Object.assign({limit: WALK_PAGE}, f), title, form);
    if (!first) return null;
    const backwards = /:1$/.test(f.cursor);
    const onward = backwards ? 'previous' : 'next';
    const byTime = !/duration/.test(f.sort);
    let rows = first.rows;
    const links = parseLinks(first.headers.get('Link'));
    const scan = readScan(first.headers, {scanned: 0});
    for (let sent = 1; byTime && scan.stopped && rows.length < WALK_PAGE && sent < WALK_REQUESTS; sent++) {
      const on = links[onward];
      if (!on || !on.results) break;
      const more = await fetchList(generation, path, Object.assign({}, f, {cursor: on.cursor, limit: WALK_PAGE - rows.length}), title, form);
      if (!more || generation !== state.generation) return null;
      rows = backwards ? more.rows.concat(rows) : rows.concat(more.rows);
      links[onward] = parseLinks(more.headers.get('Link'))[onward];
      readScan(more.headers, scan);
    }
    return {rows, links, scan};
  }

  // Adds what an answer's headers say it read to `scan`.
  function readScan(headers, scan) {
    scan.scanned += Number(headers.get('X-Scanned')) || 0;
    scan.stopped = headers.get('X-Scan-Stopped') === 'true';
    scan.to = headers.get('X-Scanned-To');
    return scan;
  }

  // What a page of `shown` rows (`noun`: spans, transactions) did not
  // read, when its last answer stopped short: in time order, how far the
  // search went and a way on; by duration, which rows the sort covers.
  function scanNote(scan, shown, links, f, goTo, noun) {
    if (!scan.stopped) return null;
    const onward = links[/:1$/.test(f.cursor) ? 'previous' : 'next'];
    const count = scan.scanned.toLocaleString('en') + ' ' + noun;
    if (/duration/.test(f.sort)) {
      return h('p', {class: 'notice'}, 'Sorted by duration among ' + count + ' started since ', time(scan.to),
        ' (the most one request sorts). After their last page, Older → sorts the ' + noun + ' before them.');
    }
    if (shown >= WALK_PAGE) return null;
    return h('p', {class: 'notice'}, 'Searched ' + count + ', as far as those started ', time(scan.to), ', without filling the page. ',
      onward && onward.results ? h('button', {type: 'button', onclick: () => goTo(onward.cursor)}, 'Search further') : null);
  }

  // ---------------------------------------------------------------- crons

  const FAILED_CHECK_INS = ['error', 'timeout', 'missed'];

  function checkInBadge(status) {
    return badge(String(status || ''), status === 'ok' ? 'yes' : FAILED_CHECK_INS.includes(status) ? 'no' : '');
  }

  // Which environments miss runs, when a monitor runs in more than one
  // (each expects the schedule's runs on its own): " in production".
  function missingIn(m) {
    const envs = Array.isArray(m.environments) ? m.environments : [];
    if (envs.length < 2) return '';
    const missing = envs.filter((e) => e && e.missedSince).map((e) => String(e.name));
    return missing.length ? ' in ' + missing.join(', ') : '';
  }

  // A monitor's open incidents, each a link to the issue its failures
  // are counted into: " failing since 5 min ago (production)".
  function incidentLinks(m) {
    const incidents = Array.isArray(m.incidents) ? m.incidents : [];
    return incidents.map((i) => {
      const text = 'failing since ' + ago(i.started) + (incidents.length > 1 ? ' (' + String(i.environment) + ')' : '');
      const label = badge(text, 'no');
      return [' ', i.issueID ? h('a', {href: '#/issues/' + enc(String(i.issueID))}, label) : label];
    });
  }

  // A monitor's schedule as SDKs send it: '0 * * * *' or 'every 2 hours'.
  function scheduleText(schedule) {
    if (!schedule || typeof schedule !== 'object') return '';
    if (schedule.type === 'interval') {
      const n = Number(schedule.value);
      return 'every ' + String(schedule.value) + ' ' + String(schedule.unit) + (n === 1 ? '' : 's');
    }
    return String(schedule.value);
  }

  // Minutes a monitor's config sets, or Sentry's default when it sets none.
  function minutesOr(value, fallback) {
    return value == null ? fallback + ' min (default)' : String(value) + ' min';
  }

  // Runs by status, most frequent first: 'ok 12 · error 1'.
  function statusCountsText(counts) {
    const entries = Object.entries(counts || {}).sort((a, b) => Number(b[1]) - Number(a[1]));
    return entries.map(([status, n]) => status + ' ' + String(n)).join(' · ');
  }

  // A monitor's config (from its check-ins' monitor_config) and what was
  // wrong with the latest one sent.
  function monitorConfigSection(m) {
    const c = m.config;
    const problems = Array.isArray(m.configProblems) ? m.configProblems : [];
    const body = [];
    if (c) {
      const row = (label, value) => h('tr', null, h('th', null, label), h('td', null, value));
      body.push(h('table', {class: 'kv'}, h('tbody', null,
        row('Schedule', scheduleText(c.schedule)),
        row('Timezone', c.timezone == null ? 'UTC (default)' : String(c.timezone)),
        row('Check-in margin', minutesOr(c.checkinMargin, 1)),
        row('Max runtime', minutesOr(c.maxRuntime, 30)),
        row('Failure issue threshold', c.failureIssueThreshold == null ? '—' : String(c.failureIssueThreshold)),
        row('Recovery threshold', c.recoveryThreshold == null ? '—' : String(c.recoveryThreshold)),
        row('Owner', c.owner == null ? '—' : String(c.owner)),
        row('Config received', time(c.updated)))));
    } else {
      body.push(h('p', {class: 'muted'}, 'No monitor_config received: runs time out after 30 minutes in progress. SDKs send one with monitor_config (Python) or withMonitor\'s third argument (JavaScript).'));
    }
    if (problems.length) {
      body.push(h('p', {class: 'error-text'}, 'The latest monitor_config had problems:'),
        h('ul', {class: 'errors'}, problems.map((p) => h('li', null, String(p)))));
    }
    return section('Configuration', h('div', null, body));
  }

  async function monitorsView(generation, params) {
    const monitor = params.get('monitor') || '';
    const f = {monitor, cursor: params.get('cursor') || ''};
    // Two projects may have monitors of one slug: a monitor's link names
    // its project.
    if (params.get('project')) f.project = params.get('project');
    const title = h('div', {class: 'titlebar'}, h('h1', null, monitor ? 'Cron monitor ' + monitor : 'Cron monitors'));
    const {data} = await api(apiPath('/api/0/local/monitors/', {project: projectParam()}));
    const monitors = Array.isArray(data) ? data : [];
    const table = monitors.length
      ? h('table', {class: 'list'},
        h('thead', null, h('tr', null, h('th', null, 'Monitor'), h('th', null, 'Schedule'), h('th', null, 'Last status'), h('th', null, 'Last check-in'), h('th', null, 'Next due'), h('th', {class: 'num'}, 'Check-ins (24 h)'), h('th', null, 'By status'), h('th', {class: 'num'}, 'Failed'))),
        h('tbody', null, monitors.map((m) => {
          const problems = Array.isArray(m.configProblems) ? m.configProblems : [];
          return h('tr', null,
            h('td', null, h('a', {href: link('/monitors', {monitor: String(m.monitorSlug), project: String(m.projectID)})}, String(m.monitorSlug))),
            h('td', null, m.config ? scheduleText(m.config.schedule) : h('span', {class: 'muted'}, '—'),
              problems.length ? [' ', badge('config problem', 'no')] : null),
            h('td', null, checkInBadge(m.lastStatus),
              m.missedSince ? [' ', badge('missed since ' + ago(m.missedSince) + missingIn(m), 'no')] : null,
              incidentLinks(m),
              m.isMuted ? [' ', badge('muted', '')] : null),
            h('td', null, time(m.lastCheckIn)),
            h('td', null, m.nextCheckIn ? time(m.nextCheckIn) : h('span', {class: 'muted'}, '—')),
            h('td', {class: 'num'}, String(m.checkIns)),
            h('td', null, statusCountsText(m.statusCounts)),
            h('td', {class: 'num'}, String(m.failed)));
        })))
      : h('p', {class: 'empty'}, 'No cron monitors. SDKs send check-ins from monitored jobs (capture_checkin, withMonitor); a script without an SDK requests /api/{project}/cron/{monitor_slug}/{key}/?status=in_progress, then ?status=ok or ?status=error.');
    let config = null;
    let runs = null;
    if (monitor) {
      const chosen = monitors.find((m) => String(m.monitorSlug) === monitor && (!f.project || String(m.projectID) === f.project));
      if (chosen) {
        config = monitorConfigSection(chosen);
        // A retired job's monitor would count a missed run every period.
        const remove = async () => {
          if (!window.confirm('Delete the monitor "' + monitor + '" with its check-ins and configuration? A later check-in starts it anew.')) return;
          try {
            await api('/api/0/projects/local/' + enc(chosen.projectID) + '/monitors/' + enc(monitor) + '/', {method: 'DELETE'});
            location.hash = link('/monitors');
          } catch (err) {
            if (!(err instanceof AuthError)) window.alert(err.message);
          }
        };
        // A job known to be broken: its failures open no issue meanwhile.
        const mute = async () => {
          try {
            await api('/api/0/projects/local/' + enc(chosen.projectID) + '/monitors/' + enc(monitor) + '/', {method: 'PUT', body: {isMuted: !chosen.isMuted}});
            render();
          } catch (err) {
            if (!(err instanceof AuthError)) window.alert(err.message);
          }
        };
        // A read-only token could only be refused: no controls for it.
        if (canWrite()) {
          append(title, h('button', {type: 'button', onclick: mute}, chosen.isMuted ? 'Unmute monitor' : 'Mute monitor'));
          append(title, h('button', {type: 'button', onclick: remove}, 'Delete monitor'));
        }
      }
      const result = await fetchList(generation, '/api/0/local/check-ins/', f, title, table);
      if (!result) return;
      const {rows, headers} = result;
      runs = section('Check-ins', h('div', null,
        h('p', {class: 'muted'}, 'One row per run: the check-in a job sends when it starts and its final update (one check-in id). A run still in progress past its max runtime is a timeout. A run the schedule expected that did not come is listed as missed, at the time it was due, without a check-in id (inferred from the schedule).'),
        h('table', {class: 'list'},
          h('thead', null, h('tr', null, h('th', null, 'Status'), h('th', {class: 'num'}, 'Duration'), h('th', null, 'Environment'), h('th', null, 'Release'), h('th', null, 'Started'), h('th', null, 'Last update'), h('th', null, 'Check-in id'))),
          h('tbody', null, rows.map((k) => h('tr', null,
            h('td', null, checkInBadge(k.status)),
            h('td', {class: 'num'}, k.duration == null ? '' : String(k.duration) + ' s'),
            h('td', null, String(k.environment || '')),
            h('td', null, String(k.release || '')),
            h('td', null, time(k.received)),
            h('td', null, time(k.updated)),
            h('td', {class: 'muted'}, k.inferred ? 'none (inferred)' : String(k.checkInID)))))),
        pager(parseLinks(headers.get('Link')), (c) => { location.hash = link('/monitors', Object.assign({}, f, {cursor: c})); }, f.cursor)));
    }
    setView(generation, h('div', null, title, table, config, runs));
  }

  // ---------------------------------------------------------------- trace

  async function traceView(generation, traceId, params) {
    const {data} = await api('/api/0/local/traces/' + enc(traceId) + '/');
    const trace = data || {};
    const roots = Array.isArray(trace.roots) ? trace.roots : [];
    const rows = [];
    let t0 = Infinity;
    let t1 = -Infinity;
    // A trace across services names the project where a span's differs
    // from its parent's (and each root's), as `receiver trace` does.
    const several = (trace.projects || []).length > 1;
    const walk = (span, depth, parentProject) => {
      const start = preciseMs(span.startTimestamp);
      const end = span.timestamp ? preciseMs(span.timestamp) : start;
      if (!Number.isNaN(start)) t0 = Math.min(t0, start);
      if (!Number.isNaN(end)) t1 = Math.max(t1, end);
      const project = String(span.projectID || '');
      rows.push({span, depth, start, end, service: several && project !== parentProject ? projectName(project) : null});
      for (const c of span.children || []) walk(c, depth + 1, project);
    };
    roots.forEach((r) => walk(r, 0, null));
    if (!Number.isFinite(t0) || !Number.isFinite(t1) || t1 <= t0) t1 = t0 + 1;
    const total = t1 - t0;
    const highlight = params.get('txn') || '';
    const collapsed = new Set();
    const body = h('div', {class: 'waterfall'});
    const detail = h('div', {class: 'span-detail'});
    const draw = () => {
      const out = [];
      let hideBelow = null;
      for (const r of rows) {
        if (hideBelow !== null) {
          if (r.depth > hideBelow) continue;
          hideBelow = null;
        }
        const s = r.span;
        const hasKids = (s.children || []).length > 0;
        if (collapsed.has(s.spanID)) hideBelow = r.depth;
        const left = Number.isNaN(r.start) ? 0 : (r.start - t0) / total * 100;
        const width = Number.isNaN(r.end) || Number.isNaN(r.start) ? 0 : Math.max((r.end - r.start) / total * 100, 0.2);
        const bar = h('span', {class: 'span-bar op-' + String(s.op || 'none').split('.')[0].replace(/[^a-z]/g, '') + (s.errors && s.errors.length ? ' has-error' : '')});
        bar.style.left = left.toFixed(3) + '%';
        bar.style.width = width.toFixed(3) + '%';
        const label = h('div', {class: 'span-label'});
        label.style.paddingLeft = (r.depth * 14) + 'px';
        append(label, [
          hasKids ? h('button', {type: 'button', class: 'toggle', title: 'fold',
            'aria-expanded': collapsed.has(s.spanID) ? 'false' : 'true',
            'aria-label': (collapsed.has(s.spanID) ? 'unfold ' : 'fold ') + String(s.op || 'span'), onclick: (e) => {
            e.stopPropagation();
            if (collapsed.has(s.spanID)) collapsed.delete(s.spanID);
            else collapsed.add(s.spanID);
            draw();
          }}, collapsed.has(s.spanID) ? '▸' : '▾') : h('span', {class: 'toggle-space'}),
          r.service ? [badge(r.service, 'info'), ' '] : null,
          h('strong', null, String(s.op || '?')), ' ', h('span', {class: 'desc'}, String(s.description || '')),
          s.errors && s.errors.length ? [' ', badge(s.errors.length + ' error' + (s.errors.length === 1 ? '' : 's'), 'no')] : null,
        ]);
        const show = () => detail.replaceChildren(spanDetail(s, String(trace.traceID || traceId)));
        // A row is a button for the keyboard too: Tab to it, Enter or Space.
        const rowEl = h('div', {class: 'span-row' + (s.isSegment ? ' segment' : '') + (highlight && s.transactionID === highlight && s.isSegment ? ' highlight' : ''),
          role: 'button', tabindex: '0', onclick: show, onkeydown: (e) => {
            if (e.key === 'Enter' || e.key === ' ') {
              e.preventDefault();
              show();
            }
          }},
        label,
        h('div', {class: 'span-track'}, bar, h('span', {class: 'span-dur'}, ms(s.duration))));
        out.push(rowEl);
      }
      body.replaceChildren(...out);
    };
    draw();
    const orphans = Array.isArray(trace.orphanErrors) ? trace.orphanErrors : [];
    setView(generation, h('div', null,
      h('div', {class: 'crumbs'}, h('a', {href: '#/transactions'}, 'Transactions'), ' / trace'),
      h('h1', null, 'Trace ', h('code', null, String(trace.traceID || traceId))),
      h('p', {class: 'muted'}, (trace.transactions || 0) + ' transaction(s), ' + (trace.spans || 0) + ' span(s), projects ' + (trace.projects || []).map((p) => projectName(String(p))).join(', ') + ', ' + ms(total)),
      trace.truncated ? h('p', {class: 'notice'}, 'This trace is too large to show whole: only its first spans (at most 10 000) and error events (at most 1 000) by start time are shown.') : null,
      rows.length ? h('div', {class: 'card'}, h('div', {class: 'waterfall-scale'}, h('span', null, '0'), h('span', null, ms(total / 2)), h('span', null, ms(total))), body) : h('p', {class: 'empty'}, 'No spans stored for this trace.'),
      detail,
      orphans.length ? section('Errors without a stored span', errorList(orphans)) : null));
  }

  // Milliseconds since the epoch with the microseconds the API sends
  // (Date.parse keeps only milliseconds).
  function preciseMs(iso) {
    const s = String(iso || '');
    const m = /\.(\d+)(Z|[+-]\d\d:?\d\d)?$/.exec(s);
    if (!m) return Date.parse(s);
    const whole = Date.parse(s.slice(0, m.index) + (m[2] || ''));
    return whole + Number('0.' + m[1]) * 1000;
  }

  function spanDetail(s, traceId) {
    // The span as its SDK sent it (its data, tags or attributes) comes
    // from its own route; the columns above are shown meanwhile.
    const sent = h('div', {class: 'span-sent'}, h('p', {class: 'muted'}, 'Loading its data…'));
    // A root links to its profile when it has one (a profile item, or a
    // continuous profiler's chunks covering it).
    const links = h('p', {class: 'span-links'});
    api('/api/0/local/traces/' + enc(traceId) + '/spans/' + enc(s.spanID) + '/').then(({data}) => {
      const span = data && data.span;
      if (!span || typeof span !== 'object') {
        sent.replaceChildren(h('p', {class: 'muted'}, 'What this span came in is no longer stored.'));
        return;
      }
      // A root with a profile (the route says so): a transaction's opens
      // on its profile page; a streamed segment's (Node's default: no
      // transaction) is its continuous profiler's samples over its time.
      if (data.profile && data.transactionID) {
        links.replaceChildren(h('a', {href: '#/profiles/' + enc(data.transactionID)}, 'Profile'), ': where this transaction\'s time went'
          + (data.profile === 'continuous' ? ' (from its continuous profiler)' : ''));
      } else if (data.profile === 'continuous' && data.profilerID) {
        // The span's times as sent, on its client's clock as the chunks'
        // are (stored times are corrected when that clock is off).
        const start = span.start_timestamp !== undefined ? span.start_timestamp : s.startTimestamp;
        const end = span.end_timestamp !== undefined ? span.end_timestamp
          : span.timestamp !== undefined ? span.timestamp : s.timestamp;
        links.replaceChildren(h('a', {href: link('/profilers/' + enc(data.profilerID), {start, end})}, 'Profile'),
          ': where this segment\'s time went (its continuous profiler\'s samples)');
      }
      const parts = [];
      for (const key of ['data', 'tags', 'attributes']) {
        const fields = span[key];
        if (!fields || typeof fields !== 'object' || Array.isArray(fields) || !Object.keys(fields).length) continue;
        const flat = {};
        for (const [k, v] of Object.entries(fields)) {
          // A v2 attribute is {type, value}.
          flat[k] = key === 'attributes' && v && typeof v === 'object' && 'value' in v ? v.value : v;
        }
        parts.push(h('h4', null, key[0].toUpperCase() + key.slice(1)), kvTable(flat));
      }
      sent.replaceChildren(...(parts.length ? parts : [h('p', {class: 'muted'}, 'No data, tags or attributes.')]));
    }).catch((e) => {
      if (e instanceof AuthError) return;
      sent.replaceChildren(h('p', {class: 'muted'}, 'Its data could not be loaded: ' + String(e && e.message || e)));
    });
    return section('Span ' + s.spanID, [
      links,
      kvTable({op: s.op, description: s.description, status: s.status, spanID: s.spanID, parentSpanID: s.parentSpanID,
        start: fullTime(s.startTimestamp), end: s.timestamp ? fullTime(s.timestamp) : null, duration: ms(s.duration), projectID: s.projectID, transactionID: s.transactionID, isSegment: s.isSegment}),
      sent,
      s.errors && s.errors.length ? [h('h4', null, 'Errors'), errorList(s.errors)] : null,
    ]);
  }

  function errorList(errors) {
    return h('ul', {class: 'errors'}, errors.map((e) => h('li', null, levelBadge(e.level), ' ',
      e.issueID ? h('a', {href: '#/issues/' + enc(e.issueID) + '/events/' + enc(e.eventID)}, String(e.title)) : String(e.title),
      ' ', time(e.timestamp))));
  }

  // ---------------------------------------------------------------- releases

  async function releasesView(generation, params) {
    const project = projectParam();
    // `limit` only from the address (as for issues): 100 a page.
    const f = {query: params.get('query') || '', limit: params.get('limit') || '', cursor: params.get('cursor') || ''};
    const form = h('form', {class: 'filters', onsubmit: (e) => {
      e.preventDefault();
      const query = String(new FormData(e.target).get('query') || '').trim();
      location.hash = link('/releases', {query, limit: f.limit});
    }},
    h('input', {name: 'query', 'aria-label': 'search', type: 'search', value: f.query, placeholder: 'version contains…', class: 'grow'}),
    h('button', {type: 'submit'}, 'Apply'));
    const [health, releases] = await Promise.all([
      api(apiPath('/api/0/local/health/', {project})),
      api(apiPath('/api/0/organizations/local/releases/', {project, per_page: f.limit || 100, query: f.query, cursor: f.cursor})),
    ]);
    const hd = health.data || {};
    const rows = Array.isArray(hd.data) ? hd.data : [];
    const healthRow = (r, total) => h('tr', {class: total ? 'total' : null},
      h('td', null, total ? 'all' : (r.release ? h('a', {href: link('/issues', {release: r.release, status: 'all'})}, r.release) : '—')),
      h('td', null, total ? '' : String(r.environment || '—')),
      h('td', {class: 'num'}, r.sessions),
      h('td', {class: 'num'}, r.sessionsHealthy),
      h('td', {class: 'num'}, r.sessionsErrored),
      h('td', {class: 'num'}, r.sessionsAbnormal),
      h('td', {class: 'num'}, r.sessionsCrashed),
      h('td', {class: 'num ' + rateClass(r.crashFreeSessions)}, percent(r.crashFreeSessions)),
      h('td', {class: 'num'}, r.users),
      h('td', {class: 'num ' + rateClass(r.crashFreeUsers)}, percent(r.crashFreeUsers)));
    const healthTable = rows.length
      ? h('table', {class: 'list'},
        h('thead', null, h('tr', null, ['Release', 'Environment', 'Sessions', 'Healthy', 'Errored', 'Abnormal', 'Crashed', 'Crash-free sessions', 'Users', 'Crash-free users'].map((c, i) => h('th', {class: i >= 2 ? 'num' : null}, c)))),
        h('tbody', null, rows.map((r) => healthRow(r, false)), hd.totals ? healthRow(hd.totals, true) : null))
      : h('p', {class: 'empty'}, 'No sessions yet. SDKs send them with a release set (auto session tracking).');
    const list = Array.isArray(releases.data) ? releases.data : [];
    const releaseTable = list.length
      ? h('table', {class: 'list'},
        h('thead', null, h('tr', null, h('th', null, 'Version'), h('th', null, 'Created'), h('th', null, 'Released'), h('th', {class: 'num'}, 'New issues'), h('th', null, 'Last deploy'))),
        h('tbody', null, list.map((r) => h('tr', null,
          h('td', null, h('a', {href: link('/issues', {release: r.version, status: 'all'})}, String(r.version))),
          h('td', null, time(r.dateCreated)),
          h('td', null, r.dateReleased ? time(r.dateReleased) : '—'),
          h('td', {class: 'num'}, r.newGroups),
          h('td', null, r.lastDeploy ? [String(r.lastDeploy.environment) + ' ', time(r.lastDeploy.dateFinished)] : '—')))))
      : h('p', {class: 'empty'}, f.query ? 'No release matches.' : 'No releases.');
    const releasePager = pager(parseLinks(releases.headers.get('Link')), (c) => { location.hash = link('/releases', Object.assign({}, f, {cursor: c})); }, f.cursor);
    setView(generation, h('div', null, h('h1', null, 'Releases'), section('Release health', healthTable),
      section('Releases', h('div', null, form, releaseTable, releasePager))));
  }

  function rateClass(v) {
    if (v === null || v === undefined) return '';
    if (v >= 0.995) return 'good';
    if (v >= 0.95) return 'fair';
    return 'bad';
  }

  // ---------------------------------------------------------------- feedback

  // User feedback of every project (or the picked one), newest first:
  // what users wrote, who and from which page, and the issue of the
  // event it is about when there is one.
  async function feedbackView(generation, params) {
    const cursor = params.get('cursor') || '';
    const title = h('div', {class: 'titlebar'}, h('h1', null, 'User feedback'));
    const {data, headers} = await api(apiPath('/api/0/local/feedback/', {project: projectParam(), limit: 50, cursor}));
    const rows = Array.isArray(data) ? data : [];
    const about = (f) => {
      if (f.issue) {
        const href = '#/issues/' + enc(f.issue.id) + (f.eventID ? '/events/' + enc(f.eventID) : '');
        return h('a', {href}, String(f.issue.shortId), ' ', h('span', {class: 'muted'}, String(f.issue.title || '')));
      }
      if (f.eventID) return h('span', {class: 'muted', title: 'the event it names is not stored'}, 'event ', h('code', null, String(f.eventID).slice(0, 8)));
      return h('span', {class: 'muted'}, 'no event');
    };
    // With every project shown, each row says whose it is.
    const all = !projectParam();
    const table = rows.length
      ? h('table', {class: 'list'},
        h('thead', null, h('tr', null, h('th', null, 'Feedback'), h('th', null, 'From'), h('th', null, 'Page'),
          h('th', null, 'About'), all ? h('th', null, 'Project') : null, h('th', null, 'Received'))),
        h('tbody', null, rows.map((f) => h('tr', null,
          h('td', null, h('span', {class: 'pre-line'}, String(f.comments || ''))),
          h('td', {class: 'wrap'}, String(f.name || ''), f.email ? [h('br'), h('span', {class: 'muted'}, String(f.email))] : null),
          h('td', {class: 'muted wrap'}, String(f.url || '')),
          h('td', null, about(f)),
          all ? h('td', null, projectName(f.projectID)) : null,
          h('td', null, time(f.dateCreated))))))
      : h('p', {class: 'empty'}, 'No user feedback. SDKs send it from their feedback widget or API (capture_feedback in Python, captureFeedback in JavaScript).');
    const links = parseLinks(headers.get('Link'));
    setView(generation, h('div', null, title, table,
      rows.length || cursor ? pager(links, (c) => { location.hash = link('/feedback', {cursor: c}); }, cursor) : null));
  }

  // ---------------------------------------------------------------- client reports

  async function clientReportsView(generation, params) {
    const period = params.get('statsPeriod') || '';
    const periodSelect = select('statsPeriod', period, [['', 'all time'], ['1h', 'last hour'], ['24h', 'last 24 hours'], ['7d', 'last 7 days']]);
    periodSelect.addEventListener('change', () => { location.hash = link('/client-reports', {statsPeriod: periodSelect.value}); });
    let data;
    try {
      ({data} = await api(apiPath('/api/0/local/client-reports/', {project: projectParam(), statsPeriod: period})));
    } catch (err) {
      if (err instanceof AuthError) throw err;
      setView(generation, h('div', null, h('div', {class: 'titlebar'}, h('h1', null, 'Client reports'), periodSelect), errorBox(err)));
      return;
    }
    const d = data || {};
    const small = (title, obj) => h('div', {class: 'context-box'}, h('h4', null, title), kvTable(obj || {}));
    const rows = Array.isArray(d.rows) ? d.rows : [];
    setView(generation, h('div', null,
      h('div', {class: 'titlebar'}, h('h1', null, 'Client reports'), periodSelect),
      h('p', {class: 'muted'}, 'What SDKs say they dropped before sending (rate limits, sampling, full queues, hooks).'),
      h('p', null, h('strong', null, String(d.total || 0)), ' items dropped in total',
        d.totalBytes ? ', ' + d.totalBytes + ' bytes' : '',
        d.totalMilliseconds ? ', ' + d.totalMilliseconds + ' ms of profiles' : ''),
      h('p', {class: 'muted'}, 'Outcomes and reasons count items; a category measured in bytes or milliseconds (attachment, log_byte, profile_duration) is counted in its own unit.'),
      h('div', {class: 'contexts'}, small('By outcome', d.byOutcome), small('By reason', d.byReason), small('By category', d.byCategory)),
      rows.length ? section('Details', h('table', {class: 'list'},
        h('thead', null, h('tr', null, h('th', null, 'Outcome'), h('th', null, 'Reason'), h('th', null, 'Category'), h('th', {class: 'num'}, 'Quantity'))),
        h('tbody', null, rows.map((r) => h('tr', null, h('td', null, String(r.outcome)), h('td', null, String(r.reason)), h('td', null, String(r.category)), h('td', {class: 'num'}, String(r.quantity) + (r.unit && r.unit !== 'item' ? ' ' + (r.unit === 'byte' ? 'bytes' : 'ms') : '')))))))
        : h('p', {class: 'empty'}, 'No client reports.')));
  }

  // ------------------------------------------------------------- metrics

  const METRIC_TYPES = ['counter', 'gauge', 'distribution'];

  // A metric value without float noise (3 decimals at most; very large
  // ones as JavaScript writes them, which rounding would overflow).
  function metricNumber(v) {
    const n = Number(v);
    if (!Number.isFinite(n)) return '';
    return Math.abs(n) >= 1e15 ? String(n) : String(Math.round(n * 1000) / 1000);
  }

  // Totals per metric over the samples the filters select, then the
  // samples themselves, the most recently received first.
  async function metricsView(generation, params) {
    const keys = ['query', 'name', 'type', 'environment', 'release', 'trace'];
    const f = readFilters(params, keys);
    const title = h('div', {class: 'titlebar'}, h('h1', null, 'Metrics'));
    const form = filterForm('/metrics', keys,
    h('input', {name: 'query', 'aria-label': 'search', type: 'search', value: f.query, placeholder: 'name contains…', class: 'grow'}),
    h('input', {name: 'name', 'aria-label': 'metric name', value: f.name, placeholder: 'exact name', size: 16}),
    select('type', f.type, [['', 'any type']].concat(METRIC_TYPES.map((t) => [t, t]))),
    h('input', {name: 'environment', 'aria-label': 'environment', value: f.environment, placeholder: 'environment', size: 12}),
    h('input', {name: 'release', 'aria-label': 'release', value: f.release, placeholder: 'release', size: 14}),
    h('input', {name: 'trace', 'aria-label': 'trace id', value: f.trace, placeholder: 'trace id', size: 16}),
    h('button', {type: 'submit'}, 'Apply'));
    const filters = {};
    for (const k of keys) if (f[k]) filters[k] = f[k];
    let summary;
    let page;
    try {
      [{data: summary}, {data: page}] = await Promise.all([
        api(apiPath('/api/0/local/metrics/summary/', Object.assign({project: projectParam()}, filters))),
        api(apiPath('/api/0/local/metrics/', Object.assign({project: projectParam(), limit: 100, cursor: f.cursor}, filters))),
      ]);
    } catch (err) {
      if (err instanceof AuthError) throw err;
      setView(generation, h('div', null, title, form, errorBox(err)));
      return;
    }
    const totals = Array.isArray((summary || {}).metrics) ? summary.metrics : [];
    const samples = Array.isArray((page || {}).metrics) ? page.metrics : [];
    const cursor = (page || {}).cursor;
    const totalsTable = totals.length
      ? h('table', {class: 'list'},
        h('thead', null, h('tr', null, ['Metric', 'Type', 'Unit', 'Samples', 'Sum', 'Min', 'Max', 'Average', 'Last', 'Last seen']
          .map((c, i) => h('th', i >= 3 && i <= 8 ? {class: 'num'} : null, c)))),
        h('tbody', null, totals.map((m) => h('tr', null,
          h('td', null, h('a', {href: link('/metrics', Object.assign({}, filters, {name: m.name, type: m.type}))}, String(m.name))),
          h('td', null, String(m.type)),
          h('td', null, String(m.unit || '')),
          h('td', {class: 'num'}, String(m.samples)),
          h('td', {class: 'num'}, metricNumber(m.sum)),
          h('td', {class: 'num'}, metricNumber(m.min)),
          h('td', {class: 'num'}, metricNumber(m.max)),
          h('td', {class: 'num'}, metricNumber(m.avg)),
          h('td', {class: 'num'}, metricNumber(m.last)),
          h('td', null, time(m.lastSeen))))))
      : null;
    const partial = summary && summary.complete === false
      ? h('p', {class: 'hint'}, 'Totals cover the newest samples only: narrow the filters to total the rest.')
      : null;
    const samplesTable = samples.length
      ? h('table', {class: 'list'},
        h('thead', null, h('tr', null, h('th', null, 'Time (local)'), h('th', null, 'Metric'), h('th', null, 'Type'), h('th', {class: 'num'}, 'Value'), h('th', null, 'Unit'), h('th', null, 'Environment'), h('th', null, 'Trace'))),
        h('tbody', null, samples.map((m) => h('tr', null,
          h('td', null, stamp(m.timestamp)),
          h('td', {title: Object.keys(m.attributes || {}).map((k) => k + ' = ' + JSON.stringify(m.attributes[k])).join('\n')}, String(m.name || '')),
          h('td', null, String(m.type || '')),
          h('td', {class: 'num'}, metricNumber(m.value)),
          h('td', null, String(m.unit || '')),
          h('td', null, String(m.environment || '')),
          h('td', null, m.traceID ? h('a', {href: link('/traces/' + enc(m.traceID), {})}, String(m.traceID).slice(0, 8)) : '')))))
      // One request reads a bounded number of stored items: an empty page
      // with a cursor means none of those matched, not that none exists.
      : h('p', {class: 'empty'}, cursor
        ? 'No matching samples among the newest ones searched; older ones are left to search.'
        : keys.some((k) => f[k])
          ? 'No metric samples match these filters.'
          : 'No metrics. SDKs send them with sentry_sdk.metrics / Sentry.metrics (count, gauge, distribution).');
    const older = cursor
      ? h('p', {class: 'pager'}, h('a', {href: link('/metrics', Object.assign({}, filters, {cursor}))}, samples.length ? 'Older' : 'Search older'))
      : null;
    setView(generation, h('div', null, title, form, totalsTable, partial,
      samples.length || !totals.length ? h('h2', null, 'Samples') : null, samplesTable, older));
  }

  // ---------------------------------------------------------------- logs

  const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'default'];

  async function logsView(generation, params) {
    const keys = ['query', 'level', 'trace', 'environment', 'release'];
    const f = readFilters(params, keys);
    const form = filterForm('/logs', keys,
    h('input', {name: 'query', 'aria-label': 'search', type: 'search', value: f.query, placeholder: 'message contains…', class: 'grow'}),
    select('level', f.level, [['', 'any level']].concat(LOG_LEVELS.map((l) => [l, l]))),
    h('input', {name: 'trace', 'aria-label': 'trace id', value: f.trace, placeholder: 'trace id', size: 16}),
    h('input', {name: 'environment', 'aria-label': 'environment', value: f.environment, placeholder: 'environment', size: 12}),
    h('input', {name: 'release', 'aria-label': 'release', value: f.release, placeholder: 'release', size: 14}),
    h('button', {type: 'submit'}, 'Apply'));
    let data;
    try {
      ({data} = await api(apiPath('/api/0/local/logs/', Object.assign({project: projectParam(), limit: 100}, f))));
    } catch (err) {
      if (err instanceof AuthError) throw err;
      setView(generation, h('div', null, h('div', {class: 'titlebar'}, h('h1', null, 'Logs')), form, errorBox(err)));
      return;
    }
    const d = data || {};
    const logs = Array.isArray(d.logs) ? d.logs : [];
    const table = logs.length
      ? h('table', {class: 'list'},
        h('thead', null, h('tr', null, h('th', null, 'Time (local)'), h('th', null, 'Level'), h('th', null, 'Message'), h('th', null, 'Environment'), h('th', null, 'Trace'))),
        h('tbody', null, logs.map((l) => h('tr', null,
          h('td', null, stamp(l.timestamp)),
          h('td', null, l.level ? levelBadge(l.level === 'warn' ? 'warning' : String(l.level)) : ''),
          h('td', {title: Object.keys(l.attributes || {}).map((k) => k + ' = ' + JSON.stringify(l.attributes[k])).join('\n')}, String(l.body || '')),
          h('td', null, String(l.environment || '')),
          h('td', null, l.traceID ? h('a', {href: link('/traces/' + enc(l.traceID), {})}, String(l.traceID).slice(0, 8)) : '')))))
      // One request reads a bounded number of stored items: an empty page
      // with a cursor means none of those matched, not that none exists.
      : h('p', {class: 'empty'}, d.cursor
        ? 'No matching log lines among the newest ones searched; older ones are left to search.'
        : keys.some((k) => f[k])
          ? 'No log lines match these filters.'
          : 'No log lines. SDKs send them when logs are on (enable_logs / enableLogs).');
    const older = d.cursor
      ? h('p', {class: 'pager'}, h('a', {href: link('/logs', Object.assign({}, f, {cursor: d.cursor}))}, logs.length ? 'Older' : 'Search older'))
      : null;
    setView(generation, h('div', null, h('div', {class: 'titlebar'}, h('h1', null, 'Logs')), form, table, older));
  }

  // ---------------------------------------------------------------- quotas

  // Categories as SDKs name them (what `X-Sentry-Rate-Limits` names).
  const QUOTA_CATEGORIES = ['error', 'transaction', 'default', 'attachment', 'session', 'feedback',
    'monitor', 'log_item', 'span', 'profile', 'profile_chunk', 'replay', 'metric_bucket', 'trace_metric'];

  function duration(secs) {
    const n = Number(secs);
    if (n % 3600 === 0) return n / 3600 + ' h';
    if (n % 60 === 0) return n / 60 + ' min';
    return n + ' s';
  }

  async function quotasView(generation) {
    const chosen = projectParam();
    const projects = state.projects.filter((p) => !chosen || String(p.id) === chosen);
    const cards = [];
    for (const p of projects) {
      const base = '/api/0/projects/local/' + enc(p.id) + '/quotas/';
      const {data} = await api(base);
      const list = Array.isArray(data) ? data : [];
      const remove = (q) => async () => {
        if (!window.confirm('Remove the quota "' + q.reason + '"?')) return;
        try {
          await api(base + enc(q.id) + '/', {method: 'DELETE'});
          render();
        } catch (err) {
          if (!(err instanceof AuthError)) window.alert(err.message);
        }
      };
      const table = list.length
        ? h('table', {class: 'list'},
          h('thead', null, h('tr', null, h('th', null, 'Categories'), h('th', {class: 'num'}, 'Limit'),
            h('th', null, 'Window'), h('th', null, 'Scope'), h('th', null, 'Reason'), h('th', null, ''))),
          h('tbody', null, list.map((q) => h('tr', null,
            h('td', null, Array.isArray(q.categories) && q.categories.length ? q.categories.join(', ') : 'all'),
            h('td', {class: 'num'}, String(q.limit)),
            h('td', null, duration(q.window)),
            h('td', null, q.scope === 'key' ? ['key ', h('code', null, String(q.publicKey))] : 'project'),
            h('td', null, String(q.reason)),
            h('td', null, canWrite() ? h('button', {type: 'button', onclick: remove(q)}, 'Remove') : null)))))
        : h('p', {class: 'empty'}, 'No quotas: nothing of this project is rate limited.');
      const form = canWrite() ? quotaForm(base) : h('p', {class: 'muted'}, 'This token is read-only: quotas are changed with an admin token.');
      cards.push(section(p.name + ' (' + p.id + ')', h('div', null, table, form)));
    }
    setView(generation, h('div', null,
      h('h1', null, 'Rate limits'),
      h('p', {class: 'muted'}, 'Items past a quota are refused with 429 and X-Sentry-Rate-Limits, which SDKs obey; ' +
        'what was refused shows under Client reports as rate_limited. Counts start afresh with each window and with the receiver.'),
      cards.length ? cards : h('p', {class: 'empty'}, 'No projects.')));
  }

  // Each project's fingerprint rules (Sentry's server-side fingerprinting):
  // read and, with an admin token, changed here.
  async function groupingRulesView(generation) {
    const chosen = projectParam();
    const projects = state.projects.filter((p) => !chosen || String(p.id) === chosen);
    const cards = [];
    for (const p of projects) {
      const path = '/api/0/projects/local/' + enc(p.id) + '/';
      const {data} = await api(path);
      const rules = h('textarea', {name: 'rules', rows: '8', cols: '90', spellcheck: 'false',
        readonly: !canWrite(), placeholder: 'error.type:DatabaseUnavailable -> system-down title="Database down"'});
      rules.value = String((data && data.fingerprintingRules) || '');
      const status = h('span', {class: 'muted'});
      const form = h('form', {class: 'rules', onsubmit: async (ev) => {
        ev.preventDefault();
        status.textContent = 'Saving…';
        try {
          await api(path, {method: 'PUT', body: {fingerprintingRules: rules.value}});
          status.textContent = 'Saved: the next events group by these rules.';
        } catch (err) {
          if (!(err instanceof AuthError)) status.textContent = err.message;
        }
      }}, rules, h('div', null,
        canWrite() ? h('button', {type: 'submit'}, 'Save rules') : h('span', {class: 'muted'}, 'This token is read-only.'),
        ' ', status));
      cards.push(section(p.name + ' (' + p.id + ')', form));
    }
    setView(generation, h('div', null,
      h('h1', null, 'Grouping rules'),
      h('p', {class: 'muted'}, 'Fingerprint rules, one per line: the first whose matchers all hold gives an event its ' +
        'fingerprint (and, with title="…", its issue\'s title), whatever the SDK sent. Matchers: error.type, error.value, ' +
        'message, logger, level, tags.NAME, stack.function, stack.module, stack.abs_path, stack.package, app, family, ' +
        'release, sdk; ! negates; values are globs. Events already stored keep their issues.'),
      cards.length ? cards : h('p', {class: 'empty'}, 'No projects.')));
  }

  function quotaForm(base) {
    const limit = h('input', {type: 'number', name: 'limit', min: '0', step: '1', required: true, value: '100'});
    const window_ = h('input', {type: 'number', name: 'window', min: '1', max: '86400', step: '1', value: '60'});
    const categories = h('select', {name: 'categories', multiple: true, size: '4'},
      QUOTA_CATEGORIES.map((c) => h('option', {value: c}, c)));
    const key = h('input', {type: 'text', name: 'publicKey', placeholder: 'all keys', maxlength: '32'});
    const reason = h('input', {type: 'text', name: 'reason', placeholder: 'quota_exceeded'});
    const status = h('span', {class: 'muted'});
    return h('form', {class: 'quota', onsubmit: async (ev) => {
      ev.preventDefault();
      const body = {
        limit: Number(limit.value),
        window: Number(window_.value || 60),
        categories: Array.from(categories.selectedOptions).map((o) => o.value),
      };
      if (key.value.trim()) body.publicKey = key.value.trim();
      if (reason.value.trim()) body.reason = reason.value.trim();
      try {
        await api(base, {method: 'POST', body});
        render();
      } catch (err) {
        if (!(err instanceof AuthError)) status.textContent = err.message;
      }
    }},
    h('h4', null, 'Add a quota'),
    h('label', null, 'at most ', limit, ' items'),
    h('label', null, ' per ', window_, ' s'),
    h('label', null, ' of ', categories, ' (none chosen: all)'),
    h('label', null, ' sent with key ', key),
    h('label', null, ' reason ', reason),
    ' ', h('button', {type: 'submit'}, 'Add'), ' ', status);
  }

  // ---------------------------------------------------------------- live

  async function liveView(generation, params) {
    const level = params.get('level') || '';
    const project = projectParam();
    const first = await api(apiPath('/api/0/local/stream/', {tail: 50, project, level}));
    let cursor = first.data && typeof first.data.cursor === 'number' ? first.data.cursor : 0;
    const tbody = h('tbody');
    const count = h('span', {class: 'muted'});
    let paused = false;
    const pause = h('button', {type: 'button', onclick: () => {
      paused = !paused;
      pause.textContent = paused ? 'Resume' : 'Pause';
    }}, 'Pause');
    const add = (events, flash) => {
      for (const e of events) {
        const row = h('tr', {class: flash ? 'new' : null},
          h('td', null, stamp(e.dateCreated)),
          h('td', null, levelBadge(e.level)),
          h('td', null, e.groupID ? h('a', {href: '#/issues/' + enc(e.groupID) + '/events/' + enc(e.eventID)}, String(e.title || '(no title)')) : String(e.title || '')),
          h('td', null, String(e.environment || '')),
          h('td', null, String(e.release || '')),
          h('td', {class: 'num'}, String(e.projectID)));
        tbody.insertBefore(row, tbody.firstChild);
      }
      while (tbody.childNodes.length > 500) tbody.removeChild(tbody.lastChild);
      count.textContent = tbody.childNodes.length + ' shown, newest first; polling every 2 s';
    };
    add((first.data && first.data.events) || [], false);
    const levelSelect = select('level', level, [['', 'any level']].concat(LEVELS.map((l) => [l, l])));
    levelSelect.addEventListener('change', () => { location.hash = link('/live', {level: levelSelect.value}); });
    setView(generation, h('div', null,
      h('div', {class: 'titlebar'}, h('h1', null, 'Live events'), count, levelSelect, pause),
      h('table', {class: 'list live'},
        h('thead', null, h('tr', null, h('th', null, 'Time (local)'), h('th', null, 'Level'), h('th', null, 'Title'), h('th', null, 'Environment'), h('th', null, 'Release'), h('th', {class: 'num'}, 'Project'))),
        tbody)));
    let busy = false;
    every(generation, 2000, async () => {
      if (paused || busy || document.visibilityState !== 'visible') return;
      busy = true;
      try {
        const {data} = await api(apiPath('/api/0/local/stream/', {after: cursor, project, level, limit: 200}));
        if (generation !== state.generation || !data) return;
        if (typeof data.cursor === 'number') cursor = data.cursor;
        if (Array.isArray(data.events) && data.events.length) add(data.events, true);
      } catch (_) {
        // a receiver restart: the next tick retries (or the login shows)
      } finally {
        busy = false;
      }
    });
  }

  // ---------------------------------------------------------------- start

  async function start() {
    takeTokenFromFragment();
    state.token = state.token || loadToken();
    try {
      state.project = sessionStorage.getItem(PROJECT_KEY) || '-1';
    } catch (_) {
      state.project = '-1';
    }
    document.getElementById('project').addEventListener('change', (e) => {
      state.project = e.target.value;
      sessionSet(PROJECT_KEY, state.project);
      // Another project's list starts at its first page.
      const {params} = route();
      if (params.has('cursor')) {
        params.delete('cursor');
        const path = location.hash.replace(/^#/, '').split('?')[0] || '/issues';
        const qs = params.toString();
        location.hash = '#' + path + (qs ? '?' + qs : '');
        return; // the hashchange renders
      }
      render();
    });
    document.getElementById('forget').addEventListener('click', () => {
      forgetToken();
      updateRemember();
      showLogin('Token forgotten.');
    });
    document.getElementById('remember').addEventListener('click', () => {
      if (state.token) saveToken(state.token, true);
      updateRemember();
    });
    window.addEventListener('hashchange', async () => {
      // A pasted `#token=…` link while the page is open (maybe on the
      // login form, before any project was loaded).
      if (/(?:^#|[?&#])token=/.test(location.hash)) {
        takeTokenFromFragment();
        try {
          await loadProjects();
        } catch (err) {
          if (err instanceof AuthError) return;
        }
      }
      render();
    });
    if (state.token) {
      try {
        await loadProjects();
      } catch (err) {
        if (err instanceof AuthError) return;
      }
    }
    render();
  }

  start();
})();
