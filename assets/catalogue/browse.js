// The author → book → publisher hierarchy, a page at a time: authors (optionally those
// whose name contains the search) with their books and each book's publishers, or books
// whose title contains the search with their author and publishers.

import { query } from './graphql.js';
import { Pager, h, list } from './ui.js';

const PAGE_SIZE = 10;

const AUTHORS = `query BrowseAuthors($first: Int!, $after: String, $filter: AuthorFilter) {
  authors(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id name bookCount books { id title publishers { name } } }
  }
}`;

const BOOKS = `query BrowseBooks($first: Int!, $after: String, $filter: BookFilter) {
  books(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id title author { name } publishers { name } }
  }
}`;

export class Browser {
  constructor(section, onError) {
    this.form = section.querySelector('#search');
    this.results = section.querySelector('#browse-results');
    this.summary = section.querySelector('#browse-summary');
    this.onError = onError;
    this.search = { mode: 'authors', text: '' };
    this.pager = new Pager(section.querySelector('#browse-pager'), 'found', () => this.load());
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      const data = new FormData(this.form);
      this.search = { mode: data.get('mode'), text: data.get('text').trim() };
      this.pager.reset();
      this.load();
    });
  }

  /** Loads the current page of the current search. */
  async load() {
    const { mode, text } = this.search;
    const filter = text ? (mode === 'authors' ? { nameContains: text } : { titleContains: text }) : null;
    try {
      const data = await query(mode === 'authors' ? AUTHORS : BOOKS, {
        first: PAGE_SIZE,
        after: this.pager.after,
        filter,
      });
      const connection = data[mode];
      const items = connection.nodes.map(mode === 'authors' ? (author) => authorItem(author, Boolean(text)) : bookItem);
      this.results.replaceChildren(...items);
      this.pager.show(connection, items.length);
      this.summary.textContent = summary(mode, text, connection.totalCount);
    } catch (error) {
      this.onError(error);
    }
  }
}

function summary(mode, text, total) {
  const what = mode === 'authors' ? (total === 1 ? 'author' : 'authors') : total === 1 ? 'book' : 'books';
  if (!text) {
    return `${total} ${what} in the catalogue.`;
  }
  const where = mode === 'authors' ? 'name' : 'title';
  return total === 0 ? `No ${what} with “${text}” in the ${where}.` : `${total} ${what} with “${text}” in the ${where}.`;
}

/** An author, their books folded under their name; unfolded when they were searched for. */
function authorItem(author, open) {
  const books = author.books.map((book) =>
    h('li', {}, h('cite', {}, book.title), ' ', h('span', { class: 'publishers' }, publishers(book))),
  );
  const count = `${author.bookCount} ${author.bookCount === 1 ? 'book' : 'books'}`;
  return h(
    'li',
    { 'data-author-id': author.id },
    h(
      'details',
      { open },
      h('summary', {}, h('strong', {}, author.name), ' ', h('span', { class: 'count' }, count)),
      books.length ? h('ul', { class: 'books' }, books) : h('p', { class: 'hint' }, 'No books yet.'),
    ),
  );
}

function bookItem(book) {
  return h(
    'li',
    { 'data-book-id': book.id },
    h('cite', {}, book.title),
    ' by ',
    h('strong', {}, book.author.name),
    ' ',
    h('span', { class: 'publishers' }, publishers(book)),
  );
}

function publishers(book) {
  return `(${list(book.publishers.map((publisher) => publisher.name))})`;
}
