// The acceptance scenario, in a real headless Chromium against a real javumbo-local:
// a new student registers, studies five cards with the keyboard, adds a card, edits it, sees the
// statistics change, exports and re-imports the deck, logs out and in again and finds everything.
// Screenshots of every screen go to tests/artifacts/e2e/.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ARTIFACTS, launch, screenshot, startServer, unlabelledControls } from './lib/harness.mjs';
import { startMock } from './lib/mock-api.mjs';

const DECK = 'Verbal Tenses';
const USER = `e2e_${Date.now().toString(36)}`;
const PASSWORD = 'correct horse battery';
const NAME = 'Ana Souza';

let server;
let browser;

before(async () => {
  // JAVUMBO_E2E_MOCK=1 runs the same scenario against the in-memory mock (UI work without a server).
  server = process.env.JAVUMBO_E2E_MOCK ? await startMock({ cardsInStarter: 30 }) : await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const deckItem = (page, name) => page.locator('li.deck').filter({
  has: page.getByRole('heading', { name, exact: true }),
});

async function openDecks(page) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Decks' }).click();
  await page.getByRole('heading', { level: 1, name: 'Your decks' }).waitFor();
}

/** Opens the deck's statistics screen and reads the chart's numbers. */
async function deckStats(page, name) {
  await openDecks(page);
  await deckItem(page, name).getByRole('link', { name: 'Statistics' }).click();
  await page.locator('#stats-chart').waitFor();
  const counts = await page.locator('#stats-chart g[data-category]').evaluateAll((gs) =>
    Object.fromEntries(gs.map((g) => [g.dataset.category, Number(g.dataset.count)])));
  const total = Number(await page.locator('#stats-total').textContent());
  return { counts, total };
}

test('a new student studies, edits, exports, re-imports and finds everything again', async (t) => {
  const { page, problems } = browser;

  await t.test('register', async () => {
    await page.goto(server.url);
    await page.getByRole('heading', { name: 'Welcome back' }).waitFor();
    await screenshot(page, '01-login');
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('Your name').fill(NAME);
    await page.getByLabel('Username').fill(USER);
    await page.getByLabel('Password').fill(PASSWORD);
    assert.deepEqual(await unlabelledControls(page), []);
    await screenshot(page, '02-register');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { level: 1, name: 'Your decks' }).waitFor();
    await deckItem(page, DECK).locator('.pill-new strong').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'H1', 'focus moves to the new screen');
    assert.ok(await page.evaluate(() => localStorage.getItem('javumbo.token')), 'token kept in localStorage');
    assert.deepEqual(await unlabelledControls(page), []);
    await screenshot(page, '03-decks');
  });

  const before = await deckStats(page, DECK);
  assert.ok(before.counts.New >= 5, `starter deck has new cards: ${JSON.stringify(before)}`);
  await screenshot(page, '04-stats-before');

  await t.test('study five cards with the keyboard', async () => {
    await openDecks(page);
    await deckItem(page, DECK).getByRole('button', { name: 'Study' }).click();
    const show = page.getByRole('button', { name: /Show answer/ });
    const progress = page.locator('.progress-total');
    for (let i = 0; i < 5; i++) {
      await show.waitFor();
      const front = await page.locator('.card-face.front').textContent();
      assert.ok(front.trim().length > 0, 'the question has text');
      if (i === 0) await screenshot(page, '05-study-question');
      await page.keyboard.press('Space');
      await page.locator('.card-face.back').waitFor();
      const labels = await page.locator('.ease-buttons button').allTextContents();
      assert.equal(labels.length, 4);
      assert.match(labels[0], /Again/);
      assert.match(labels[2], /Good/);
      // The API's intervals label the buttons ("1m", "10m", "4d", ...).
      const intervals = await page.locator('.ease-interval').allTextContents();
      // Anki's labels: "30s", "1m", "1.5h", "4d", "1.2mo", "1y", with "<" within the learn-ahead limit.
      assert.ok(intervals.every((s) => /^<?\d+(\.\d)?(s|m|h|d|mo|y)$/.test(s.trim())), `intervals ${intervals}`);
      assert.match(await page.locator('#study-live').textContent(), /^Answer: /, 'answer announced');
      if (i === 0) await screenshot(page, '06-study-answer');
      // Space = Good for most; "3" (also Good) for the rest, to cover both shortcuts.
      await page.keyboard.press(i % 2 ? '3' : 'Space');
      await page.waitForFunction((n) => document.querySelector('.progress-total')?.textContent.startsWith(`${n} `), i + 1);
    }
    assert.match(await progress.textContent(), /^5 cards reviewed/);
  });

  const studied = await deckStats(page, DECK);
  await t.test('statistics show the five studied cards', async () => {
    assert.equal(studied.counts.New, before.counts.New - 5);
    assert.equal(studied.counts.Learning, (before.counts.Learning || 0) + 5);
    assert.equal(studied.total, before.total);
    await screenshot(page, '07-stats-after-study');
  });

  const FRONT = 'She has been living in Lisbon since 2019.';
  const BACK = 'Present perfect continuous';
  const BACK_EDITED = 'Present perfect continuous: an action that started in the past and continues now';

  await t.test('add a card, then edit it', async () => {
    await openDecks(page);
    await deckItem(page, DECK).getByRole('link', { name: 'Cards' }).click();
    await page.getByRole('heading', { name: 'Add a card' }).waitFor();
    await page.getByLabel('Front').fill(FRONT);
    await page.getByLabel('Back').fill(BACK);
    await page.getByRole('button', { name: 'Add card' }).click();
    const row = page.locator('.card-row').first();
    await row.filter({ hasText: FRONT }).waitFor();
    await row.getByRole('button', { name: `Edit card: ${FRONT}` }).click();
    await page.getByRole('heading', { name: 'Edit card' }).waitFor();
    assert.equal(await page.getByLabel('Back').inputValue(), BACK);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'card-front', 'focus goes to the editor');
    await page.getByLabel('Back').fill(BACK_EDITED);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('.card-row').first().filter({ hasText: BACK_EDITED }).waitFor();
    assert.deepEqual(await unlabelledControls(page), []);
    await screenshot(page, '08-cards');
  });

  await t.test('statistics change with the new card', async () => {
    const now = await deckStats(page, DECK);
    assert.equal(now.total, before.total + 1);
    assert.equal(now.counts.New, studied.counts.New + 1);
    assert.equal(now.counts.Learning, studied.counts.Learning);
  });

  let exported;
  await t.test('export downloads an .apkg', async () => {
    await page.getByRole('link', { name: 'Import / Export' }).click();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download .apkg' }).click(),
    ]);
    assert.match(download.suggestedFilename(), new RegExp(`^${USER}_export_\\d{8}_\\d{6}\\.apkg$`));
    exported = join(ARTIFACTS, 'export.apkg');
    await download.saveAs(exported);
    const bytes = await readFile(exported);
    assert.equal(bytes.subarray(0, 4).toString('latin1'), 'PK\x03\x04', 'a zip file');
    await page.getByText(/^Downloaded /).waitFor();
  });

  await t.test('delete the deck, then re-import it from the export', async () => {
    await openDecks(page);
    page.once('dialog', (d) => d.accept());
    await deckItem(page, DECK).getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('heading', { level: 1, name: 'Your decks' }).waitFor();
    await deckItem(page, DECK).waitFor({ state: 'detached' });

    await page.getByRole('link', { name: 'Import / Export' }).click();
    await page.getByLabel('Anki package (.apkg)').setInputFiles(exported);
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    const summary = page.locator('.import-summary');
    await summary.waitFor();
    assert.ok(Number(await summary.locator('[data-field=cards]').textContent()) >= before.total + 1);
    assert.match(await summary.textContent(), new RegExp(DECK));
    assert.deepEqual(await unlabelledControls(page), []);
    await screenshot(page, '09-import');
  });

  await t.test('log out, log in again, everything is there', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Welcome back' }).waitFor();
    assert.equal(await page.evaluate(() => localStorage.getItem('javumbo.token')), null);
    await page.getByLabel('Username').fill(USER);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Your decks' }).waitFor();
    const after = await deckStats(page, DECK);
    assert.equal(after.total, before.total + 1);
    assert.equal(after.counts.Learning, studied.counts.Learning, 'review history survived export + import');
    assert.equal(after.counts.New, studied.counts.New + 1);
    await screenshot(page, '10-stats-after-reimport');
    await page.getByRole('link', { name: 'Cards' }).click();
    await page.locator('.card-row').filter({ hasText: BACK_EDITED }).waitFor();
  });

  await t.test('phone-sized study screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    // Deleting the deck made deck 1 current; studying the re-imported deck selects it again.
    await openDecks(page);
    await deckItem(page, DECK).getByRole('button', { name: 'Study' }).click();
    await page.getByRole('heading', { level: 1, name: 'Study' }).waitFor();
    await page.locator('#show-answer, #nothing-due').first().waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling on a phone (overflow ${overflow}px)`);
    if (await page.locator('#show-answer').count()) await page.keyboard.press('Space');
    await screenshot(page, '11-phone-study');
  });

  assert.deepEqual(problems, [], 'no console errors, page errors or failed requests');
});
