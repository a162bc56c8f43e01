// UI behaviour that needs a server misbehaving on cue, so it runs against the in-memory mock
// API (lib/mock-api.mjs): takeover 503s, expired tokens, API errors, hostile card HTML, the
// "nothing due" state and the Portuguese / Spanish UI.

import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { launch, screenshot } from './lib/harness.mjs';
import { startMock } from './lib/mock-api.mjs';

let mock;
let browser;
let n = 0;

before(async () => {
  mock = await startMock({ cardsInStarter: 3 });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await mock?.stop();
});
beforeEach(async () => {
  await browser.page.goto(`${mock.url}/#/login`);
  await browser.page.evaluate(() => localStorage.clear());
});

async function signUp(page) {
  const username = `u${++n}_${Date.now().toString(36)}`;
  const res = await fetch(`${mock.url}/api/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, name: 'Lucía', password: 'password123' }),
  });
  assert.equal(res.status, 200);
  await page.goto(`${mock.url}/#/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill('password123');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Your decks' }).waitFor();
  const login = await fetch(`${mock.url}/api/login`, {
    method: 'POST', body: JSON.stringify({ username, password: 'password123' }),
  });
  return { username, token: (await login.json()).access_token };
}

const count = (path) => mock.requests().filter((r) => r.path === path).length;

test('a takeover 503 is retried once, honouring Retry-After', async () => {
  const { page } = browser;
  await signUp(page);
  const before = count('/api/decks');
  await mock.fault({ path: '/api/decks', status: 503, retryAfter: 1 });
  const started = Date.now();
  await page.reload();
  await page.locator('li.deck').first().waitFor();
  assert.ok(Date.now() - started >= 900, 'waited for Retry-After');
  assert.equal(count('/api/decks') - before, 2, 'exactly one retry');
});

test('a write carries one Idempotency-Key across its retry; reads carry none', async () => {
  const { page } = browser;
  await signUp(page);
  const seen = mock.requests().length;
  await mock.fault({ path: '/api/decks', method: 'POST', status: 503, retryAfter: 0 });
  const created = await page.evaluate(async () => {
    const { api } = await import('/assets/api.js');
    return api.createDeck('Retried deck');
  });
  assert.equal(created.name, 'Retried deck');
  const posts = mock.requests().slice(seen).filter((r) => r.method === 'POST' && r.path === '/api/decks');
  assert.equal(posts.length, 2, 'one retry');
  assert.match(posts[0].key, /^[!-~]{1,255}$/);
  assert.equal(posts[1].key, posts[0].key, 'the retry is the same write');
  await page.evaluate(async () => (await import('/assets/api.js')).api.decks());
  const gets = mock.requests().slice(seen).filter((r) => r.method === 'GET' && r.path === '/api/decks');
  assert.ok(gets.length >= 1 && gets.every((r) => r.key === undefined));
  // Two writes never share a key.
  await page.evaluate(async () => (await import('/assets/api.js')).api.createDeck('Another deck'));
  const last = mock.requests().filter((r) => r.method === 'POST' && r.path === '/api/decks').at(-1);
  assert.notEqual(last.key, posts[0].key);
});

test('a second 503 becomes a readable error with a retry button', async () => {
  const { page } = browser;
  await signUp(page);
  await mock.fault({ path: '/api/decks', status: 503, retryAfter: 0, count: 2 });
  await page.reload();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.textContent(), /The server had a problem/);
  await screenshot(page, 'resilience-error');
  await page.getByRole('button', { name: 'Try again' }).click();
  await page.locator('li.deck').first().waitFor();
});

test('an expired token sends the student back to log in, with a reason', async () => {
  const { page } = browser;
  await signUp(page);
  await mock.expire();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Study' }).click();
  await page.getByRole('heading', { name: 'Welcome back' }).waitFor();
  assert.match(await page.locator('.notice').textContent(), /session has ended/);
  assert.equal(await page.evaluate(() => localStorage.getItem('javumbo.token')), null);
});

