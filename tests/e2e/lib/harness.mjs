// Shared test plumbing: start javumbo-local (or use JAVUMBO_URL), launch the system Chromium
// with a fresh profile, collect console errors, and save screenshots under tests/artifacts/.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, '../../..');
export const ARTIFACTS = join(REPO, 'tests/artifacts/e2e');

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];

/** A port that was free a moment ago (the OS picks it; we release it for the server). */
async function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

async function waitForHealth(url, child, output, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) {
      throw new Error(`javumbo-local exited with ${child.exitCode} before it was healthy:\n${output.join('')}`);
    }
    try {
      const res = await fetch(`${url}/api/health`);
      if (res.ok) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`javumbo-local did not answer ${url}/api/health within ${timeoutMs} ms:\n${output.join('')}`);
}

/**
 * The server under test: JAVUMBO_URL if set, else a fresh javumbo-local (JAVUMBO_LOCAL_BIN,
 * default target/debug/javumbo-local) on a free port with a temporary data directory.
 */
export async function startServer() {
  if (process.env.JAVUMBO_URL) {
    const url = process.env.JAVUMBO_URL.replace(/\/+$/, '');
    await waitForHealth(url, null, [], 10_000);
    return { url, stop: async () => {} };
  }
  const bin = resolve(HERE, '..', process.env.JAVUMBO_LOCAL_BIN || '../../target/debug/javumbo-local');
  if (!existsSync(bin)) {
    throw new Error(`${bin} not found: run \`cargo build -p javumbo-local\` or set JAVUMBO_LOCAL_BIN / JAVUMBO_URL`);
  }
  const data = await mkdtemp(join(tmpdir(), 'javumbo-e2e-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const output = [];
  const child = spawn(bin, ['--addr', `127.0.0.1:${port}`, '--data', data], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' },
  });
  child.stdout.on('data', (d) => output.push(String(d)));
  child.stderr.on('data', (d) => output.push(String(d)));
  try {
    await waitForHealth(url, child, output, 30_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const front = await appFront(url, child);
  return {
    url: front?.url || url,
    output,
    async stop() {
      await front?.stop();
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      await rm(data, { recursive: true, force: true });
    },
  };
}

/**
 * The app must be served by javumbo-local itself (javumbo_web::router() merged into its router).
 * JAVUMBO_E2E_SERVE_STATIC=1 is a development aid for a binary that does not mount it yet: a
 * same-origin front serves shared/web/static from disk and proxies everything else to the binary.
 */
async function appFront(apiUrl, child) {
  const res = await fetch(`${apiUrl}/`);
  const isApp = res.ok && (res.headers.get('content-type') || '').startsWith('text/html');
  if (isApp) return null;
  if (!process.env.JAVUMBO_E2E_SERVE_STATIC) {
    child.kill('SIGKILL');
    throw new Error(`javumbo-local does not serve the web app at / (HTTP ${res.status}): merge javumbo_web::router() into its router, or set JAVUMBO_E2E_SERVE_STATIC=1`);
  }
  const types = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', svg: 'image/svg+xml' };
  const staticDir = join(REPO, 'shared/web/static');
  const api = new URL(apiUrl);
  const server = createHttpServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const rel = path === '/' ? 'index.html' : path.slice(1);
    if (rel === 'index.html' || (/^assets\/[\w/.-]+$/.test(rel) && !rel.includes('..'))) {
      try {
        const bytes = await readFile(join(staticDir, rel));
        res.writeHead(200, { 'Content-Type': types[rel.split('.').pop()] || 'application/octet-stream' });
        return res.end(bytes);
      } catch { /* not a static file: let the server answer */ }
    }
    const upstream = httpRequest({ host: api.hostname, port: api.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (err) => { res.writeHead(502); res.end(String(err)); });
    req.pipe(upstream);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stop: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  };
}

/**
 * Chromium with a throwaway profile. Every console error, page error and failed request is
 * recorded in `problems` so a test can assert the app ran cleanly.
 */
export async function launch({ locale = 'en-US', viewport = { width: 1200, height: 900 }, colorScheme = 'light' } = {}) {
  const profile = await mkdtemp(join(tmpdir(), 'javumbo-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    locale,
    viewport,
    colorScheme,
    acceptDownloads: true,
  });
  const page = context.pages()[0] || await context.newPage();
  const problems = [];
  page.on('console', (msg) => {
    // The browser logs every non-2xx fetch as an error; those are expected API answers
    // (tests provoke 401/409/503 on purpose), so only genuine script errors count.
    if (msg.type() === 'error' && !/Failed to load resource: the server responded with a status of/.test(msg.text())) {
      problems.push(`console: ${msg.text()}`);
    }
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('requestfailed', (req) => {
    // Downloads are handed to the download manager, which aborts the page's own request; and a
    // reload (the language picker, a test's page.goto) aborts subresources still in flight.
    // Neither is a failure of the app: anything else (refused, reset, DNS...) is.
    const aborted = req.failure()?.errorText === 'net::ERR_ABORTED';
    if (!req.url().startsWith('blob:') && !aborted) problems.push(`requestfailed: ${req.url()} ${req.failure()?.errorText}`);
  });
  return {
    context,
    page,
    problems,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page, name) {
  await mkdir(ARTIFACTS, { recursive: true });
  // Screenshots document screens, not transient notifications: dismiss the toast first.
  await page.evaluate(() => document.getElementById('toast')?.classList.remove('show'));
  await page.waitForTimeout(300);
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Every form control on the page has an accessible name (a <label>, aria-label or aria-labelledby). */
export async function unlabelledControls(page) {
  return page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((el) => el.type !== 'hidden')
    .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')))
    .map((el) => el.outerHTML));
}
