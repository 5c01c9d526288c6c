// The catalogue page in a real browser, offline: headless Chromium opens /catalogue on
// three servers and uses it as a reader would, with every request to another host refused.
//
//   tutorial server: the publishers table and both charts show the tutorial's data; the
//     table sorts from the keyboard; an author is found by searching; three books added
//     through the form show each outcome and the spelling the catalogue kept, and a second
//     open page sees them arrive through the subscription without reloading; with the
//     server unreachable the page says so, and recovers; a phone-sized screen needs no
//     sideways scrolling.
//   generated server: the authors are paged through with next and previous.
//   token server: the form asks for the write token, and adds the book once given it.
//
// Usage: node catalogue.mjs <tutorial URL> <generated URL> <token URL> <token> <screenshot dir>
// Chromium: $CHROMIUM, else /usr/bin/chromium (Debian's `chromium` package).

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { launchChromium, offlineContext } from './offline-chromium.mjs';

const STEP_TIMEOUT_MS = 20_000;
// A hung browser must not hang `cargo test`.
const WHOLE_RUN_TIMEOUT_MS = 180_000;

const [tutorialUrl, generatedUrl, tokenUrl, token, screenshots] = process.argv.slice(2);
if (!screenshots) {
  fail('usage: node catalogue.mjs <tutorial URL> <generated URL> <token URL> <token> <screenshot dir>');
}

const watchdog = setTimeout(() => fail(`gave up after ${WHOLE_RUN_TIMEOUT_MS / 1000} s`), WHOLE_RUN_TIMEOUT_MS);
watchdog.unref();

const blocked = [];
const problems = [];
// Requests the page is expected to see fail: the "server is gone" step aborts them.
let expectFailures = false;
let browser;
try {
  await mkdir(screenshots, { recursive: true });
  browser = await launchChromium();
  await tutorial();
  await generated();
  await tokenServer();
} catch (error) {
  problems.push(error.stack ?? error.message);
} finally {
  await browser?.close();
}

for (const url of blocked) {
  problems.push(`request to a non-local host attempted (aborted): ${url}`);
}
if (problems.length > 0) {
  fail(problems.join('\n'));
}
console.log('catalogue.mjs: ok: table, charts, search, paging, form, live updates and errors, all offline');

