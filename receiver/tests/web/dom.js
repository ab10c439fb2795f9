// A minimal browser for the web page's tests: just the DOM, forms,
// location, history, storage and dialogs that receiver/src/web/app.js uses, with
// Node's own fetch pointed at a real receiver. No rendering, no CSS: a
// test drives the page (navigate, fill in, click) and reads its text.
//
//   const {loadPage} = require('./dom.js');
//   const page = await loadPage('http://127.0.0.1:1234', '#token=…');
//   await page.go('#/quotas');
//   console.log(page.text());
'use strict';

const fs = require('fs');
const path = require('path');
const vm = require('vm');

class Node {
  constructor() {
    this.parentNode = null;
    this.childNodes = [];
  }
  get firstChild() { return this.childNodes[0] || null; }
  get lastChild() { return this.childNodes[this.childNodes.length - 1] || null; }
  get children() { return this.childNodes.filter((c) => c instanceof Element); }
  appendChild(child) { return this.insertBefore(child, null); }
  insertBefore(child, ref) {
    if (child.parentNode) child.parentNode.removeChild(child);
    const at = ref ? this.childNodes.indexOf(ref) : -1;
    if (at < 0) this.childNodes.push(child);
    else this.childNodes.splice(at, 0, child);
    child.parentNode = this;
    return child;
  }
  removeChild(child) {
    const at = this.childNodes.indexOf(child);
    if (at < 0) throw new Error('removeChild: not a child');
    this.childNodes.splice(at, 1);
    child.parentNode = null;
    return child;
  }
  replaceChildren(...nodes) {
    for (const c of this.childNodes) c.parentNode = null;
    this.childNodes = [];
    for (const n of nodes) this.appendChild(typeof n === 'string' ? new Text(n) : n);
  }
  get textContent() { return this.childNodes.map((c) => c.textContent).join(''); }
  set textContent(v) { this.replaceChildren(new Text(String(v))); }
}

class Text extends Node {
  constructor(data) {
    super();
    this.data = String(data);
  }
  get textContent() { return this.data; }
  set textContent(v) { this.data = String(v); }
}

class Element extends Node {
  constructor(tag) {
    super();
    this.tagName = String(tag).toUpperCase();
    this.attributes = new Map();
    this.listeners = {};
    this._value = '';
    this.checked = false;
    this.disabled = false;
    this.selected = false;
    this.open = false;
    this.style = {};
    const el = this;
    this.classList = {
      contains: (c) => el.className.split(/\s+/).includes(c),
      add: (c) => { if (!el.classList.contains(c)) el.className = (el.className + ' ' + c).trim(); },
      remove: (c) => { el.className = el.className.split(/\s+/).filter((x) => x && x !== c).join(' '); },
      toggle: (c, on) => {
        const want = on === undefined ? !el.classList.contains(c) : Boolean(on);
        if (want) el.classList.add(c);
        else el.classList.remove(c);
        return want;
      },
    };
  }
  get className() { return this.attributes.get('class') || ''; }
  set className(v) { this.attributes.set('class', String(v)); }
  get id() { return this.getAttribute('id') || ''; }
  setAttribute(k, v) { this.attributes.set(k, String(v)); }
  getAttribute(k) { return this.attributes.has(k) ? this.attributes.get(k) : null; }
  hasAttribute(k) { return this.attributes.has(k); }
  removeAttribute(k) { this.attributes.delete(k); }
  addEventListener(type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); }
  removeEventListener(type, fn) {
    this.listeners[type] = (this.listeners[type] || []).filter((f) => f !== fn);
  }
  dispatchEvent(event) {
    if (!event.target) event.target = this;
    for (const fn of this.listeners[event.type] || []) fn.call(this, event);
    if (this.parentNode instanceof Element && event.bubbles && !event.stopped) this.parentNode.dispatchEvent(event);
    return !event.defaultPrevented;
  }
  focus() {}
  // The page builds its DOM from elements and text only (app.js's rule):
  // markup from strings fails here as a browser's CSP would not catch it.
  set innerHTML(_) { throw new Error('dom.js: innerHTML is not allowed'); }
  set outerHTML(_) { throw new Error('dom.js: outerHTML is not allowed'); }
  insertAdjacentHTML() { throw new Error('dom.js: insertAdjacentHTML is not allowed'); }
  click() {
    // A disabled button does nothing, as in a browser.
    if (this.disabled) return;
    const ev = makeEvent('click', this);
    this.dispatchEvent(ev);
    if (ev.defaultPrevented || this.tagName !== 'BUTTON' || this.disabled) return;
    if ((this.getAttribute('type') || 'submit') !== 'submit') return;
    for (let p = this.parentNode; p; p = p.parentNode) {
      if (p.tagName === 'FORM') {
        p.dispatchEvent(makeEvent('submit', p));
        return;
      }
    }
  }
  get options() { return this.findAll((e) => e.tagName === 'OPTION'); }
  // A select's value is its (first) selected option's, as in a browser.
  get value() {
    if (this.tagName !== 'SELECT') return this._value;
    const chosen = this.options.find((o) => o.selected) || this.options[0];
    return chosen ? chosen.value : '';
  }
  set value(v) {
    if (this.tagName !== 'SELECT') {
      this._value = String(v);
      return;
    }
    for (const o of this.options) o.selected = o.value === String(v);
  }
  get selectedOptions() { return this.options.filter((o) => o.selected); }
  // Every descendant element `pred` accepts, in document order.
  findAll(pred) {
    const out = [];
    const walk = (n) => {
      for (const c of n.childNodes) {
        if (!(c instanceof Element)) continue;
        if (pred(c)) out.push(c);
        walk(c);
      }
    };
    walk(this);
    return out;
  }
  // Selectors of the forms `#id`, `.class`, `tag`, `tag.class`, `tag[name=x]`,
  // joined by spaces for descendants: what app.js and the tests use.
  querySelectorAll(selector) {
    let scope = [this];
    for (const part of selector.trim().split(/\s+/)) {
      const test = simpleSelector(part);
      const next = [];
      for (const s of scope) for (const e of s.findAll(test)) if (!next.includes(e)) next.push(e);
      scope = next;
    }
    return scope;
  }
  querySelector(selector) { return this.querySelectorAll(selector)[0] || null; }
}

