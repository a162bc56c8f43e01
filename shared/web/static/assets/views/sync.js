// Anki sync: the address to paste into Anki's / AnkiDroid's "self-hosted sync server" setting,
// and the devices (sync keys) that have logged in, each revocable.

import { h, mount } from '../dom.js';
import { t } from '../i18n.js';

/**
 * The sync endpoint: the configured sync address (on AWS the sync function's URL), else the
 * API's origin (this page's, or the configured API base), with a trailing slash. Anki drops a
 * path that does not end in "/", so the slash is part of the address.
 */
export function syncUrl(apiBase, origin, configured) {
  const trim = (s) => String(s || '').replace(/\/+$/, '');
  const base = trim(configured) || trim(apiBase) || trim(origin);
  return `${base}/`;
}

function formatTime(ms) {
  return ms ? new Date(ms).toLocaleString() : '—';
}

export async function render(main, ctx) {
  const { api, toast } = ctx;
  const url = syncUrl(window.JAVUMBO_API_BASE, location.origin, window.JAVUMBO_SYNC_URL);
  const urlField = h('input', { id: 'sync-url', type: 'text', readonly: true, value: url, class: 'mono' });
  const copy = h('button', { type: 'button', class: 'btn', id: 'sync-url-copy' }, t('sync.copy'));
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(url);
      toast(t('sync.copied'));
    } catch {
      urlField.select();
    }
  });

  const list = h('div', { id: 'sync-keys', 'aria-live': 'polite' });
  const refresh = async () => {
    const { keys } = await api.syncKeys();
    if (!keys.length) {
      mount(list, h('p', { class: 'muted' }, t('sync.noDevices')));
      return;
    }
    mount(list, h('table', { class: 'table' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, t('sync.device')),
        h('th', { scope: 'col' }, t('sync.created')),
        h('th', { scope: 'col' }, t('sync.lastUsed')),
        h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('sync.revoke'))))),
      h('tbody', {}, keys.map((k) => {
        const revoke = h('button', { type: 'button', class: 'btn btn-danger', 'data-key': k.id }, t('sync.revoke'));
        revoke.addEventListener('click', async () => {
          if (!window.confirm(t('sync.confirmRevoke', { label: k.label }))) return;
          revoke.disabled = true;
          try {
            await api.revokeSyncKey(k.id);
            toast(t('sync.revoked'));
            await refresh();
          } catch (err) {
            revoke.disabled = false;
            toast(err.message, 'error');
          }
        });
        return h('tr', {},
          h('td', {}, k.label),
          h('td', {}, formatTime(k.createdAt)),
          h('td', {}, formatTime(k.lastUsedAt)),
          h('td', {}, revoke));
      }))));
  };
  await refresh();

  mount(main,
    h('h1', {}, t('sync.title')),
    h('section', { class: 'panel', 'aria-labelledby': 'sync-setup' },
      h('h2', { id: 'sync-setup' }, t('sync.setupTitle')),
      h('p', {}, t('sync.setupIntro')),
      h('div', { class: 'field' },
        h('label', { for: 'sync-url' }, t('sync.urlLabel')),
        h('div', { class: 'row' }, urlField, copy),
        h('p', { class: 'hint' }, t('sync.urlHint')))),
    h('section', { class: 'panel', 'aria-labelledby': 'sync-devices' },
      h('h2', { id: 'sync-devices' }, t('sync.devicesTitle')),
      h('p', {}, t('sync.devicesIntro')),
      list));
}
