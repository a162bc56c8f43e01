// The only module that talks HTTP. It knows the API contract (API.md): JSON errors
// `{"error": "..."}`, Bearer tokens, and the 503 a container answers while another one takes the
// user's session over, which is worth one transparent retry.

import { t } from './i18n.js';

const TOKEN_KEY = 'javumbo.token';
const USER_KEY = 'javumbo.user';
/** A takeover normally finishes in well under a second; never leave a student staring longer. */
const MAX_RETRY_WAIT_MS = 5000;
const DEFAULT_RETRY_WAIT_MS = 500;

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

const base = () => String(window.JAVUMBO_API_BASE || '').replace(/\/+$/, '');

export const session = {
  get token() { return localStorage.getItem(TOKEN_KEY); },
  get user() {
    try { return JSON.parse(localStorage.getItem(USER_KEY) || 'null'); } catch { return null; }
  },
  save(token, user) {
    localStorage.setItem(TOKEN_KEY, token);
    localStorage.setItem(USER_KEY, JSON.stringify(user));
  },
  clear() {
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(USER_KEY);
  },
};

/** Called when an authenticated request gets 401: the app sends the student back to log in. */
let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

/** Retry-After is either delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryDelayMs(value, now = Date.now()) {
  if (value == null || value === '') return DEFAULT_RETRY_WAIT_MS;
  const secs = Number(value);
  let ms = Number.isFinite(secs) ? secs * 1000 : Date.parse(value) - now;
  if (!Number.isFinite(ms) || ms < 0) ms = DEFAULT_RETRY_WAIT_MS;
  return Math.min(ms, MAX_RETRY_WAIT_MS);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A fresh random key (crypto.randomUUID needs a secure context; getRandomValues does not). */
export function idempotencyKey() {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * request('GET', '/api/decks') → parsed JSON.
 * opts: json (body to send as JSON), body + contentType (raw upload), raw (return the Response),
 * passwordCheck (a 401 is a wrong password, not the end of the session).
 */
export async function request(method, path, opts = {}) {
  const headers = { Accept: 'application/json' };
  const token = session.token;
  if (token && !opts.anonymous) headers.Authorization = `Bearer ${token}`;
  let body;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.body !== undefined) {
    headers['Content-Type'] = opts.contentType || 'application/octet-stream';
    body = opts.body;
  }
  // A write carries one key for all its attempts: the server applies it once and answers a
  // repeat with the first answer, so a write whose answer was lost can be sent again safely.
  const keyed = method !== 'GET' && headers.Authorization !== undefined && !opts.passwordCheck;
  if (keyed) headers['Idempotency-Key'] = idempotencyKey();
  const send = async () => {
    try {
      return await fetch(base() + path, { method, headers, body });
    } catch {
      throw new ApiError(0, t('error.network'));
    }
  };

  let res;
  try {
    res = await send();
  } catch (e) {
    // The request may or may not have arrived; only a keyed write may be sent again blindly.
    if (!keyed) throw e;
    await sleep(DEFAULT_RETRY_WAIT_MS);
    res = await send();
  }
  if (res.status === 503) {
    await sleep(retryDelayMs(res.headers.get('Retry-After')));
    res = await send();
  }
  // A 401 means the session ended, except where the request itself carries a password: then
  // it is the answer "wrong password", and the student stays logged in.
  if (res.status === 401 && headers.Authorization && !opts.passwordCheck) {
    session.clear();
    onUnauthorized();
    throw new ApiError(401, t('error.expired'));
  }
  if (!res.ok) throw new ApiError(res.status, await errorMessage(res));
  if (opts.raw) return res;
  const text = await res.text();
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    throw new ApiError(res.status, t('error.badResponse'));
  }
}

/** Above this, a package goes through an upload URL (API Gateway and Lambda bound a body). */
const LARGE_UPLOAD_BYTES = 4 * 1024 * 1024;

/**
 * A large import: an upload URL from the API (the blob store's own on AWS), the file PUT there
 * with no Authorization (the URL is the credential), then the API imports it.
 */
async function importLarge(file) {
  const offer = await request('POST', '/api/import/uploads');
  const url = /^https?:/i.test(offer.uploadUrl) ? offer.uploadUrl : base() + offer.uploadUrl;
  let res;
  try {
    res = await fetch(url, { method: offer.method || 'PUT', body: file });
  } catch {
    throw new ApiError(0, t('error.network'));
  }
  if (!res.ok) throw new ApiError(res.status, await errorMessage(res));
  return request('POST', `/api/import/uploads/${encodeURIComponent(offer.uploadId)}/process`);
}