function simpleSelector(part) {
  const m = /^([a-zA-Z0-9]*)(?:#([\w-]+))?(?:\.([\w-]+))?(?:\[([\w-]+)=["']?([^"'\]]*)["']?\])?$/.exec(part);
  if (!m) throw new Error('dom.js: unsupported selector ' + part);
  const [, tag, id, cls, attr, value] = m;
  return (e) => (!tag || e.tagName === tag.toUpperCase()) &&
    (!id || e.getAttribute('id') === id) &&
    (!cls || e.classList.contains(cls)) &&
    (!attr || e.getAttribute(attr) === value);
}

function makeEvent(type, target) {
  return {
    type,
    target,
    bubbles: type === 'click' || type === 'change',
    defaultPrevented: false,
    stopped: false,
    preventDefault() { this.defaultPrevented = true; },
    stopPropagation() { this.stopped = true; },
  };
}

// What `new FormData(form)` reads: the named fields of a form.
class FormData {
  constructor(form) {
    this.map = new Map();
    const fields = form.findAll((e) => ['INPUT', 'SELECT', 'TEXTAREA'].includes(e.tagName) && e.getAttribute('name'));
    for (const e of fields) {
      const type = e.getAttribute('type');
      if ((type === 'checkbox' || type === 'radio') && !e.checked) continue;
      this.map.set(e.getAttribute('name'), e.value);
    }
  }
  get(name) { return this.map.has(name) ? this.map.get(name) : null; }
}

class Storage {
  constructor() { this.map = new Map(); }
  getItem(k) { return this.map.has(k) ? this.map.get(k) : null; }
  setItem(k, v) { this.map.set(k, String(v)); }
  removeItem(k) { this.map.delete(k); }
}

// The page's static markup (index.html's header and main), as elements.
function skeleton(document) {
  const el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const k of kids) e.appendChild(typeof k === 'string' ? document.createTextNode(k) : k);
    return e;
  };
  const html = fs.readFileSync(path.join(__dirname, '../../src/web/index.html'), 'utf8');
  const nav = el('nav', {id: 'nav'});
  for (const m of html.matchAll(/<a href="(#\/[^"]*)" data-view="([^"]*)">([^<]*)<\/a>/g)) {
    nav.appendChild(el('a', {href: m[1], 'data-view': m[2]}, m[3]));
  }
  const project = el('select', {id: 'project'}, el('option', {value: '-1'}, 'all'));
  document.body.appendChild(el('header', {class: 'top'}, nav, project,
    el('button', {id: 'remember', type: 'button'}, 'Remember token'),
    el('button', {id: 'forget', type: 'button'}, 'Forget token')));
  document.body.appendChild(el('main', {id: 'main'}));
}

function spaced(node) {
  if (node instanceof Text) return node.data;
  return node.childNodes.map((c) => (c instanceof Element ? ' ' + spaced(c) + ' ' : spaced(c))).join('');
}

