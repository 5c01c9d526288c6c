// The catalogue page: wires the sections together, keeps them current as books arrive over
// the bookAdded subscription, and says so plainly when the server cannot be reached.

import { AddBookForm } from './add-book.js';
import { Browser } from './browse.js';
import { ApiError, subscribe } from './graphql.js';
import { Publishers } from './publishers.js';
import { clearProblem, h, list, showProblem } from './ui.js';

const LIVE = {
  added: `subscription CatalogueBookAdded {
    bookAdded { id title author { name } publishers { name } }
  }`,
  // A publisher added to a book (addBook's PUBLISHER_ADDED) changes counts too.
  changed: `subscription CatalogueBookChanged { bookChanged { id } }`,
};

/** New books shown at most in the feed. */
const FEED_LENGTH = 20;
/** Books often arrive in bursts (an import); one reload of the views follows them all. */
const RELOAD_DELAY_MS = 300;

const status = document.getElementById('live-status');
const feed = document.getElementById('live-feed');

/** Whether a view failed in the last reload. */
let failed = false;
let pendingReload;
/** Whether the subscription was live before: going live again means changes were missed. */
let wasLive = false;

const publishers = new Publishers(document.getElementById('publishers'), report);
const browser = new Browser(document.getElementById('browse'), report);
const live = subscribe(LIVE, {
  onData: (name, data) => (name === 'added' ? bookAdded(data) : reloadSoon()),
  onStatus: liveStatus,
});
const form = new AddBookForm(document.getElementById('add-book'), {
  onOffline: report,
  onTokenChange: () => live.restart(),
  // Without live updates (no token for them yet), the page's own change still shows.
  onAdded: reloadSoon,
});

reload();

/** Loads every view again; the problem banner goes once they all load. */
async function reload() {
  failed = false;
  await Promise.all([publishers.load(), browser.load()]);
  if (!failed) {
    clearProblem();
  }
}

function reloadSoon() {
  clearTimeout(pendingReload);
  pendingReload = setTimeout(reload, RELOAD_DELAY_MS);
}

/** A view failed to load: the banner says why, the views keep what they showed. */
function report(error) {
  failed = true;
  if (!(error instanceof ApiError)) {
    console.error(error);
  }
  const message =
    error.kind === 'offline'
      ? `${error.message} What you see may be out of date; the page catches up once the server is back.`
      : `The catalogue could not be loaded: ${error.message}`;
  showProblem(message, reload);
}

function bookAdded({ bookAdded: book }) {
  const publishers = list(book.publishers.map((publisher) => publisher.name));
  const time = new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  feed.prepend(
    h(
      'li',
      { 'data-book-id': book.id },
      h('cite', {}, book.title),
      ` by ${book.author.name} (${publishers}) `,
      h('time', {}, time),
    ),
  );
  while (feed.children.length > FEED_LENGTH) {
    feed.lastElementChild.remove();
  }
  reloadSoon();
}

function liveStatus(state, reason) {
  status.dataset.state = state;
  if (state === 'live') {
    status.textContent = '● Live: new books appear as they are added';
    // Anything added while the connection was down was not heard of: catch up.
    if (wasLive) {
      reloadSoon();
    }
    wasLive = true;
  } else if (state === 'reconnecting') {
    status.textContent = '○ Live updates paused: reconnecting…';
    showProblem(
      'The connection to the server was lost. What you see may be out of date; the page reconnects by itself.',
      reload,
    );
  } else if (/token/i.test(reason)) {
    status.textContent = '○ No live updates without the write token: enter it under “Add a book”.';
    form.askForToken();
  } else {
    status.textContent = `○ No live updates: ${reason}`;
  }
}
