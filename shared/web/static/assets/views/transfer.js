// Export (download the whole collection as .apkg) and import (upload an Anki package).

import { h, mount } from '../dom.js';
import { t } from '../i18n.js';

/** filename="x.apkg" (or RFC 5987 filename*=UTF-8''x.apkg) from Content-Disposition. */
export function filenameFrom(disposition, fallback) {
  const star = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(disposition || '');
  if (star) {
    try { return decodeURIComponent(star[1].trim()); } catch { /* malformed: try the plain form */ }
  }
  const plain = /filename\s*=\s*"?([^";]+)"?/i.exec(disposition || '');
  return plain ? plain[1].trim() : fallback;
}

export async function render(main, ctx) {
  const { api } = ctx;
  const exportStatus = h('p', { class: 'muted', role: 'status' });
  const exportBtn = h('button', { type: 'button', class: 'btn btn-primary', id: 'export-btn' }, t('transfer.exportButton'));
  exportBtn.addEventListener('click', async () => {
    exportBtn.disabled = true;
    exportStatus.textContent = t('transfer.exporting');
    try {
      const res = await api.exportPackage();
      const blob = await res.blob();
      const name = filenameFrom(res.headers.get('Content-Disposition'), 'javumbo_export.apkg');
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: name, class: 'sr-only' });
      document.body.append(a);
      a.click();
      a.remove();
      // Give the browser time to start the download before the blob goes away.
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      exportStatus.textContent = t('transfer.exported', { name, size: formatSize(blob.size) });
    } catch (err) {
      exportStatus.textContent = err.message;
    } finally {
      exportBtn.disabled = false;
    }
  });

  const result = h('div', { id: 'import-result', 'aria-live': 'polite' });
  const input = h('input', { type: 'file', id: 'import-file', name: 'file', accept: '.apkg,application/zip', required: true });
  const form = h('form', { class: 'stack', id: 'import-form' },
    h('div', { class: 'field' },
      h('label', { for: 'import-file' }, t('transfer.chooseFile')),
      input,
      h('p', { class: 'hint' }, t('transfer.importHint'))),
    h('button', { type: 'submit', class: 'btn btn-primary' }, t('transfer.importButton')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const file = input.files?.[0];
    if (!file) {
      mount(result, h('p', { class: 'error', role: 'alert' }, t('transfer.noFile')));
      input.focus();
      return;
    }
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    mount(result, h('p', { class: 'muted' }, t('transfer.importing', { name: file.name })));
    try {
      const res = await api.importPackage(file);
      const deckNames = (res.decks || []).map((d) => (typeof d === 'string' ? d : d.name)).filter(Boolean);
      mount(result, h('div', { class: 'import-summary panel success' },
        h('h3', {}, t('transfer.imported', { name: file.name })),
        h('dl', { class: 'summary' },
          h('dt', {}, t('transfer.notes')), h('dd', { 'data-field': 'notes' }, String(res.notes ?? 0)),
          h('dt', {}, t('transfer.cards')), h('dd', { 'data-field': 'cards' }, String(res.cards ?? 0)),
          h('dt', {}, t('transfer.revlog')), h('dd', { 'data-field': 'revlog' }, String(res.revlog ?? 0))),
        deckNames.length ? [h('p', {}, t('transfer.decks')), h('ul', { class: 'import-decks' }, deckNames.map((n) => h('li', {}, n)))] : null,
        h('a', { class: 'btn', href: '#/decks' }, t('transfer.goToDecks'))));
      form.reset();
    } catch (err) {
      mount(result, h('p', { class: 'error', role: 'alert' }, err.message));
    } finally {
      button.disabled = false;
    }
  });

  mount(main,
    h('h1', {}, t('transfer.title')),
    h('div', { class: 'grid-2' },
      h('section', { class: 'panel', 'aria-labelledby': 'export-title' },
        h('h2', { id: 'export-title' }, t('transfer.exportTitle')),
        h('p', {}, t('transfer.exportIntro')),
        exportBtn, exportStatus),
      h('section', { class: 'panel', 'aria-labelledby': 'import-title' },
        h('h2', { id: 'import-title' }, t('transfer.importTitle')),
        h('p', {}, t('transfer.importIntro')),
        form, result)));
}

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
