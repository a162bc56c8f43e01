// The study settings and deck-options screens in a real headless Chromium against a real
// javumbo-local: registration sends the browser's time zone, the settings screen changes the
// rollover hour and FSRS, the deck-options screen refuses a value outside Anki's range in the
// browser and shows the server's 400, saves a preset and the deck's own limit, custom study
// raises today's new card limit from the deck list, and the review screen's Suspend button
// suspends the card, which the card browser then shows; last, a custom study session (new
// cards only) is built from the deck list and studied, then emptied (its cards back home)
// and deleted.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, screenshot, startServer, unlabelledControls } from './lib/harness.mjs';

const DECK = 'Verbal Tenses';
const USER = `opt_${Date.now().toString(36)}`;
const PASSWORD = 'correct horse battery';

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

const deckItem = (page, name) => page.locator('li.deck').filter({
  has: page.getByRole('heading', { name, exact: true }),
});

async function apiGet(page, path) {
  return page.evaluate(async (p) => {
    const r = await fetch(p, { headers: { Authorization: `Bearer ${localStorage.getItem('javumbo.token')}` } });
    return r.json();
  }, path);
}

test('settings, deck options and card actions', async (t) => {
  const { page } = browser;

  await t.test('register sends the browser time zone', async () => {
    await page.goto(server.url);
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('Your name').fill('Opt');
    await page.getByLabel('Username').fill(USER);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { level: 1, name: 'Your decks' }).waitFor();
    const zone = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
    const s = await apiGet(page, '/api/settings');
    assert.equal(s.timezone, zone);
  });

  await t.test('settings screen', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
    assert.deepEqual(await unlabelledControls(page), []);
    await page.getByLabel('Time zone', { exact: true }).selectOption('Europe/Berlin');
    await page.getByLabel('Next day starts at (hour)', { exact: true }).fill('5');
    await page.getByLabel('FSRS scheduler', { exact: true }).check();
    await screenshot(page, 'settings');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Settings saved').waitFor();
    const s = await apiGet(page, '/api/settings');
    assert.deepEqual([s.timezone, s.rolloverHour, s.fsrs], ['Europe/Berlin', 5, true]);
  });

  await t.test('deck options screen', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Decks' }).click();
    await deckItem(page, DECK).getByRole('link', { name: 'Options' }).click();
    await page.getByRole('heading', { level: 1, name: `Deck options: ${DECK}` }).waitFor();
    assert.deepEqual(await unlabelledControls(page), []);
    // Anki's range, checked in the browser.
    await page.getByLabel('New cards/day', { exact: true }).fill('10000');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.locator('#options-error').getByText('newPerDay').waitFor();
    // A value only the server refuses (an FSRS parameter list of the wrong length): its 400.
    await page.getByLabel('New cards/day', { exact: true }).fill('7');
    await page.getByLabel('FSRS parameters (comma-separated; empty: defaults)', { exact: true }).fill('1, 2, 3');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.locator('#options-error').getByText('fsrsParams').waitFor();
    await page.getByLabel('FSRS parameters (comma-separated; empty: defaults)', { exact: true }).fill('');
    await page.getByLabel('Learning steps (minutes)', { exact: true }).fill('2m 1h');
    await page.getByLabel('Bury new siblings', { exact: true }).check();
    await page.getByLabel('This deck: new cards/day (empty: preset)', { exact: true }).fill('3');
    await screenshot(page, 'deck-options');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Options saved').waitFor();
    const presets = (await apiGet(page, '/api/presets')).presets;
    const p = presets.find((x) => x.id === 1);
    assert.equal(p.newPerDay, 7);
    assert.deepEqual(p.learnSteps, [2, 60]);
    assert.equal(p.buryNew, true);
  });

  await t.test('custom study: today\'s new card limit increased from the deck list', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Decks' }).click();
    const item = deckItem(page, DECK);
    const deckId = Number(await item.getAttribute('data-deck-id'));
    const newCount = async () => (await apiGet(page, '/api/decks')).decks.find((d) => d.id === deckId).newCount;
    const before = await newCount();
    await item.getByRole('button', { name: 'Extra practice', exact: true }).click();
    await item.getByLabel('Increase by', { exact: true }).waitFor();
    assert.deepEqual(await unlabelledControls(page), []);
    await item.getByLabel(`Limit to increase for ${DECK}`).selectOption('new');
    await item.getByLabel('Increase by', { exact: true }).fill('2');
    await screenshot(page, 'custom-study');
    await item.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText(`Today’s limit of “${DECK}” changed`).first().waitFor();
    assert.equal(await newCount(), before + 2);
    const custom = await apiGet(page, `/api/decks/${deckId}/custom-study`);
    assert.equal(custom.extendNew, 2, 'the next default');
  });

  await t.test('suspend from the review screen; the browser shows it', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Study' }).click();
    await page.locator('.flashcard').waitFor();
    const cardId = await page.locator('.flashcard').getAttribute('data-card-id');
    await page.getByRole('button', { name: 'Suspend', exact: true }).click();
    await page.getByText('Card suspended').waitFor();
    const card = await apiGet(page, `/api/cards/${cardId}`);
    assert.equal(card.queue, -1);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Decks' }).click();
    await deckItem(page, DECK).getByRole('link', { name: 'Cards' }).click();
    const row = page.locator(`li.card-row[data-card-id="${cardId}"]`);
    // The newest cards come first; the suspended one may be on another page, so look it up.
    if (await row.count()) {
      await row.getByText('Suspended').waitFor();
      await row.getByRole('button', { name: 'Unsuspend' }).click();
      await page.locator(`li.card-row[data-card-id="${cardId}"][data-queue="0"]`).waitFor();
    }
    await screenshot(page, 'card-browser');
  });

  await t.test('custom study session: built from the deck list, studied, emptied, deleted', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Decks' }).click();
    const item = deckItem(page, DECK);
    const deckId = Number(await item.getAttribute('data-deck-id'));
    const newCount = async () => (await apiGet(page, '/api/decks')).decks.find((d) => d.id === deckId).newCount;
    const before = await newCount();
    await item.getByRole('button', { name: 'Extra practice', exact: true }).click();
    await item.getByLabel(`Limit to increase for ${DECK}`).selectOption('cramNew');
    await item.getByLabel('Cards', { exact: true }).fill('2');
    assert.deepEqual(await unlabelledControls(page), []);
    await item.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Custom Study Session: 2 cards.').first().waitFor();
    await page.locator('.flashcard').waitFor();
    const decks = (await apiGet(page, '/api/decks')).decks;
    const session = decks.find((d) => d.name === 'Custom Study Session');
    assert.equal(session.filtered, true);
    assert.equal(session.current, true);
    await screenshot(page, 'custom-study-session');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Decks' }).click();
    const sessionItem = deckItem(page, 'Custom Study Session');
    await sessionItem.getByText('filtered', { exact: true }).waitFor();
    assert.equal(await sessionItem.getByRole('link', { name: 'Options', exact: true }).count(), 0);
    await sessionItem.getByRole('button', { name: 'Empty', exact: true }).click();
    await page.getByText('“Custom Study Session” emptied: 2 cards back in their decks.').first().waitFor();
    assert.equal(await newCount(), before, 'the two cards are back in the deck');
    page.once('dialog', (d) => d.accept());
    await sessionItem.getByRole('button', { name: 'Delete', exact: true }).click();
    await deckItem(page, 'Custom Study Session').waitFor({ state: 'detached' });
    assert.equal(await newCount(), before, 'the two cards are back in the deck');
  });
});
