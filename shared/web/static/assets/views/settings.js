// Settings: the student's day (time zone, rollover hour) and the collection-wide FSRS switches.
// Ranges are checked here for a quick answer; the server's 400 is shown as it says it.

import { session } from '../api.js';
import { h, mount } from '../dom.js';
import { t } from '../i18n.js';

function zones(current) {
  let list = [];
  try { list = Intl.supportedValuesOf('timeZone'); } catch { list = []; }
  if (!list.includes('UTC')) list = ['UTC', ...list];
  if (current && !list.includes(current)) list = [current, ...list];
  return list;
}

export async function render(main, { api, toast, navigate }) {
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
  mount(main, h('div', { class: 'panel' }, h('h1', {}, t('settings.title')), form),
    accountPanel({ api, toast, navigate }));
}

/** Password change (a fresh token replaces every old one) and account deletion. */
function accountPanel({ api, toast, navigate }) {
  const field = (id, key, autocomplete) => [
    h('label', { for: id }, t(key)),
    h('input', { id, name: id, type: 'password', required: true, autocomplete }),
  ];
  const [curLabel, current] = field('account-current', 'account.current', 'current-password');
  const [newLabel, next] = field('account-new', 'account.new', 'new-password');
  const pwError = h('p', { class: 'error', role: 'alert', id: 'account-password-error' });
  const pwForm = h('form', { class: 'stack', id: 'account-password-form', novalidate: true },
    h('h2', {}, t('account.passwordTitle')), curLabel, current, newLabel, next, pwError,
    h('button', { class: 'btn', type: 'submit', id: 'account-password-save' }, t('account.change')));
  pwForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    pwError.textContent = '';
    if (next.value.length < 8) { pwError.textContent = t('account.tooShort'); return; }
    try {
      const res = await api.changePassword(current.value, next.value);
      session.save(res.access_token, { username: res.username, name: res.name });
      current.value = ''; next.value = '';
      toast(t('account.changed'));
    } catch (err) {
      pwError.textContent = err.message;
    }
  });

  const username = session.user?.username || '';
  const [delLabel, password] = field('account-delete-password', 'account.password', 'current-password');
  const confirm = h('input', { id: 'account-delete-confirm', name: 'confirm', type: 'text', required: true, autocomplete: 'off' });
  const delError = h('p', { class: 'error', role: 'alert', id: 'account-delete-error' });
  const delForm = h('form', { class: 'stack', id: 'account-delete-form', novalidate: true },
    h('h2', {}, t('account.deleteTitle')),
    h('p', {}, t('account.deleteWarning')),
    delLabel, password,
    h('label', { for: 'account-delete-confirm' }, t('account.confirm', { username })), confirm,
    delError,
    h('button', { class: 'btn btn-danger', type: 'submit', id: 'account-delete' }, t('account.delete')));
  delForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    delError.textContent = '';
    if (confirm.value !== username) { delError.textContent = t('account.confirmMismatch'); return; }
    try {
      await api.deleteAccount(password.value, confirm.value);
      session.clear();
      toast(t('account.deleted'));
      navigate('/login');
    } catch (err) {
      delError.textContent = err.message;
    }
  });
  return h('div', { class: 'panel', id: 'account-panel' }, h('h1', {}, t('account.title')), pwForm, delForm);
}
