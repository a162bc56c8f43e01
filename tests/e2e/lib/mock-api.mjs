// An in-memory stand-in for the javumbo API (API.md), for UI tests that need behaviour a real
// server cannot be asked for on demand: a takeover 503 with Retry-After, an expired token, a
// failing route. It also serves shared/web/static like javumbo_web::router() does. It is NOT a
// reference implementation: scheduling is a crude imitation (Good on a new card → learning).
//
// Test hooks (no auth): POST /_mock/fault {path, status, retryAfter, count, error}
//                       POST /_mock/expire (every token becomes invalid)
//                       GET  /_mock/log (the requests seen: [{method, path, key}], key = Idempotency-Key)

import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const STATIC = fileURLToPath(new URL('../../../shared/web/static/', import.meta.url));
// The same policy javumbo_web::router() sends, so UI tests on the mock also catch CSP violations.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
  + "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };

export async function startMock({ cardsInStarter = 12 } = {}) {
  const users = new Map(); // username → {name, password, decks, cards, current, nextId}
  const tokens = new Map(); // token → username
  const faults = [];
  const log = [];

  const json = (res, status, body, headers = {}) => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  function newUser(name, password) {
    const u = { name, password, decks: [], cards: [], current: 2, nextId: 1000 };
    u.decks.push({ id: 1, name: 'Default', desc: '' }, { id: 2, name: 'Verbal Tenses', desc: '' });
    for (let i = 1; i <= cardsInStarter; i++) {
      u.cards.push(card(u, 2, `Sentence ${i}: I <b>have</b> eaten.`, `Tense ${i}: present perfect`));
    }
    return u;
  }
  function card(u, deckId, front, back) {
    const id = u.nextId++;
    return { cardId: id, noteId: id + 100000, deckId, front, back, type: 0, queue: 0, due: 0, ivl: 0, modified: Date.now() };
  }
  const visibleDecks = (u) => u.decks.filter((d) => d.id !== 1 || u.cards.some((c) => c.deckId === 1));

  async function body(req) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    return Buffer.concat(chunks);
  }

  async function handle(req, res) {
    const url = new URL(req.url, 'http://x');
    const path = url.pathname;
    const method = req.method;

    if (path === '/_mock/fault' && method === 'POST') {
      faults.push({ count: 1, ...JSON.parse((await body(req)).toString()) });
      return json(res, 200, { ok: true });
    }
    if (path === '/_mock/expire') { tokens.clear(); return json(res, 200, { ok: true }); }
    if (path === '/_mock/log') return json(res, 200, log);

    if (!path.startsWith('/api/')) return serveStatic(path, res);
    log.push({ method, path, key: req.headers['idempotency-key'] });

    const fault = faults.find((f) => f.count > 0 && path === f.path && (!f.method || f.method === method));
    if (fault) {
      fault.count -= 1;
      const headers = fault.retryAfter != null ? { 'Retry-After': String(fault.retryAfter) } : {};
      return json(res, fault.status, { error: fault.error || 'Session is being taken over, retry' }, headers);
    }

    if (path === '/api/health') return json(res, 200, { status: 'ok' });
    if (path === '/api/register' && method === 'POST') {
      const { username, name, password } = JSON.parse((await body(req)).toString() || '{}');
      if (!username || !name || !password) return json(res, 400, { error: 'Missing required field' });
      if ((password || '').length < 8) return json(res, 400, { error: 'Password must be at least 8 characters' });
      if (users.has(username)) return json(res, 400, { error: 'Username already exists' });
      users.set(username, newUser(name, password));
      return json(res, 200, { message: 'User registered successfully' });
    }
    if (path === '/api/login' && method === 'POST') {
      const { username, password } = JSON.parse((await body(req)).toString() || '{}');
      const u = users.get(username);
      if (!u || u.password !== password) return json(res, 401, { error: 'Invalid credentials' });
      const token = randomUUID();
      tokens.set(token, username);
      return json(res, 200, { access_token: token, username, name: u.name });
    }

    const token = (req.headers.authorization || '').replace(/^Bearer /, '');
    const u = users.get(tokens.get(token));
    if (!u) return json(res, 401, { error: 'Token is missing, invalid or expired' });
    const sid = { session_id: 'mock-session' };
    let m;

    if (path === '/api/decks' && method === 'GET') return json(res, 200, { decks: visibleDecks(u), ...sid });
    if (path === '/api/decks' && method === 'POST') {
      const name = String(JSON.parse((await body(req)).toString()).name || '').trim();
      if (!name) return json(res, 400, { error: 'Deck name is required' });
      if (u.decks.some((d) => d.name.toLowerCase() === name.toLowerCase())) return json(res, 409, { error: `A deck named '${name}' already exists` });
      const d = { id: u.nextId++, name, desc: '' };
      u.decks.push(d);
      return json(res, 201, { id: d.id, name, ...sid });
    }
    if (path === '/api/decks/current' && method === 'PUT') {
      const { deckId } = JSON.parse((await body(req)).toString());
      if (!u.decks.some((d) => d.id === deckId)) return json(res, 404, { error: 'Deck not found' });
      u.current = deckId;
      return json(res, 200, { message: 'Current deck updated', ...sid });
    }
    if ((m = path.match(/^\/api\/decks\/(\d+)\/rename$/)) && method === 'PUT') {
      const d = u.decks.find((x) => x.id === Number(m[1]));
      if (!d) return json(res, 404, { error: 'Deck not found' });
      d.name = String(JSON.parse((await body(req)).toString()).name || '').trim();
      return json(res, 200, { message: 'Deck renamed', id: d.id, name: d.name, ...sid });
    }
    if ((m = path.match(/^\/api\/decks\/(\d+)$/)) && method === 'DELETE') {
      const d = u.decks.find((x) => x.id === Number(m[1]));
      if (!d) return json(res, 404, { error: 'Deck not found' });
      const n = u.cards.filter((c) => c.deckId === d.id).length;
      u.cards = u.cards.filter((c) => c.deckId !== d.id);
      u.decks = u.decks.filter((x) => x !== d);
      if (u.current === d.id) u.current = 1;
      return json(res, 200, { message: `Deck '${d.name}' and ${n} cards deleted successfully`, ...sid });
    }
    if ((m = path.match(/^\/api\/decks\/(\d+)\/stats$/))) {
      const cs = u.cards.filter((c) => c.deckId === Number(m[1]));
      const counts = { New: 0, Learning: 0, Relearning: 0, Young: 0, Mature: 0, Suspended: 0, Buried: 0 };
      for (const c of cs) {
        if (c.type === 0) counts.New++;
        else if (c.type === 1) counts.Learning++;
        else if (c.type === 3) counts.Relearning++;
        else if (c.ivl < 21) counts.Young++;
        else counts.Mature++;
      }
      return json(res, 200, { counts, total: cs.length, ...sid });
    }
    if ((m = path.match(/^\/api\/decks\/(\d+)\/cards$/))) {
      const d = u.decks.find((x) => x.id === Number(m[1]));
      if (!d) return json(res, 404, { error: 'Deck not found' });
      const page = Number(url.searchParams.get('page') || 1);
      const perPage = Number(url.searchParams.get('perPage') || 10);
      const cs = u.cards.filter((c) => c.deckId === d.id).sort((a, b) => b.cardId - a.cardId);
      return json(res, 200, {
        deckId: d.id, deckName: d.name,
        cards: cs.slice((page - 1) * perPage, page * perPage).map(({ cardId, noteId, front, back, modified }) => ({ cardId, noteId, front, back, modified })),
        pagination: { total: cs.length, page, perPage, totalPages: Math.ceil(cs.length / perPage) },
        ...sid,
      });
    }
    if (path === '/api/cards' && method === 'POST') {
      const b = JSON.parse((await body(req)).toString());
      if (!String(b.front || '').trim() || !String(b.back || '').trim()) return json(res, 400, { error: 'Front and back are required' });
      const c = card(u, b.deckId ?? u.current, b.front, b.back);
      u.cards.push(c);
      return json(res, 201, { message: 'Card added', card_id: c.cardId, note_id: c.noteId, cardId: c.cardId, noteId: c.noteId, ...sid });
    }
    if ((m = path.match(/^\/api\/cards\/(\d+)$/))) {
      const c = u.cards.find((x) => x.cardId === Number(m[1]));
      if (!c) return json(res, 404, { error: 'Card not found' });
      if (method === 'GET') return json(res, 200, { cardId: c.cardId, noteId: c.noteId, deckId: c.deckId, front: c.front, back: c.back, queue: c.queue, due: c.due, ...sid });
      if (method === 'PUT') {
        const b = JSON.parse((await body(req)).toString());
        Object.assign(c, { front: b.front, back: b.back, modified: Date.now() });
        return json(res, 200, { success: true, message: 'Card updated', ...sid });
      }
      if (method === 'DELETE') {
        u.cards = u.cards.filter((x) => x !== c);
        return json(res, 200, { success: true, message: 'Card deleted', ...sid });
      }
    }
    if (path === '/api/review' && method === 'GET') {
      const now = Date.now();
      const cs = u.cards.filter((c) => c.deckId === u.current);
      const c = cs.find((x) => x.queue === 1 && x.due <= now) || cs.find((x) => x.queue === 0);
      if (!c) return json(res, 200, { message: 'No cards due for review', ...sid });
      return json(res, 200, { cardId: c.cardId, noteId: c.noteId, front: c.front, back: c.back, queue: c.queue, deckId: c.deckId, intervals: ['1m', '6m', '10m', '4d'], ...sid });
    }
    if (path === '/api/review' && method === 'POST') {
      const b = JSON.parse((await body(req)).toString());
      if (![1, 2, 3, 4].includes(b.ease)) return json(res, 400, { error: 'ease must be an integer 1-4' });
      const c = u.cards.find((x) => x.cardId === b.cardId);
      if (!c) return json(res, 404, { error: 'Card not found' });
      if (b.ease === 4) Object.assign(c, { type: 2, queue: 2, ivl: 4 });
      else Object.assign(c, { type: 1, queue: 1, due: Date.now() + [60, 360, 600][b.ease - 1] * 1000 });
      return json(res, 200, { message: 'Review processed successfully', newDue: Math.floor(c.due / 1000), interval: c.ivl, queue: c.queue, ...sid });
    }
    if (path === '/api/export') {
      const payload = Buffer.from(JSON.stringify({ decks: visibleDecks(u), cards: u.cards }));
      res.writeHead(200, { 'Content-Type': 'application/zip', 'Content-Disposition': `attachment; filename="${tokens.get(token)}_export_20260101_120000.apkg"` });
      return res.end(Buffer.concat([Buffer.from('PK\x03\x04'), payload]));
    }
    if (path === '/api/import' && method === 'POST') {
      const raw = await body(req);
      if (raw.subarray(0, 4).toString('latin1') !== 'PK\x03\x04') return json(res, 400, { error: 'Not a valid Anki package' });
      const data = JSON.parse(raw.subarray(4).toString());
      const added = [];
      for (const d of data.decks) {
        let mine = u.decks.find((x) => x.name === d.name);
        if (!mine) { mine = { id: u.nextId++, name: d.name, desc: '' }; u.decks.push(mine); added.push(mine); }
        for (const c of data.cards.filter((x) => x.deckId === d.id)) {
          if (!u.cards.some((x) => x.noteId === c.noteId)) u.cards.push({ ...c, deckId: mine.id });
        }
      }
      return json(res, 200, { decks: added.map(({ id, name }) => ({ id, name })), notes: data.cards.length, cards: data.cards.length, revlog: 0, ...sid });
    }
    return json(res, 404, { error: 'Not found' });
  }

  async function serveStatic(path, res) {
    const rel = path === '/' ? 'index.html' : path.slice(1);
    const file = normalize(join(STATIC, rel));
    if (!file.startsWith(STATIC) || !(rel === 'index.html' || rel.startsWith('assets/'))) return json(res, 404, { error: 'Not found' });
    try {
      const bytes = await readFile(file);
      const headers = { 'Content-Type': TYPES[extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-cache' };
      if (rel === 'index.html') headers['Content-Security-Policy'] = CSP;
      res.writeHead(200, headers);
      res.end(bytes);
    } catch {
      json(res, 404, { error: 'Not found' });
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => json(res, 500, { error: String(err) }));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    async fault(spec) {
      await fetch(`http://127.0.0.1:${port}/_mock/fault`, { method: 'POST', body: JSON.stringify(spec) });
    },
    async expire() { await fetch(`http://127.0.0.1:${port}/_mock/expire`, { method: 'POST' }); },
    requests: () => log.slice(),
    stop: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  };
}