async function tutorial() {
  const page = await open(tutorialUrl);

  step('the table and the charts show the tutorial data');
  await expectRows(page, [['Random House', '4', '3'], ['Simon & Schuster', '4', '4'], ['Berkley', '2', '2'], ['Penguin Random House', '2', '1']]);
  await expectBars(page, 'Books per publisher', ['Random House: 4 books', 'Simon & Schuster: 4 books', 'Berkley: 2 books', 'Penguin Random House: 2 books']);
  await expectBars(page, 'Authors per publisher', ['Simon & Schuster: 4 authors', 'Random House: 3 authors', 'Berkley: 2 authors', 'Penguin Random House: 1 author']);

  step('sort the table by name from the keyboard');
  await page.getByRole('button', { name: 'Publisher', exact: true }).focus();
  await page.keyboard.press('Enter');
  await expectRows(page, [['Berkley', '2', '2'], ['Penguin Random House', '2', '1'], ['Random House', '4', '3'], ['Simon & Schuster', '4', '4']]);
  await page.keyboard.press('Enter');
  await expectRows(page, [['Simon & Schuster', '4', '4'], ['Random House', '4', '3'], ['Penguin Random House', '2', '1'], ['Berkley', '2', '2']]);

  step('search an author');
  await page.getByLabel('Search', { exact: true }).fill('king');
  await page.keyboard.press('Enter');
  await waitForText(page, '#browse-summary', '1 author with “king” in the name.');
  const found = await page.locator('#browse-results > li').allInnerTexts();
  expect(found.length === 1 && found[0].includes('Stephen King') && found[0].includes('3 books'), `search results: ${found}`);
  for (const title of ['Dead Zone', 'It', 'The Shining']) {
    expect(await page.locator('#browse-results cite', { hasText: title }).first().isVisible(), `${title} shown under Stephen King`);
  }

  step('open a second page, and wait for both to be live');
  const second = await open(tutorialUrl);
  await second.evaluate(() => {
    window.notReloaded = true;
  });
  await waitForText(page, '#live-status', 'Live');
  await waitForText(second, '#live-status', 'Live');

  step('add a book through the form');
  await addBook(page, ['Stephen', 'King', 'The Stand', 'Random House']);
  await waitForText(page, '#add-outcome', 'Added. The Stand by Stephen King, published by Random House.');

  step('the second page sees it arrive, without reloading');
  await waitForText(second, '#live-feed', 'The Stand by Stephen King (Random House)');
  expect(await second.evaluate(() => window.notReloaded === true), 'the second page was reloaded');
  await expectRows(second, [['Random House', '5', '3'], ['Simon & Schuster', '4', '4'], ['Berkley', '2', '2'], ['Penguin Random House', '2', '1']]);

  step('the catalogue keeps its spelling; a second publisher; then nothing new');
  await addBook(page, ['stephen', 'KING', 'the   stand', 'penguin random house']);
  await waitForText(page, '#add-outcome', 'The book was already there: the publisher was added to it.');
  await waitForText(page, '#add-outcome', '“Stephen King” (typed “stephen KING”), “The Stand” (typed “the stand”) and “Penguin Random House” (typed “penguin random house”)');
  // Counts follow on both pages: the adding one reloads, the other hears bookChanged.
  await expectRows(page, [['Simon & Schuster', '4', '4'], ['Random House', '5', '3'], ['Penguin Random House', '3', '1'], ['Berkley', '2', '2']]);
  await expectRows(second, [['Random House', '5', '3'], ['Simon & Schuster', '4', '4'], ['Penguin Random House', '3', '1'], ['Berkley', '2', '2']]);
  await addBook(page, ['Stephen', 'King', 'The Stand', 'Random House']);
  await waitForText(page, '#add-outcome', 'Already in the catalogue: nothing changed.');
  await page.getByRole('heading', { name: 'Publishers' }).scrollIntoViewIfNeeded();
  await shoot(page, 'catalogue.png');
  await shoot(second, 'catalogue-live.png');

  step('the server is unreachable: a message, then recovery');
  expectFailures = true;
  const graphql = (url) => url.pathname === '/graphql';
  await page.route(graphql, (route) => route.abort('connectionrefused'));
  await page.getByRole('button', { name: 'Books', exact: true }).click();
  await waitForText(page, '#problem', 'The server cannot be reached');
  expect(await page.locator('#publisher-table tbody tr').count() === 4, 'the table kept its rows');
  await page.unroute(graphql);
  expectFailures = false;
  await page.locator('#problem').getByRole('button', { name: 'Try again' }).click();
  await page.locator('#problem').waitFor({ state: 'hidden' });

  step('readable on a phone');
  const phone = await open(tutorialUrl, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await expectRows(phone, [['Random House', '5', '3'], ['Simon & Schuster', '4', '4'], ['Penguin Random House', '3', '1'], ['Berkley', '2', '2']]);
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow <= 0, `the phone page scrolls sideways by ${overflow} px`);
  await shoot(phone, 'catalogue-phone.png');
}

async function generated() {
  const page = await open(generatedUrl);
  step('page through a generated catalogue');
  const label = page.locator('#browse-pager .page-label');
  await waitForText(page, '#browse-pager .page-label', 'Page 1 · 10 of');
  const total = Number((await label.innerText()).match(/of (\d+)/)[1]);
  expect(total > 30, `only ${total} authors generated`);
  const names = () => page.locator('#browse-results summary strong').allInnerTexts();
  const first = await names();
  const next = page.locator('#browse-pager [data-page=next]');
  const previous = page.locator('#browse-pager [data-page=previous]');
  expect(await previous.isDisabled(), 'previous is enabled on the first page');
  await next.click();
  await waitForText(page, '#browse-pager .page-label', 'Page 2 · 10 of');
  const secondPage = await names();
  expect(secondPage[0] !== first[0] && secondPage.every((name) => !first.includes(name)), `page 2 repeats page 1: ${secondPage}`);
  // From the keyboard this time.
  await next.focus();
  await page.keyboard.press('Enter');
  await waitForText(page, '#browse-pager .page-label', 'Page 3 · 10 of');
  await previous.click();
  await waitForText(page, '#browse-pager .page-label', 'Page 2 · 10 of');
  expect(same(await names(), secondPage), 'previous did not lead back to page 2');
  await previous.click();
  await waitForText(page, '#browse-pager .page-label', 'Page 1 · 10 of');
  expect(same(await names(), first), 'previous did not lead back to page 1');
  expect(await previous.isDisabled(), 'previous is enabled on the first page again');
  await shoot(page, 'catalogue-generated.png');
}

