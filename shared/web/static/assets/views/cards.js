// Card browser for one deck: newest first, paginated, with add / edit / delete.

import { cardText, fieldToText, h, mount, textToField } from '../dom.js';
import { t } from '../i18n.js';

const PER_PAGE = 10;

export async function render(main, ctx) {
  const { api, params, query } = ctx;
  const deckId = Number(params[0]);
  const page = Math.max(1, Number(query.get('page')) || 1);
  const data = await api.deckCards(deckId, page, PER_PAGE);
  const { total, totalPages } = data.pagination || { total: 0, totalPages: 1 };
  const deckName = data.deckName || '';
  const go = (p) => ctx.navigate(`/decks/${deckId}/cards${p > 1 ? `?page=${p}` : ''}`);

  const editorSlot = h('div', { class: 'editor-slot' });

  function editor({ title, front = '', back = '', submitLabel, onSubmit, onCancel }) {
    const error = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { class: 'panel stack editor', 'aria-labelledby': 'editor-title' },
      h('h2', { id: 'editor-title' }, title),
      h('div', { class: 'field' },
        h('label', { for: 'card-front' }, t('cards.front')),
        h('textarea', { id: 'card-front', name: 'front', rows: 3, required: true }, fieldToText(front))),
      h('div', { class: 'field' },
        h('label', { for: 'card-back' }, t('cards.back')),
        h('textarea', { id: 'card-back', name: 'back', rows: 3, required: true }, fieldToText(back))),
      error,
      h('div', { class: 'row' },
        h('button', { type: 'submit', class: 'btn btn-primary' }, submitLabel),
        onCancel ? h('button', { type: 'button', class: 'btn btn-quiet', onclick: onCancel }, t('common.cancel')) : null));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.textContent = '';
      const f = textToField(form.elements.front.value);
      const b = textToField(form.elements.back.value);
      if (!f || !b) {
        error.textContent = t('cards.bothRequired');
        (f ? form.elements.back : form.elements.front).focus();
        return;
      }
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      try {
        await onSubmit(f, b);
      } catch (err) {
        error.textContent = err.message;
      } finally {
        button.disabled = false;
      }
    });
    return form;
  }

  function showAdd(focus = false) {
    const form = editor({
      title: t('cards.addTitle'),
      submitLabel: t('cards.add'),
      onSubmit: async (front, back) => {
        await api.addCard(front, back, deckId);
        ctx.toast(t('cards.added'));
        go(1);
      },
    });
    mount(editorSlot, form);
    if (focus) form.elements.front.focus();
  }

  async function showEdit(cardId, opener) {
    try {
      const c = await api.card(cardId);
      const form = editor({
        title: t('cards.editTitle'),
        front: c.front,
        back: c.back,
        submitLabel: t('common.save'),
        onSubmit: async (front, back) => {
          await api.updateCard(cardId, front, back);
          ctx.toast(t('cards.saved'));
          go(page);
        },
        onCancel: () => { showAdd(); opener?.focus(); },
      });
      mount(editorSlot, form);
      form.scrollIntoView({ block: 'nearest' });
      form.elements.front.focus();
    } catch (err) {
      ctx.toast(err.message, 'error');
    }
  }

  const items = (data.cards || []).map((c) => {
    const frontText = cardText(c.front);
    const editBtn = h('button', { type: 'button', class: 'btn btn-quiet', 'aria-label': t('cards.editNamed', { front: frontText }) }, t('cards.edit'));
    editBtn.addEventListener('click', () => showEdit(c.cardId, editBtn));
    return h('li', { class: 'card-row', 'data-card-id': c.cardId },
      h('div', { class: 'card-text' },
        h('p', { class: 'card-front' }, frontText),
        h('p', { class: 'card-back muted' }, cardText(c.back))),
      h('div', { class: 'card-actions' },
        editBtn,
        h('button', {
          type: 'button', class: 'btn btn-quiet btn-danger', 'aria-label': t('cards.deleteNamed', { front: frontText }),
          onclick: async () => {
            if (!window.confirm(t('cards.confirmDelete', { front: frontText }))) return;
            try {
              await api.deleteCard(c.cardId);
              ctx.toast(t('cards.deleted'));
              go(page > 1 && data.cards.length === 1 ? page - 1 : page);
            } catch (err) { ctx.toast(err.message, 'error'); }
          },
        }, t('cards.delete'))));
  });

  const pager = h('nav', { class: 'pager', 'aria-label': t('cards.pagination') },
    h('button', { type: 'button', class: 'btn', disabled: page <= 1, onclick: () => go(page - 1) }, t('cards.prev')),
    h('span', { class: 'pager-status', 'aria-live': 'polite' }, t('cards.pageOf', { page, pages: Math.max(totalPages, 1) })),
    h('button', { type: 'button', class: 'btn', disabled: page >= totalPages, onclick: () => go(page + 1) }, t('cards.next')));

  mount(main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/decks' }, t('nav.decks')), ' / ', deckName),
    h('div', { class: 'page-head' },
      h('h1', {}, t('cards.title', { deck: deckName })),
      h('a', { class: 'btn', href: `#/decks/${deckId}/stats` }, t('decks.stats'))),
    editorSlot,
    h('section', { class: 'panel', 'aria-labelledby': 'card-list-title' },
      h('h2', { id: 'card-list-title' }, t('cards.count', { n: total })),
      items.length ? h('ul', { class: 'card-list' }, items) : h('p', { class: 'empty' }, t('cards.none')),
      totalPages > 1 ? pager : null));
  showAdd();
}
