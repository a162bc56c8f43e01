// Issue 15 §2: the original app's React client runs on another origin than the API. It keeps
// the JWT in localStorage and sends `X-Session-ID` back on every request once it holds one,
// which makes every later call a CORS preflight. A stand-in page served from a second origin
// makes exactly those calls in headless Chromium against a real javumbo-local: register,
// login, read decks (reading `X-Session-ID` from the response), add a card with
// `X-Session-ID`, answer a card with it, and flush the session. If the preflight stopped
// allowing `X-Session-ID`, or the header stopped being exposed, Chrome would block the calls.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { launch, startServer } from './lib/harness.mjs';

let server;
let browser;
let front;
let frontUrl;

const PAGE = `<!doctype html><meta charset="utf-8"><title>stand-in client</title>
<script>
window.run = async (api, user) => {
  const log = [];
  let token = null;
  let sid = null;
  const call = async (method, path, body) => {
    const headers = { 'Content-Type': 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    if (sid) headers['X-Session-ID'] = sid;
    const r = await fetch(api + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
    const seen = r.headers.get('X-Session-ID');
    if (seen) sid = seen;
    const json = await r.json();
    log.push({ method, path, status: r.status, sid: seen });
    return json;
  };
  await call('POST', '/api/register', { username: user, name: 'Cross', password: 'password123' });
  token = (await call('POST', '/api/login', { username: user, password: 'password123' })).access_token;
  await call('GET', '/api/decks');
  await call('POST', '/api/cards', { front: 'cross', back: 'origin' });
  const next = await call('GET', '/api/review');
  if (next.cardId) await call('POST', '/api/review', { cardId: next.cardId, ease: 3, timeTaken: 1000 });
  await call('POST', '/api/session/flush', { session_id: sid });
  await call('GET', '/api/session/status');
  return log;
};
</script>`;

before(async () => {
  server = await startServer();
  front = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  });
  await new Promise((r) => front.listen(0, '127.0.0.1', r));
  // "localhost" versus the API's "127.0.0.1", and another port: a different origin.
  frontUrl = `http://localhost:${front.address().port}/`;
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await new Promise((r) => (front ? front.close(r) : r()));
});

test('a client on another origin sends X-Session-ID on every call, as the original app does', async () => {
  const { page, problems } = browser;
  await page.goto(frontUrl);
  const api = server.url.replace(/\/+$/, '');
  assert.notEqual(new URL(api).origin, new URL(frontUrl).origin);
  const user = `xo_${Date.now().toString(36)}`.slice(0, 20);
  const log = await page.evaluate(([a, u]) => window.run(a, u), [api, user]);
  const statuses = log.map((e) => `${e.method} ${e.path} ${e.status}`);
  assert.deepEqual(statuses, [
    'POST /api/register 200',
    'POST /api/login 200',
    'GET /api/decks 200',
    'POST /api/cards 201',
    'GET /api/review 200',
    'POST /api/review 200',
    'POST /api/session/flush 200',
    'GET /api/session/status 200',
  ]);
  // The session id was readable cross-origin (exposed) and came back on the flush.
  assert.ok(log.find((e) => e.path === '/api/decks').sid, 'X-Session-ID not exposed');
  assert.ok(log.find((e) => e.path === '/api/session/flush').sid);
  assert.deepEqual(problems, []);
});
