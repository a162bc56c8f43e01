// Browser-free checks of the app's pure helpers (the modules are plain ES modules, so Node
// imports them directly).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MESSAGES, pickLanguage, t } from '../../shared/web/static/assets/i18n.js';
import { retryDelayMs } from '../../shared/web/static/assets/api.js';
import { filenameFrom } from '../../shared/web/static/assets/views/transfer.js';

test('every language has exactly the English keys, with the same placeholders', () => {
  const placeholders = (m) => JSON.stringify(m).match(/\{\w+\}/g)?.sort() ?? [];
  for (const lang of Object.keys(MESSAGES)) {
    assert.deepEqual(Object.keys(MESSAGES[lang]).sort(), Object.keys(MESSAGES.en).sort(), lang);
    for (const [key, en] of Object.entries(MESSAGES.en)) {
      const msg = MESSAGES[lang][key];
      assert.equal(typeof msg, typeof en, `${lang} ${key}`);
      assert.deepEqual([...new Set(placeholders(msg))], [...new Set(placeholders(en))], `${lang} ${key}`);
    }
  }
});

test('language follows the browser, falling back to English', () => {
  assert.equal(pickLanguage(['pt-BR', 'en']), 'pt');
  assert.equal(pickLanguage(['es-MX']), 'es');
  assert.equal(pickLanguage([null, 'de-DE', 'es']), 'es');
  assert.equal(pickLanguage(['fr']), 'en');
  assert.equal(pickLanguage([]), 'en');
});

test('messages fill placeholders and pick plural forms', () => {
  assert.equal(t('study.reviewed', { n: 1 }, 'en'), '1 card reviewed');
  assert.equal(t('study.reviewed', { n: 5 }, 'en'), '5 cards reviewed');
  assert.equal(t('study.reviewed', { n: 2 }, 'pt'), '2 cartões revisados');
  assert.equal(t('study.reviewed', { n: 1 }, 'es'), '1 tarjeta repasada');
  assert.equal(t('auth.welcome', { name: 'Ana' }, 'es'), '¡Bienvenido, Ana!');
  assert.equal(t('no.such.key', {}, 'en'), 'no.such.key');
});

test('Retry-After: seconds or an HTTP date, capped at 5 s', () => {
  assert.equal(retryDelayMs('1'), 1000);
  assert.equal(retryDelayMs('0'), 0);
  assert.equal(retryDelayMs('3600'), 5000);
  assert.equal(retryDelayMs(null), 500);
  assert.equal(retryDelayMs('soon'), 500);
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(retryDelayMs('Thu, 01 Jan 2026 00:00:02 GMT', now), 2000);
  assert.equal(retryDelayMs('Wed, 31 Dec 2025 23:59:00 GMT', now), 500, 'a date in the past');
});

test('download file name comes from Content-Disposition', () => {
  assert.equal(filenameFrom('attachment; filename="ana_export_20260101_120000.apkg"', 'x'), 'ana_export_20260101_120000.apkg');
  assert.equal(filenameFrom("attachment; filename*=UTF-8''caf%C3%A9.apkg", 'x'), 'café.apkg');
  assert.equal(filenameFrom('attachment; filename=plain.apkg', 'x'), 'plain.apkg');
  assert.equal(filenameFrom(null, 'fallback.apkg'), 'fallback.apkg');
});

test('the sync address is the API origin with the trailing slash Anki needs', async () => {
  const { syncUrl } = await import('../../shared/web/static/assets/views/sync.js');
  assert.equal(syncUrl('', 'http://127.0.0.1:8080'), 'http://127.0.0.1:8080/');
  assert.equal(syncUrl('https://abc.execute-api.eu-west-1.amazonaws.com/', 'https://app.example'), 'https://abc.execute-api.eu-west-1.amazonaws.com/');
  assert.equal(syncUrl(undefined, 'http://h:1/'), 'http://h:1/');
  // On AWS the deployment names the streaming sync function's URL.
  assert.equal(
    syncUrl('https://abc.execute-api.eu-west-1.amazonaws.com', 'https://app.example', 'https://xyz.lambda-url.eu-west-1.on.aws/'),
    'https://xyz.lambda-url.eu-west-1.on.aws/',
  );
});
