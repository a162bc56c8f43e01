// Log in and register. Forms are real <form>s with labels so browsers' password managers and
// screen readers understand them; errors go in a role=alert region next to the button.

import { h, mount } from '../dom.js';
import { t } from '../i18n.js';

function field(id, label, attrs = {}, hint = null) {
  const hintId = hint ? `${id}-hint` : null;
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    h('input', { id, name: id, required: true, 'aria-describedby': hintId, ...attrs }),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null);
}

function shell(title, intro, form, footer) {
  return h('div', { class: 'auth' },
    h('div', { class: 'panel auth-panel' },
      h('h1', {}, title),
      h('p', { class: 'muted' }, intro),
      form,
      h('p', { class: 'auth-switch' }, footer)));
}

/** Disable the submit button while a request runs; show errors in the form's alert region. */
function wire(form, onSubmit) {
  const error = form.querySelector('.form-error');
  const button = form.querySelector('button[type=submit]');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    button.disabled = true;
    try {
      await onSubmit(new FormData(form));
    } catch (err) {
      error.textContent = err.message;
      const first = form.querySelector('input');
      if (first && err.status === 400) first.focus();
    } finally {
      button.disabled = false;
    }
  });
}

export async function login(main, { api, session, navigate, toast, takeNotice }) {
  const pending = takeNotice();
  const form = h('form', { class: 'stack', novalidate: false },
    pending ? h('p', { class: 'notice', role: 'status' }, pending) : null,
    field('username', t('auth.username'), { autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false' }),
    field('password', t('auth.password'), { type: 'password', autocomplete: 'current-password' }),
    h('p', { class: 'form-error error', role: 'alert' }),
    h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, t('auth.login')));
  wire(form, async (data) => {
    const username = String(data.get('username')).trim();
    const res = await api.login(username, String(data.get('password')));
    session.save(res.access_token, { username: res.username || username, name: res.name || username });
    toast(t('auth.welcome', { name: res.name || username }));
    navigate('/decks');
  });
  mount(main, shell(t('auth.loginTitle'), t('auth.loginIntro'), form,
    [t('auth.noAccount'), ' ', h('a', { href: '#/register' }, t('auth.register'))]));
}

export async function register(main, { api, session, navigate, toast }) {
  const form = h('form', { class: 'stack' },
    field('name', t('auth.name'), { autocomplete: 'name', maxlength: 50 }),
    field('username', t('auth.username'), {
      autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false',
      maxlength: 20, pattern: '[A-Za-z0-9_.\\-]{1,20}',
    }, t('auth.usernameHint')),
    field('password', t('auth.password'), { type: 'password', autocomplete: 'new-password', minlength: 8 },
      t('auth.passwordHint')),
    h('p', { class: 'form-error error', role: 'alert' }),
    h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, t('auth.createAccount')));
  wire(form, async (data) => {
    const name = String(data.get('name')).trim();
    const username = String(data.get('username')).trim();
    const password = String(data.get('password'));
    // The collection's day starts at the rollover hour in the student's own zone.
    let timezone;
    try { timezone = Intl.DateTimeFormat().resolvedOptions().timeZone || undefined; } catch { timezone = undefined; }
    await api.register(username, name, password, timezone);
    // Registration does not return a token; log straight in so the student lands on their decks.
    const res = await api.login(username, password);
    session.save(res.access_token, { username: res.username || username, name: res.name || name });
    toast(t('auth.registered', { name }));
    navigate('/decks');
  });
  mount(main, shell(t('auth.registerTitle'), t('auth.registerIntro'), form,
    [t('auth.haveAccount'), ' ', h('a', { href: '#/login' }, t('auth.login'))]));
}