async function errorMessage(res) {
  let message = '';
  try {
    const data = JSON.parse(await res.text());
    if (data && typeof data.error === 'string') message = data.error;
  } catch { /* not JSON: fall through to a generic message */ }
  if (res.status === 413) return t('error.tooLarge');
  if (res.status >= 500) return message ? `${t('error.server')} (${message})` : t('error.server');
  return message || `${t('error.generic')} (HTTP ${res.status})`;
}

// ---- the endpoints the app uses (API.md) -----------------------------------------------------

export const api = {
  register: (username, name, password, timezone) =>
    request('POST', '/api/register', { json: { username, name, password, timezone }, anonymous: true }),
  login: (username, password) =>
    request('POST', '/api/login', { json: { username, password }, anonymous: true }),
  logout: () => request('POST', '/api/logout'),
  changePassword: (currentPassword, newPassword) =>
    request('PUT', '/api/account/password', { json: { currentPassword, newPassword }, passwordCheck: true }),
  deleteAccount: (password, confirm) =>
    request('DELETE', '/api/account', { json: { password, confirm }, passwordCheck: true }),
  decks: () => request('GET', '/api/decks'),
  createDeck: (name) => request('POST', '/api/decks', { json: { name } }),
  renameDeck: (id, name) => request('PUT', `/api/decks/${id}/rename`, { json: { name } }),
  deleteDeck: (id) => request('DELETE', `/api/decks/${id}`),
  setCurrentDeck: (deckId) => request('PUT', '/api/decks/current', { json: { deckId } }),
  deckStats: (id) => request('GET', `/api/decks/${id}/stats`),
  deckCards: (id, page, perPage) =>
    request('GET', `/api/decks/${id}/cards?page=${page}&perPage=${perPage}`),
  addCard: (front, back, deckId) => request('POST', '/api/cards', { json: { front, back, deckId } }),
  card: (id) => request('GET', `/api/cards/${id}`),
  updateCard: (id, front, back) => request('PUT', `/api/cards/${id}`, { json: { front, back } }),
  deleteCard: (id) => request('DELETE', `/api/cards/${id}`),
  noteTypes: () => request('GET', '/api/notetypes'),
  addNote: (noteTypeId, fields, tags, deckId) =>
    request('POST', '/api/notes', { json: { noteTypeId, fields, tags, deckId } }),
  note: (id) => request('GET', `/api/notes/${id}`),
  updateNote: (id, fields, tags) => request('PUT', `/api/notes/${id}`, { json: { fields, tags } }),
  nextCard: () => request('GET', '/api/review'),
  answer: (cardId, ease, timeTaken, noteId) =>
    request('POST', '/api/review', { json: { cardId, ease, timeTaken, noteId } }),
  // A large export answers 303 to a short-lived download URL of the blob store, which fetch
  // follows by itself (dropping the Authorization header, as browsers do across origins).
  exportPackage: () => request('GET', '/api/export', { raw: true }),
  importPackage: (file) =>
    file.size > LARGE_UPLOAD_BYTES
      ? importLarge(file)
      : request('POST', '/api/import', { body: file, contentType: 'application/octet-stream' }),
  settings: () => request('GET', '/api/settings'),
  updateSettings: (changes) => request('PUT', '/api/settings', { json: changes }),
  presets: () => request('GET', '/api/presets'),
  preset: (id) => request('GET', `/api/presets/${id}`),
  updatePreset: (id, changes) => request('PUT', `/api/presets/${id}`, { json: changes }),
  createPreset: (name, fromId) => request('POST', '/api/presets', { json: { name, fromId } }),
  renamePreset: (id, name) => request('PUT', `/api/presets/${id}/rename`, { json: { name } }),
  deletePreset: (id) => request('DELETE', `/api/presets/${id}`),
  optimizePreset: (id, apply) => request('POST', `/api/presets/${id}/optimize`, { json: { apply } }),
  setDeckPreset: (deckId, presetId) => request('PUT', `/api/decks/${deckId}/preset`, { json: { presetId } }),
  deckLimits: (id) => request('GET', `/api/decks/${id}/limits`),
  updateDeckLimits: (id, limits) => request('PUT', `/api/decks/${id}/limits`, { json: limits }),
  customStudy: (id) => request('GET', `/api/decks/${id}/custom-study`),
  extendLimits: (id, change) => request('POST', `/api/decks/${id}/custom-study`, { json: change }),
  emptyDeck: (id) => request('POST', `/api/decks/${id}/empty`),
  cardAction: (id, action) => request('POST', `/api/cards/${id}/actions`, { json: { action } }),
  syncKeys: () => request('GET', '/api/sync/keys'),
  revokeSyncKey: (id) => request('DELETE', `/api/sync/keys/${encodeURIComponent(id)}`),
};
