// Card browser for one deck: newest first, paginated, with add / edit / delete.

import { cardText, fieldToText, h, mount, textToField } from '../dom.js';
import { t } from '../i18n.js';
import { answerPart, isRendered, renderedText } from '../card.js';

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

  // The note types of the collection; an older server without /api/notetypes gets the Basic
  // front/back form over the card routes.
  const BASIC_FALLBACK = { id: null, name: 'Basic', kind: 'normal', fields: ['Front', 'Back'], default: true };
  let noteTypes = null;
  async function loadNoteTypes() {
    if (noteTypes) return noteTypes;
    try {
      const res = await api.noteTypes();
      noteTypes = Array.isArray(res.noteTypes) && res.noteTypes.length ? res.noteTypes : [BASIC_FALLBACK];
    } catch (err) {
      if (err.status === 401) throw err;
      noteTypes = [BASIC_FALLBACK];
    }
    return noteTypes;
  }
  const fieldLabel = (name) => (name === 'Front' ? t('cards.front') : name === 'Back' ? t('cards.back') : name);

  /**
   * The add/edit form of a note: one input per field of its note type, a note type picker when
   * adding, the cloze syntax in the help text of cloze note types.
   */
  function editor({ title, types, noteType, values = [], tags = null, pickType = false, submitLabel, onSubmit, onCancel }) {
    const error = h('p', { class: 'error', role: 'alert' });
    const fieldsSlot = h('div', { class: 'stack' });
    let current = noteType;
    const help = h('p', { class: 'muted field-help', id: 'note-help' });
    function showFields(nt, vals) {
      current = nt;
      mount(fieldsSlot, nt.fields.map((name, i) => {
        const id = i === 0 ? 'card-front' : i === 1 ? 'card-back' : `card-field-${i}`;
        return h('div', { class: 'field' },
          h('label', { for: id }, fieldLabel(name)),
          h('textarea', {
            id, name: `field-${i}`, rows: 3, required: i === 0,
            'aria-describedby': nt.kind === 'cloze' && i === 0 ? 'note-help' : null,
          }, fieldToText(vals[i] ?? '')));
      }));
      help.textContent = nt.kind === 'cloze' ? t('cards.clozeHelp') : '';
      help.hidden = nt.kind !== 'cloze';
    }
    const picker = pickType && types.length > 1
      ? h('div', { class: 'field' },
        h('label', { for: 'note-type' }, t('cards.noteType')),
        h('select', {
          id: 'note-type', name: 'noteType',
          onchange: (e) => {
            const nt = types.find((x) => String(x.id) === e.target.value) || types[0];
            const kept = current.fields.map((_, i) => textToField(form.elements[`field-${i}`]?.value ?? ''));
            showFields(nt, kept);
          },
        }, types.map((nt) => h('option', { value: nt.id, selected: nt === noteType }, nt.name))))
      : null;
    const tagsInput = tags === null ? null : h('div', { class: 'field' },
      h('label', { for: 'note-tags' }, t('cards.tags')),
      h('input', { id: 'note-tags', name: 'tags', type: 'text', value: tags.join(' '), autocomplete: 'off' }));
    const form = h('form', { class: 'panel stack editor', 'aria-labelledby': 'editor-title' },
      h('h2', { id: 'editor-title' }, title),
      picker,
      fieldsSlot,
      help,
      tagsInput,
      error,
      h('div', { class: 'row' },
        h('button', { type: 'submit', class: 'btn btn-primary' }, submitLabel),
        onCancel ? h('button', { type: 'button', class: 'btn btn-quiet', onclick: onCancel }, t('common.cancel')) : null));
    showFields(noteType, values);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.textContent = '';
      const fields = current.fields.map((_, i) => textToField(form.elements[`field-${i}`].value));
      const basic = current.id === null;
      if (basic ? !fields[0] || !fields[1] : !fields[0]) {
        error.textContent = basic ? t('cards.bothRequired') : t('cards.firstRequired');
        (fields[0] ? form.elements['field-1'] : form.elements['field-0']).focus();
        return;
      }
      const tagList = form.elements.tags ? form.elements.tags.value.split(/\s+/).filter(Boolean) : undefined;
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      try {
        await onSubmit(current, fields, tagList);
      } catch (err) {
        error.textContent = err.message;
      } finally {
        button.disabled = false;
      }
    });
    return form;
  }

  async function showAdd(focus = false) {
    const types = await loadNoteTypes();
    const initial = types.find((nt) => nt.default) || types[0];
    const form = editor({
      title: t('cards.addTitle'),
      types,
      noteType: initial,
      pickType: true,
      tags: initial.id === null ? null : [],
      submitLabel: t('cards.add'),
      onSubmit: async (nt, fields, tags) => {
        if (nt.id === null) await api.addCard(fields[0], fields[1], deckId);
        else await api.addNote(nt.id, fields, tags, deckId);
        ctx.toast(t('cards.added'));
        go(1);
      },
    });
    mount(editorSlot, form);
    if (focus) form.elements['field-0'].focus();
  }

  async function showEdit(cardId, noteId, opener) {
    try {
      const types = await loadNoteTypes();
      let form;
      const onCancel = () => { showAdd(); opener?.focus(); };
      if (types[0].id !== null && noteId != null) {
        const n = await api.note(noteId);
        const nt = types.find((x) => x.id === n.noteTypeId)
          || { id: n.noteTypeId, name: n.noteType, kind: 'normal', fields: n.fields.map((f) => f.name) };
        form = editor({
          title: t('cards.editTitle'),
          types,
          noteType: nt,
          values: n.fields.map((f) => f.value),
          tags: n.tags,
          submitLabel: t('common.save'),
          onSubmit: async (_nt, fields, tags) => {
            await api.updateNote(noteId, fields, tags);
            ctx.toast(t('cards.saved'));
            go(page);
          },
          onCancel,
        });
      } else {
        const c = await api.card(cardId);
        form = editor({
          title: t('cards.editTitle'),
          types: [BASIC_FALLBACK],
          noteType: BASIC_FALLBACK,
          values: [c.front, c.back],
          submitLabel: t('common.save'),
          onSubmit: async (_nt, fields) => {
            await api.updateCard(cardId, fields[0], fields[1]);
            ctx.toast(t('cards.saved'));
            go(page);
          },
          onCancel,
        });
      }
      mount(editorSlot, form);
      form.scrollIntoView({ block: 'nearest' });
      form.elements['field-0'].focus();
    } catch (err) {
      ctx.toast(err.message, 'error');
    }
  }

  const items = (data.cards || []).map((c) => {
    // As Anki's browser: the question, and what the answer adds to it, as one line each.
    const frontText = isRendered(c) ? renderedText(c.questionHtml) : cardText(c.front);
    const backText = isRendered(c) ? renderedText(answerPart(c.answerHtml)) : cardText(c.back);
    const editBtn = h('button', { type: 'button', class: 'btn btn-quiet', 'aria-label': t('cards.editNamed', { front: frontText }) }, t('cards.edit'));
    editBtn.addEventListener('click', () => showEdit(c.cardId, c.noteId, editBtn));
    // Anki's queue numbers: -1 suspended, -2/-3 buried (by a sibling / by the student).
    const suspended = c.queue === -1;
    const buried = c.queue === -2 || c.queue === -3;
    const act = (action) => async () => {
      try {
        await api.cardAction(c.cardId, action);
        go(page);
      } catch (err) { if (err.status !== 401) ctx.toast(err.message, 'error'); }
    };
    const stateBtn = suspended
      ? h('button', { type: 'button', class: 'btn btn-quiet card-unsuspend', onclick: act('unsuspend') }, t('cards.unsuspend'))
      : buried
        ? h('button', { type: 'button', class: 'btn btn-quiet card-unbury', onclick: act('unbury') }, t('cards.unbury'))
        : h('button', { type: 'button', class: 'btn btn-quiet card-suspend', onclick: act('suspend') }, t('cards.suspend'));
    return h('li', { class: 'card-row', 'data-card-id': c.cardId, 'data-queue': c.queue ?? '' },
      h('div', { class: 'card-text' },
        suspended || buried ? h('span', { class: 'pill card-state' }, t(suspended ? 'cards.state.suspended' : 'cards.state.buried')) : null,
        h('p', { class: 'card-front' }, frontText),
        h('p', { class: 'card-back muted' }, backText),
        c.noteType && c.noteType !== 'Basic' ? h('p', { class: 'card-type muted' }, c.noteType) : null),
      h('div', { class: 'card-actions' },
        editBtn,
        stateBtn,
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
  await showAdd();
}
