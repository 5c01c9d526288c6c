// GraphiQL in a real browser, offline: opens bookgraph's page in headless Chromium, runs
// the BooksPerPublisher example, runs the BookAdded subscription until a book added over
// HTTP arrives through it, and saves a screenshot. Any request to a host other than
// the local server is aborted and fails the run, so a page that still reaches for a CDN
// cannot pass by falling back on a cache or a network that happens to be there.
//
// Usage: node graphiql.mjs <page URL> <screenshot path>
// Chromium: $CHROMIUM, else /usr/bin/chromium (Debian's `chromium` package).

import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { launchChromium, offlineContext } from './offline-chromium.mjs';

const STEP_TIMEOUT_MS = 30_000;
// A hung browser must not hang `cargo test`.
const WHOLE_RUN_TIMEOUT_MS = 120_000;

const [pageUrl, screenshotPath] = process.argv.slice(2);
if (!pageUrl || !screenshotPath) {
  fail('usage: node graphiql.mjs <page URL> <screenshot path>');
}

const watchdog = setTimeout(() => fail(`gave up after ${WHOLE_RUN_TIMEOUT_MS / 1000} s`), WHOLE_RUN_TIMEOUT_MS);
watchdog.unref();

const blocked = [];
const problems = [];
let browser;
try {
  browser = await launchChromium();
  const context = await offlineContext(browser, { viewport: { width: 1400, height: 900 } }, blocked);
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on('pageerror', (error) => problems.push(`uncaught error in the page: ${error.message}`));
  page.on('response', (response) => {
    if (response.status() >= 400) {
      problems.push(`${response.status()} for ${response.url()}`);
    }
  });
  page.on('console', (message) => console.log(`browser console (${message.type()}): ${message.text()}`));

  step('open', pageUrl);
  const response = await page.goto(pageUrl, { waitUntil: 'load' });
  if (!response?.ok()) {
    throw new Error(`GET ${pageUrl} answered ${response?.status()}`);
  }
  if (blocked.length > 0) {
    throw new Error('the page asked other hosts for what it needs (below)');
  }

  step('wait for the query editor');
  const operation = page.locator('.graphiql-query-editor .CodeMirror-line', {
    hasText: 'query BooksPerPublisher',
  });
  await operation.waitFor({ state: 'visible' });

  // Ctrl-Enter runs the operation under the cursor, so a click inside it picks it. Near the
  // line's start: its middle may lie past the editor's right edge and scroll it sideways.
  step('run BooksPerPublisher');
  await operation.click({ position: { x: 10, y: 5 } });
  await page.keyboard.press('Control+Enter');

  step('wait for the result');
  await page.waitForFunction(
    () => {
      const text = document.querySelector('.result-window')?.innerText ?? '';
      return text.includes('Random House') && text.includes('"bookCount"') && !text.includes('"errors"');
    },
    null,
    { timeout: STEP_TIMEOUT_MS },
  );

  // The BookAdded example subscribes over a WebSocket; books added over HTTP meanwhile
  // must show up in the result pane. The subscription starts a moment after Ctrl-Enter,
  // so books keep coming until one arrives.
  step('run BookAdded');
  const subscription = page.locator('.graphiql-query-editor .CodeMirror-line', {
    hasText: 'subscription BookAdded',
  });
  await subscription.click({ position: { x: 10, y: 5 } });
  await page.keyboard.press('Control+Enter');

  step('add books until one arrives over the subscription');
  const arrived = () =>
    page.evaluate(() => (document.querySelector('.result-window')?.innerText ?? '').includes('Seen In GraphiQL'));
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  for (let n = 1; !(await arrived()); n++) {
    if (Date.now() > deadline) {
      throw new Error('no bookAdded event reached GraphiQL');
    }
    await addBook(`Seen In GraphiQL ${n}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }

  step('screenshot', screenshotPath);
  await mkdir(dirname(screenshotPath), { recursive: true });
  await page.screenshot({ path: screenshotPath, fullPage: true });
} catch (error) {
  problems.push(error.message);
} finally {
  await browser?.close();
}

for (const url of blocked) {
  problems.push(`request to a non-local host attempted (aborted): ${url}`);
}
if (problems.length > 0) {
  fail(problems.join('\n'));
}
console.log('graphiql.mjs: ok: GraphiQL ran BooksPerPublisher and BookAdded with no request leaving the machine');

async function addBook(title) {
  const response = await fetch(new URL('/graphql', pageUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: `mutation($input: AddBookInput!) { addBook(input: $input) { outcome } }`,
      variables: {
        input: { authorFirstName: 'Ada', authorLastName: 'Browser', title, publisherName: 'Chromium Press' },
      },
    }),
  });
  if (!response.ok) {
    throw new Error(`addBook answered ${response.status}: ${await response.text()}`);
  }
}

function step(what, detail = '') {
  console.log(`graphiql.mjs: ${what}${detail ? ` ${detail}` : ''}`);
}

function fail(message) {
  console.error(`graphiql.mjs: FAILED:\n${message}`);
  process.exit(1);
}