test('API errors are shown as the server words them', async () => {
  const { page } = browser;
  await page.goto(`${mock.url}/#/login`);
  await page.getByLabel('Username').fill('nobody');
  await page.getByLabel('Password').fill('wrong-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').filter({ hasText: 'Invalid credentials' }).waitFor();

  const { username } = await signUp(page);
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByLabel('Your name').fill('Someone');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill('password123');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('alert').filter({ hasText: 'Username already exists' }).waitFor();
});

test('card HTML is sanitised: formatting kept, scripts and handlers dropped', async () => {
  const { page } = browser;
  const { token } = await signUp(page);
  // A deck of its own so this card is the only one due.
  const deck = await (await fetch(`${mock.url}/api/decks`, {
    method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify({ name: 'Hostile' }),
  })).json();
  await fetch(`${mock.url}/api/cards`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}` },
    body: JSON.stringify({
      deckId: deck.id,
      front: '<b>bold</b><img src=x onerror="window.__xss=1"><script>window.__xss=2</script><a href="javascript:window.__xss=3">link</a>',
      back: '<i style="color:red" onclick="window.__xss=4">italic</i>',
    }),
  });
  await page.reload();
  await page.locator('li.deck').filter({ hasText: 'Hostile' }).getByRole('button', { name: 'Study' }).click();
  const front = page.locator('.card-face.front .card-content');
  await front.waitFor();
  assert.equal(await front.innerHTML(), '<b>bold</b>link');
  await page.keyboard.press('Space');
  assert.equal(await page.locator('.card-face.back .card-content').innerHTML(), '<i>italic</i>');
  await page.waitForTimeout(200);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
});

test('nothing due is a clear, calm state', async () => {
  const { page } = browser;
  const { token } = await signUp(page);
  const deck = await (await fetch(`${mock.url}/api/decks`, {
    method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify({ name: 'Empty deck' }),
  })).json();
  await page.reload();
  await page.locator('li.deck').filter({ hasText: 'Empty deck' }).getByRole('button', { name: 'Study' }).click();
  await page.locator('#nothing-due').waitFor();
  assert.match(await page.locator('#nothing-due h2').textContent(), /All caught up/);
  assert.match(await page.locator('#study-live').textContent(), /All caught up/);
  assert.ok(deck.id);
  await screenshot(page, 'nothing-due');
});

test('Portuguese and Spanish UI: from the browser language, then from the picker', async () => {
  const pt = await launch({ locale: 'pt-BR' });
  try {
    await pt.page.goto(mock.url);
    await pt.page.getByRole('heading', { name: 'Bem-vindo de volta' }).waitFor();
    assert.equal(await pt.page.evaluate(() => document.documentElement.lang), 'pt');
    await screenshot(pt.page, 'login-pt');
    await pt.page.getByLabel('Idioma').selectOption('es');
    await pt.page.getByRole('heading', { name: 'Bienvenido de nuevo' }).waitFor();
    await pt.page.reload();
    await pt.page.getByRole('heading', { name: 'Bienvenido de nuevo' }).waitFor();
    assert.equal(await pt.page.evaluate(() => document.documentElement.lang), 'es');
    assert.deepEqual(pt.problems, []);
  } finally {
    await pt.close();
  }
});

test('dark mode follows the system setting', async () => {
  const dark = await launch({ colorScheme: 'dark' });
  try {
    await dark.page.goto(mock.url);
    await dark.page.getByRole('heading', { name: 'Welcome back' }).waitFor();
    const bg = await dark.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = bg.match(/\d+/g).map(Number);
    assert.ok(r + g + b < 150, `dark background, got ${bg}`);
    await screenshot(dark.page, 'login-dark');
    assert.deepEqual(dark.problems, []);
  } finally {
    await dark.close();
  }
});

test('the app ran without console errors', () => {
  assert.deepEqual(browser.problems, []);
});
