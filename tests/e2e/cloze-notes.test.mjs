// Note types in the web app, in a real headless Chromium against a real javumbo-local: a student
// adds a cloze note through the note-type-aware form and studies its two cards, rendered as Anki
// renders them (the cloze note type's CSS applies inside the card and nowhere else).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, screenshot, startServer, unlabelledControls } from './lib/harness.mjs';

const USER = `cloze_${Date.now().toString(36)}`;
const DECK = 'Capitals';

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

test('a cloze note is added in the web app and studied', async () => {
  const { page, problems } = browser;
  await page.goto(server.url);
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByLabel('Your name').fill('Clo Ze');
  await page.getByLabel('Username').fill(USER);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { level: 1, name: 'Your decks' }).waitFor();

  await page.getByLabel('Deck name').fill(DECK);
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await deckItem(page, DECK).getByRole('link', { name: 'Cards' }).click();
  await page.getByRole('heading', { name: 'Add a card' }).waitFor();

  // The form follows the note type: Cloze has "Text" and "Back Extra", and explains the syntax.
  await page.getByLabel('Note type').selectOption({ label: 'Cloze' });
  await page.getByLabel('Text').fill('{{c1::Lima::city}} is the capital of {{c2::Peru}}');
  await page.getByLabel('Back Extra').fill('South America');
  assert.match(await page.locator('#note-help').textContent(), /\{\{c1::/);
  assert.deepEqual(await unlabelledControls(page), []);
  await screenshot(page, 'cloze-01-add');
  await page.getByRole('button', { name: 'Add card' }).click();
  await page.locator('.card-row').nth(1).waitFor();
  assert.equal(await page.locator('.card-row').count(), 2, 'one card per cloze number');
  const rows = await page.locator('.card-front').allTextContents();
  assert.ok(rows.includes('[city] is the capital of Peru'), `browser rows ${rows}`);

  // Studying: Anki's cloze rendering, card CSS scoped to the card.
  await page.getByRole('link', { name: 'Decks' }).first().click();
  await deckItem(page, DECK).getByRole('button', { name: 'Study' }).click();
  const question = page.locator('.card-face.front .anki-card');
  await question.waitFor();
  assert.equal((await question.textContent()).trim(), '[city] is the capital of Peru');
  const weight = await page.locator('.card-face.front .cloze').evaluate((el) => getComputedStyle(el).fontWeight);
  assert.equal(weight, '700', "the note type's .cloze rule applies in the card");
  const appFont = await page.evaluate(() => getComputedStyle(document.body).fontFamily);
  assert.doesNotMatch(appFont, /^arial$/i, "the card's CSS does not restyle the app");
  await screenshot(page, 'cloze-02-question');
  await page.keyboard.press('Space');
  const answer = page.locator('.card-face.back .anki-card');
  await answer.waitFor();
  assert.match(await answer.textContent(), /Lima is the capital of Peru\s*South America/);
  await page.keyboard.press('3');
  await page.waitForFunction(() => document.querySelector('.card-face.front .anki-card')?.textContent.includes('Lima is the capital of [...]'));
  await screenshot(page, 'cloze-03-second-card');

  // Editing the note adds the third cloze number's card.
  await page.getByRole('link', { name: 'Decks' }).first().click();
  await deckItem(page, DECK).getByRole('link', { name: 'Cards' }).click();
  await page.locator('.card-row').first().getByRole('button', { name: /^Edit card/ }).click();
  await page.getByRole('heading', { name: 'Edit card' }).waitFor();
  await page.getByLabel('Text').fill('{{c1::Lima::city}} is the capital of {{c2::Peru}} in {{c3::South America}}');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('.card-row').nth(2).waitFor();
  assert.equal(await page.locator('.card-row').count(), 3);

  assert.deepEqual(problems, [], 'no console errors, page errors or failed requests');
});
