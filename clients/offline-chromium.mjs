// Chromium for the browser tests, offline: pages may load only from the servers under test on
// this machine, and every request to another host is refused and noted.
//
// Chromium: $CHROMIUM, else /usr/bin/chromium (Debian's `chromium` package).

import { chromium } from 'playwright-core';

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost']);

/** Headless Chromium with nothing of its own going to the network. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A new context of `browser` whose requests to hosts not on this machine are refused and
 * pushed onto `blocked`. */
export async function offlineContext(browser, options, blocked) {
  const context = await browser.newContext(options);
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (LOCAL_HOSTS.has(new URL(url).hostname)) {
      return route.continue();
    }
    blocked.push(url);
    return route.abort('blockedbyclient');
  });
  return context;
}
