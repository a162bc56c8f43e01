// Settings: the student's day (time zone, rollover hour) and the collection-wide FSRS switches.
// Ranges are checked here for a quick answer; the server's 400 is shown as it says it.

import { h, mount } from '../dom.js';
import { t } from '../i18n.js';

function zones(current) {
  let list = [];
  try { list = Intl.supportedValuesOf('timeZone'); } catch { list = []; }
  if (!list.includes('UTC')) list = ['UTC', ...list];
  if (current && !list.includes(current)) list = [current, ...list];
  return list;
}

export async function render(main, { api, toast }) {
  const s = await api.settings();
  const browserZone = (() => {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone; } catch { return 'UTC'; }
  })();
  const current = s.timezone || browserZone || 'UTC';
  const tz = h('select', { id: 'settings-timezone', name: 'timezone' },
    zones(current).map((z) => h('option', { value: z, selected: z === current }, z)));
  const hour = h('input', {
    id: 'settings-rollover', name: 'rolloverHour', type: 'number', min: 0, max: 23, step: 1,
    required: true, value: String(s.rolloverHour),
  });
  const fsrs = h('input', { id: 'settings-fsrs', name: 'fsrs', type: 'checkbox', checked: s.fsrs });
  const shortTerm = h('input', {
    id: 'settings-short-term', name: 'fsrsShortTermWithSteps', type: 'checkbox',
    checked: s.fsrsShortTermWithSteps,
  });
  const error = h('p', { class: 'error', role: 'alert', id: 'settings-error' });
  const form = h('form', { class: 'stack', id: 'settings-form', novalidate: true },
    h('label', { for: 'settings-timezone' }, t('settings.timezone')), tz,
    h('label', { for: 'settings-rollover' }, t('settings.rollover')), hour,
    h('label', { class: 'check' }, fsrs, ' ', t('settings.fsrs')),
    h('label', { class: 'check' }, shortTerm, ' ', t('settings.shortTerm')),
    error,
    h('button', { class: 'btn btn-primary', type: 'submit', id: 'settings-save' }, t('settings.save')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    const h24 = Number(hour.value);
    if (!Number.isInteger(h24) || h24 < 0 || h24 > 23) {
      error.textContent = 'rolloverHour must be 0 to 23';
      return;
    }
    try {
      await api.updateSettings({
        timezone: tz.value, rolloverHour: h24, fsrs: fsrs.checked,
        fsrsShortTermWithSteps: shortTerm.checked,
      });
      toast(t('settings.saved'));
    } catch (err) {
      if (err.status === 401) return;
      error.textContent = err.message;
    }
  });
  mount(main, h('div', { class: 'panel' }, h('h1', {}, t('settings.title')), form));
}
