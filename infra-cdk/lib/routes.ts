import type { FunctionKey } from './config';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteSpec {
  readonly method: Method;
  readonly path: string;
  readonly fn: FunctionKey;
}

/**
 * The HTTP contract (API.md), grouped by the function that serves it. Kept as data so the
 * tests can check the synthesized API against the same table, route by route.
 * The flush handler has no routes: it only listens on the flush topic.
 */
export const ROUTES: readonly RouteSpec[] = [
  // auth: the un-prefixed aliases keep the old React client working.
  { method: 'POST', path: '/api/register', fn: 'auth' },
  { method: 'POST', path: '/register', fn: 'auth' },
  { method: 'POST', path: '/api/login', fn: 'auth' },
  { method: 'POST', path: '/login', fn: 'auth' },
  { method: 'GET', path: '/api/health', fn: 'auth' },
  // account: logout voids the token; the password change and the account deletion check the
  // password (credential routes below), and deletion removes every record and blob of the user.
  { method: 'POST', path: '/api/logout', fn: 'auth' },
  { method: 'PUT', path: '/api/account/password', fn: 'auth' },
  { method: 'DELETE', path: '/api/account', fn: 'auth' },
  // review
  { method: 'GET', path: '/api/review', fn: 'review' },
  { method: 'POST', path: '/api/review', fn: 'review' },
  // crud
  { method: 'GET', path: '/api/decks', fn: 'crud' },
  { method: 'POST', path: '/api/decks', fn: 'crud' },
  { method: 'PUT', path: '/api/decks/current', fn: 'crud' },
  { method: 'PUT', path: '/api/decks/{id}/rename', fn: 'crud' },
  { method: 'DELETE', path: '/api/decks/{id}', fn: 'crud' },
  { method: 'GET', path: '/api/decks/{id}/stats', fn: 'crud' },
  { method: 'GET', path: '/api/decks/{id}/cards', fn: 'crud' },
  { method: 'POST', path: '/api/cards', fn: 'crud' },
  { method: 'GET', path: '/api/cards/{id}', fn: 'crud' },
  { method: 'PUT', path: '/api/cards/{id}', fn: 'crud' },
  { method: 'DELETE', path: '/api/cards/{id}', fn: 'crud' },
  { method: 'GET', path: '/api/notetypes', fn: 'crud' },
  { method: 'POST', path: '/api/notes', fn: 'crud' },
  { method: 'GET', path: '/api/notes/{id}', fn: 'crud' },
  { method: 'PUT', path: '/api/notes/{id}', fn: 'crud' },
  { method: 'DELETE', path: '/api/notes/{id}', fn: 'crud' },
  { method: 'GET', path: '/api/settings', fn: 'crud' },
  { method: 'PUT', path: '/api/settings', fn: 'crud' },
  { method: 'GET', path: '/api/presets', fn: 'crud' },
  { method: 'POST', path: '/api/presets', fn: 'crud' },
  { method: 'GET', path: '/api/presets/{id}', fn: 'crud' },
  { method: 'PUT', path: '/api/presets/{id}', fn: 'crud' },
  { method: 'DELETE', path: '/api/presets/{id}', fn: 'crud' },
  { method: 'PUT', path: '/api/presets/{id}/rename', fn: 'crud' },
  { method: 'POST', path: '/api/presets/{id}/optimize', fn: 'crud' },
  { method: 'POST', path: '/api/presets/{id}/recompute', fn: 'crud' },
  { method: 'PUT', path: '/api/decks/{id}/preset', fn: 'crud' },
  { method: 'GET', path: '/api/decks/{id}/limits', fn: 'crud' },
  { method: 'PUT', path: '/api/decks/{id}/limits', fn: 'crud' },
  { method: 'GET', path: '/api/decks/{id}/custom-study', fn: 'crud' },
  { method: 'POST', path: '/api/decks/{id}/custom-study', fn: 'crud' },
  { method: 'POST', path: '/api/decks/{id}/empty', fn: 'crud' },
  { method: 'POST', path: '/api/cards/{id}/actions', fn: 'crud' },
  { method: 'GET', path: '/api/media', fn: 'crud' },
  { method: 'POST', path: '/api/media', fn: 'crud' },
  { method: 'GET', path: '/api/media/{filename}', fn: 'crud' },
  { method: 'DELETE', path: '/api/media/{filename}', fn: 'crud' },
  { method: 'GET', path: '/api/session/status', fn: 'crud' },
  { method: 'POST', path: '/api/session/flush', fn: 'crud' },
  // export
  { method: 'GET', path: '/api/export', fn: 'export' },
  { method: 'POST', path: '/api/import', fn: 'export' },
  { method: 'POST', path: '/api/import/uploads', fn: 'export' },
  { method: 'PUT', path: '/api/import/uploads/{id}', fn: 'export' },
  { method: 'POST', path: '/api/import/uploads/{id}/process', fn: 'export' },
  // sync: Anki's protocol for official clients (endpoint = the API's origin + "/"), its media
  // half, Anki's health check, and the device keys API.
  ...[
    'hostKey', 'meta', 'start', 'applyGraves', 'applyChanges', 'chunk', 'applyChunk',
    'sanityCheck2', 'finish', 'abort', 'upload', 'download',
  ].map((m): RouteSpec => ({ method: 'POST', path: `/sync/${m}`, fn: 'sync' })),
  { method: 'POST', path: '/msync/{method}', fn: 'sync' },
  { method: 'GET', path: '/msync/{method}', fn: 'sync' },
  { method: 'GET', path: '/health', fn: 'sync' },
  { method: 'GET', path: '/api/sync/keys', fn: 'sync' },
  { method: 'DELETE', path: '/api/sync/keys/{id}', fn: 'sync' },
];

/** Routes that accept a password: throttled harder than the rest of the API. */
export const CREDENTIAL_ROUTES: readonly string[] = [
  'POST /sync/hostKey',
  'POST /api/login',
  'POST /login',
  'POST /api/register',
  'POST /register',
  'PUT /api/account/password',
  'DELETE /api/account',
];

/**
 * The shortest path prefixes that cover every credential route (`/api/account` covers
 * `/api/account/password`): what the edge's per-source rule matches on (lib/edge.ts).
 */
export function credentialPathPrefixes(): string[] {
  const paths = [...new Set(CREDENTIAL_ROUTES.map((r) => r.slice(r.indexOf(' ') + 1)))].sort();
  return paths.filter((p) => !paths.some((q) => q !== p && p.startsWith(`${q}/`)));
}

export const routeKey = (r: RouteSpec): string => `${r.method} ${r.path}`;
