// The "add a book" form: runs addBook and says what it did (created, publisher added,
// already there) and which spelling the catalogue kept, since an existing author, book or
// publisher keeps its own whatever letter case or spacing the form used. When the server
// asks for a write token, the form grows a field for it.

import { ApiError, mutate, setWriteToken, writeToken } from './graphql.js';
import { h, list } from './ui.js';

const ADD_BOOK = `mutation AddBook($input: AddBookInput!) {
  addBook(input: $input) {
    outcome
    authorCreated
    publisherCreated
    book { id title author { firstName lastName name } publishers { name } }
  }
}`;

const OUTCOMES = {
  CREATED: 'Added',
  PUBLISHER_ADDED: 'The book was already there: the publisher was added to it',
  ALREADY_EXISTED: 'Already in the catalogue: nothing changed',
};

export class AddBookForm {
  /**
   * `onTokenChange` hears when the reader gives a new write token, `onAdded` when a book
   * was added.
   */
  constructor(form, { onOffline, onTokenChange, onAdded }) {
    this.form = form;
    this.outcome = form.querySelector('#add-outcome');
    this.tokenRow = form.querySelector('#token-row');
    this.tokenInput = this.tokenRow.querySelector('input');
    this.onOffline = onOffline;
    this.onTokenChange = onTokenChange;
    this.onAdded = onAdded;
    if (writeToken()) {
      this.tokenRow.hidden = false;
      this.tokenInput.value = writeToken();
    }
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  async submit() {
    const data = new FormData(this.form);
    const token = (data.get('token') ?? '').trim();
    if (!this.tokenRow.hidden && token !== writeToken()) {
      setWriteToken(token);
      this.onTokenChange();
    }
    const input = {};
    for (const field of ['authorFirstName', 'authorLastName', 'title', 'publisherName']) {
      input[field] = data.get(field);
    }
    const button = this.form.querySelector('button[type=submit]');
    button.disabled = true;
    this.say('Adding…', 'pending');
    try {
      const { addBook } = await mutate(ADD_BOOK, { input });
      this.say(describe(addBook, input), addBook.outcome.toLowerCase());
      this.form.elements.title.value = '';
      this.onAdded();
    } catch (error) {
      this.fail(error);
    } finally {
      button.disabled = false;
    }
  }

  /** Shows the token field (the server wants a token the page does not have). */
  askForToken() {
    this.tokenRow.hidden = false;
  }

  fail(error) {
    if (!(error instanceof ApiError)) {
      throw error;
    }
    if (error.kind === 'unauthenticated') {
      const needed = !writeToken();
      this.tokenRow.hidden = false;
      this.tokenInput.focus();
      this.say(
        needed
          ? 'This server needs a write token to add books. Enter it above and add the book again.'
          : `The write token was not accepted (${error.message}). Check it and add the book again.`,
        'error',
      );
      return;
    }
    if (error.kind === 'offline') {
      this.onOffline(error);
    }
    this.say(`The book was not added: ${error.message}`, 'error');
  }

  say(message, state) {
    this.outcome.dataset.state = state;
    this.outcome.replaceChildren(...(Array.isArray(message) ? message : [message]));
  }
}

/** What addBook did, and where the catalogue's spelling differs from what was typed. */
function describe({ outcome, authorCreated, publisherCreated, book }, input) {
  const publisher = book.publishers.find((p) => sameName(p.name, input.publisherName));
  const lines = [
    h('strong', { class: 'outcome' }, `${OUTCOMES[outcome] ?? outcome}.`),
    ' ',
    h('cite', {}, book.title),
    ` by ${book.author.name}, published by ${list(book.publishers.map((p) => p.name))}.`,
  ];
  const created = [authorCreated && 'author', publisherCreated && 'publisher'].filter(Boolean);
  if (created.length) {
    lines.push(` New ${list(created)}.`);
  }
  const kept = [
    [`${input.authorFirstName} ${input.authorLastName}`, book.author.name],
    [input.title, book.title],
    [input.publisherName, publisher?.name ?? input.publisherName],
  ].filter(([typed, stored]) => collapse(typed) !== stored);
  if (kept.length) {
    lines.push(
      h(
        'span',
        { class: 'kept' },
        ' The catalogue keeps its own spelling: ',
        list(kept.map(([typed, stored]) => `“${stored}” (typed “${collapse(typed)}”)`)),
        '.',
      ),
    );
  }
  return lines;
}

/** A name as the server stores it: trimmed, inner runs of white space made one space. */
function collapse(name) {
  return name.trim().replace(/\s+/g, ' ');
}

function sameName(a, b) {
  return collapse(a).toLowerCase() === collapse(b).toLowerCase();
}
