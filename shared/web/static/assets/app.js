// Entry point: hash router, top bar, language picker and focus management.
// Hash routing (#/decks) keeps the app servable as plain static files (S3 + CloudFront) with no
// server-side fallback.

import { api, session, setUnauthorizedHandler } from './api.js';
import { h, mount } from './dom.js';
import { LANGUAGES, getLanguage, setLanguage, t } from './i18n.js';
import * as auth from './views/auth.js';
import * as decks from './views/decks.js';
import * as study from './views/study.js';
import * as cards from './views/cards.js';
import * as stats from './views/stats.js';
import * as transfer from './views/transfer.js';
import * as sync from './views/sync.js';
import * as settings from './views/settings.js';
import * as options from './views/options.js';

const main = document.getElementById('main');
const topbar = document.getElementById('topbar');
const toastEl = document.getElementById('toast');

const ROUTES = [
  { re: /^\/login$/, view: auth.login, public: true },
  { re: /^\/register$/, view: auth.register, public: true },
  { re: /^\/decks$/, view: decks.render, nav: 'decks' },
  { re: /^\/study$/, view: study.render, nav: 'study' },
  { re: /^\/decks\/(\d+)\/cards$/, view: cards.render, nav: 'decks' },
  { re: /^\/decks\/(\d+)\/stats$/, view: stats.render, nav: 'decks' },
  { re: /^\/transfer$/, view: transfer.render, nav: 'transfer' },
  { re: /^\/sync$/, view: sync.render, nav: 'sync' },
  { re: /^\/settings$/, view: settings.render, nav: 'settings' },
  { re: /^\/decks\/(\d+)\/options$/, view: options.render, nav: 'decks' },
];

/** Cleanup of the current view (e.g. the study screen's keyboard listener). */
let cleanup = null;
/** Messages that must survive a navigation (e.g. "your session expired" on the login screen). */
let pendingNotice = null;
/** Bumped on every navigation; a render that finishes after a newer one started is dropped. */
let routeSeq = 0;

export function navigate(path) {
  if (location.hash === `#${path}`) route();
  else location.hash = path;
}

/** Polite announcement for screen readers and a visible toast for everyone. */
let toastTimer;
export function toast(message, kind = 'info') {
  toastEl.textContent = message;
  toastEl.dataset.kind = kind;
  toastEl.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => toastEl.classList.remove('show'), 4000);
}

export function notice(message) { pendingNotice = message; }
export function takeNotice() { const n = pendingNotice; pendingNotice = null; return n; }

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?');
  return { path, query: new URLSearchParams(query) };
}

async function route() {
  const { path, query } = parseHash();
  if (!path.startsWith('/')) return; // in-page anchors, not routes
  const loggedIn = Boolean(session.token);
  let match = null;
  let params = [];
  for (const r of ROUTES) {
    const m = path.match(r.re);
    if (m) { match = r; params = m.slice(1); break; }
  }
  if (!match) return navigate(loggedIn ? '/decks' : '/login');
  if (!match.public && !loggedIn) return navigate('/login');
  if (match.public && loggedIn) return navigate('/decks');

  if (cleanup) { cleanup(); cleanup = null; }
  const seq = ++routeSeq;
  renderTopbar(match.nav);
  mount(main, h('p', { class: 'loading' }, t('common.loading')));
  // Views render into a detached container, swapped in only if no newer navigation started
  // meanwhile: a slow screen must never paint over the one the student moved on to.
  const view = h('div', { class: 'view' });
  const ctx = { params, query, navigate, toast, takeNotice, api, session };
  let viewCleanup = null;
  try {
    viewCleanup = (await match.view(view, ctx)) || null;
  } catch (err) {
    if (err?.status === 401) return; // the unauthorized handler already redirected
    mount(view, h('div', { class: 'panel' },
      h('h1', {}, t('error.title')),
      h('p', { class: 'error', role: 'alert' }, err?.message || String(err)),
      h('button', { class: 'btn', type: 'button', onclick: () => route() }, t('common.retry'))));
  }
  if (seq !== routeSeq) {
    viewCleanup?.();
    return;
  }
  cleanup = viewCleanup;
  mount(main, view);
  focusHeading();
  view.dispatchEvent(new Event('view-shown'));
}

/** After a screen change, move focus to its heading so keyboard and screen-reader users land there. */
function focusHeading() {
  const heading = main.querySelector('h1');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: false });
    document.title = `${heading.textContent} · javumbo`;
  } else {
    main.focus();
  }
}

function renderTopbar(active) {
  const user = session.user;
  const langSelect = h('select', {
    id: 'lang-select',
    onchange: (e) => { setLanguage(e.target.value); route(); },
  }, LANGUAGES.map(([code, label]) =>
    h('option', { value: code, selected: code === getLanguage() }, label)));

  const children = [
    h('a', { class: 'brand', href: session.token ? '#/decks' : '#/login' },
      h('img', { src: 'assets/icon.svg', alt: '', width: 28, height: 28 }), 'javumbo'),
  ];
  if (session.token) {
    const link = (key, href) => h('a', {
      href, class: 'nav-link', 'aria-current': active === key ? 'page' : false,
    }, t(`nav.${key}`));
    children.push(h('nav', { 'aria-label': t('nav.label'), class: 'nav' },
      link('decks', '#/decks'), link('study', '#/study'), link('transfer', '#/transfer'),
      link('sync', '#/sync'), link('settings', '#/settings')));
  }
  const right = h('div', { class: 'topbar-right' },
    h('label', { for: 'lang-select', class: 'sr-only' }, t('nav.language')), langSelect);
  if (session.token) {
    right.append(
      h('span', { class: 'whoami', title: user?.username || '' }, user?.name || user?.username || ''),
      h('button', { type: 'button', class: 'btn btn-quiet', id: 'logout', onclick: logout }, t('nav.logout')));
  }
  children.push(right);
  mount(topbar, ...children);
}

async function logout() {
  // The server voids the token; if it cannot be reached the token is still forgotten here.
  try { await api.logout(); } catch { /* already void, or offline */ }
  session.clear();
  toast(t('auth.loggedOut'));
  navigate('/login');
}

setUnauthorizedHandler(() => {
  notice(t('error.expired'));
  navigate('/login');
});

document.getElementById('skip-link').addEventListener('click', () => main.focus());
document.documentElement.lang = getLanguage();
document.getElementById('skip-link').textContent = t('nav.skip');
window.addEventListener('hashchange', route);
route();
