// The account screen in a real headless Chromium against a real javumbo-local: a wrong current
// password is an answer on the form (the student stays logged in), a password change keeps
// this browser logged in with a fresh token and voids the old one, logging out voids the token
// on the server, and account deletion asks for the username, removes the account and lets the
// name be registered again from nothing.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, screenshot, startServer, unlabelledControls } from './lib/harness.mjs';

const USER = `acct_${Date.now().toString(36)}`;
const PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'staple battery horse';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Status of GET /api/decks with a given token, from the page (same origin). */
async function decksStatus(page, token) {
  return page.evaluate(async (tok) => {
    const r = await fetch('/api/decks', { headers: { Authorization: `Bearer ${tok}` } });
    return r.status;
  }, token);
}

const token = (page) => page.evaluate(() => localStorage.getItem('javumbo.token'));

async function register(page) {
  await page.goto(server.url);
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByLabel('Your name').fill('Leaver');
  await page.getByLabel('Username').fill(USER);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { level: 1, name: 'Your decks' }).waitFor();
}

async function login(page, password) {
  await page.getByLabel('Username').fill(USER);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

const openSettings = async (page) => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('heading', { level: 1, name: 'Account' }).waitFor();
};

test('password change, logout and account deletion', async (t) => {
  const { page } = browser;
  await register(page);

  await t.test('password change', async () => {
    await openSettings(page);
    assert.deepEqual(await unlabelledControls(page), []);
    const before = await token(page);
    await page.getByLabel('Current password', { exact: true }).fill('not my password');
    await page.getByLabel('New password (at least 8 characters)', { exact: true }).fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.locator('#account-password-error').getByText('Invalid credentials').waitFor();
    assert.equal(await token(page), before, 'a wrong password is no logout');
    await page.getByLabel('Current password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('Password changed.').waitFor();
    const after = await token(page);
    assert.notEqual(after, before);
    assert.equal(await decksStatus(page, before), 401, 'the old token is void');
    assert.equal(await decksStatus(page, after), 200);
    await screenshot(page, 'account');
  });

  await t.test('logout voids the token on the server', async () => {
    const held = await token(page);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { level: 1, name: 'Welcome back' }).waitFor();
    assert.equal(await decksStatus(page, held), 401);
    await login(page, PASSWORD);
    await page.getByRole('alert').filter({ hasText: /Invalid credentials/ }).waitFor();
    await login(page, NEW_PASSWORD);
    await page.getByRole('heading', { level: 1, name: 'Your decks' }).waitFor();
  });

  await t.test('account deletion', async () => {
    await openSettings(page);
    const held = await token(page);
    await page.getByLabel('Password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel(`Type your username (${USER}) to confirm`).fill('someone else');
    await page.getByRole('button', { name: 'Delete my account' }).click();
    await page.locator('#account-delete-error').getByText('does not match').waitFor();
    assert.equal(await decksStatus(page, held), 200, 'nothing deleted yet');
    await page.getByLabel(`Type your username (${USER}) to confirm`).fill(USER);
    await page.getByRole('button', { name: 'Delete my account' }).click();
    await page.getByRole('heading', { level: 1, name: 'Welcome back' }).waitFor();
    assert.equal(await decksStatus(page, held), 401);
    await login(page, NEW_PASSWORD);
    await page.getByRole('alert').filter({ hasText: /Invalid credentials/ }).waitFor();
    // The name is free again.
    await register(page);
  });
});