async function tokenServer() {
  const page = await open(tokenUrl);
  step('live updates and the form need the write token');
  await waitForText(page, '#live-status', 'No live updates without the write token');
  await addBook(page, ['Ada', 'Lovelace', 'Notes', 'Taylor']);
  await waitForText(page, '#add-outcome', 'This server needs a write token');
  await page.getByLabel('Write token').fill(token);
  await page.getByRole('button', { name: 'Add the book' }).click();
  await waitForText(page, '#add-outcome', 'Added. Notes by Ada Lovelace, published by Taylor.');
  await waitForText(page, '#live-status', 'Live');
}

/** A new page (in a context of its own) on `url`, failing the run on any request elsewhere. */
async function open(url, options = { viewport: { width: 1280, height: 900 } }) {
  const context = await offlineContext(browser, options, blocked);
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on('pageerror', (error) => problems.push(`uncaught error in the page: ${error.message}`));
  page.on('console', (message) => {
    console.log(`browser console (${message.type()}): ${message.text()}`);
    if (message.type() === 'error' && !expectFailures && !message.text().includes('401')) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  page.on('response', (response) => {
    // 401: the token server refusing the form before it has the token, as it should.
    if (response.status() >= 400 && response.status() !== 401) {
      problems.push(`${response.status()} for ${response.url()}`);
    }
  });
  step('open', url);
  const response = await page.goto(url, { waitUntil: 'load' });
  if (!response?.ok()) {
    throw new Error(`GET ${url} answered ${response?.status()}`);
  }
  return page;
}

async function addBook(page, values) {
  const labels = ["Author's first name", "Author's last name", 'Title', 'Publisher'];
  for (const [index, label] of labels.entries()) {
    await page.getByLabel(label, { exact: true }).fill(values[index]);
  }
  await page.getByLabel('Publisher', { exact: true }).press('Enter');
}

async function expectRows(page, expected) {
  const want = JSON.stringify(expected);
  try {
    await page.waitForFunction(
      (want) => {
        const rows = [...document.querySelectorAll('#publisher-table tbody tr')].map((tr) =>
          [...tr.children].map((cell) => cell.textContent.trim()),
        );
        return JSON.stringify(rows) === want;
      },
      want,
      { timeout: STEP_TIMEOUT_MS },
    );
  } catch {
    const rows = await page.locator('#publisher-table tbody tr').allInnerTexts();
    throw new Error(`the table shows ${JSON.stringify(rows)}, not ${want}`);
  }
}

async function expectBars(page, caption, expected) {
  const chart = page.locator('figure.chart', { has: page.locator('figcaption', { hasText: caption }) });
  await chart.locator('svg g.bar').first().waitFor();
  const bars = await chart.locator('svg g.bar title').allTextContents();
  expect(same(bars, expected), `${caption}: ${JSON.stringify(bars)}`);
  const widths = await chart.locator('svg rect').evaluateAll((rects) => rects.map((rect) => Number(rect.getAttribute('width'))));
  expect(widths.every((width, i) => i === 0 || width <= widths[i - 1]) && widths[0] > widths.at(-1), `${caption}: bar widths ${widths}`);
}

async function waitForText(page, selector, text) {
  try {
    await page.locator(selector, { hasText: text }).first().waitFor({ state: 'visible' });
  } catch {
    const shown = await page.locator(selector).allInnerTexts();
    throw new Error(`${selector} never showed ${JSON.stringify(text)}; it shows ${JSON.stringify(shown)}`);
  }
}

async function shoot(page, name) {
  const path = join(screenshots, name);
  step('screenshot', path);
  await page.screenshot({ path, fullPage: true });
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

function expect(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

function step(what, detail = '') {
  console.log(`catalogue.mjs: ${what}${detail ? ` ${detail}` : ''}`);
}

function fail(message) {
  console.error(`catalogue.mjs: FAILED:\n${message}`);
  process.exit(1);
}