// Loads app.js against the receiver at `base`, starting at `hash`.
async function loadPage(base, hash, stored) {
  // A script that hangs (a page timer keeping Node alive, a request that
  // never settles) fails instead of holding the test run.
  setTimeout(() => {
    console.error('dom.js: the page script ran for over 60 s');
    process.exit(2);
  }, 60_000).unref();
  const body = new Element('body');
  const document = {
    body,
    visibilityState: 'visible',
    createElement: (tag) => new Element(tag),
    createTextNode: (text) => new Text(text),
    getElementById: (id) => body.findAll((e) => e.getAttribute('id') === id)[0] || null,
    querySelectorAll: (s) => body.querySelectorAll(s),
    querySelector: (s) => body.querySelector(s),
  };
  skeleton(document);

  const windowListeners = {};
  const dialogs = [];
  let currentHash = hash || '';
  const fireHashChange = () => {
    for (const fn of windowListeners.hashchange || []) fn(makeEvent('hashchange', null));
  };
  const location = {
    pathname: '/ui/',
    search: '',
    get hash() { return currentHash; },
    set hash(v) {
      const next = String(v).startsWith('#') ? String(v) : '#' + v;
      if (next === currentHash) return;
      currentHash = next;
      setTimeout(fireHashChange, 0);
    },
  };
  const history = {
    replaceState(_state, _title, url) {
      const at = String(url).indexOf('#');
      currentHash = at >= 0 ? String(url).slice(at) : '';
    },
  };
  let inFlight = 0;
  // Added to every response's time: a slow network, for races.
  const network = {delay: 0};
  const realFetch = globalThis.fetch;
  if (typeof realFetch !== 'function') throw new Error('dom.js needs Node 18 or later (global fetch)');
  const fetch = async (url, options) => {
    inFlight++;
    try {
      const response = await realFetch(new URL(String(url), base), options);
      if (network.delay) await new Promise((r) => setTimeout(r, network.delay));
      return response;
    } finally {
      inFlight--;
    }
  };
  const window = {
    addEventListener(type, fn) { (windowListeners[type] = windowListeners[type] || []).push(fn); },
    confirm(message) { dialogs.push({kind: 'confirm', message}); return true; },
    alert(message) { dialogs.push({kind: 'alert', message}); },
  };
  // Intervals the page has running, so a test can see none is left behind
  // by a view it has left.
  const intervals = new Set();
  const realSetInterval = globalThis.setInterval;
  const realClearInterval = globalThis.clearInterval;
  const setInterval = (fn, ms) => {
    const id = realSetInterval(fn, ms);
    intervals.add(id);
    return id;
  };
  const clearInterval = (id) => {
    intervals.delete(id);
    realClearInterval(id);
  };
  Object.assign(globalThis, {
    setInterval, clearInterval,
    document, window, location, history, fetch, Node, Element, Text, FormData,
    sessionStorage: new Storage(),
    localStorage: new Storage(),
  });
  // What the browser remembered before the page loaded: {key: value}.
  for (const [k, v] of Object.entries(stored || {})) localStorage.setItem(k, v);

  // Waits until no request is in flight and the page has had time to
  // render what the last one returned.
  const settle = async () => {
    let quiet = 0;
    for (let i = 0; i < 500 && quiet < 5; i++) {
      await new Promise((r) => setTimeout(r, 10));
      quiet = inFlight === 0 ? quiet + 1 : 0;
    }
    if (quiet < 5) throw new Error('dom.js: the page did not settle');
  };

  const code = fs.readFileSync(path.join(__dirname, '../../src/web/app.js'), 'utf8');
  vm.runInThisContext(code, {filename: 'app.js'});
  await settle();
  const main = document.getElementById('main');
  return {
    document,
    main,
    dialogs,
    settle,
    async go(to) {
      location.hash = to;
      await settle();
    },
    // The main area's text, a space between elements (as cells and
    // paragraphs would be apart on screen).
    text() { return spaced(main).replace(/\s+/g, ' ').trim(); },
    // Prints one line of JSON for the test to read: the step's name, the
    // page's hash and its main area's text.
    report(step) {
      console.log(JSON.stringify({step, hash: location.hash, text: this.text()}));
    },
    // The one button of the main area labelled `label` (throws unless
    // there is exactly one).
    button(label) {
      const found = main.findAll((e) => e.tagName === 'BUTTON' && e.textContent === label);
      if (found.length !== 1) throw new Error('expected one ' + label + ' button, found ' + found.length);
      return found[0];
    },
    // How many intervals the page has running.
    intervals() { return intervals.size; },
    // Navigates without waiting for the page to settle.
    jump(to) { location.hash = to; },
    // Makes every later response take `ms` longer.
    slowNetwork(ms) { network.delay = ms; },
  };
}

module.exports = {loadPage};
