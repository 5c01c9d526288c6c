// Publishers with their book and author counts: a table sorted by the server (any column,
// either way, paged by cursor) and two bar charts, the tutorial's two reports drawn.

import { query } from './graphql.js';
import { Pager, h, s } from './ui.js';

const PAGE_SIZE = 25;
const CHART_BARS = 10;

const TABLE = `query PublisherTable($first: Int!, $after: String, $orderBy: PublisherOrder!) {
  publishers(first: $first, after: $after, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id name bookCount authorCount }
  }
}`;

const CHARTS = `query PublisherCharts($bars: Int!) {
  byBooks: publishers(first: $bars, orderBy: {field: BOOK_COUNT, direction: DESC}) {
    nodes { name bookCount }
  }
  byAuthors: publishers(first: $bars, orderBy: {field: AUTHOR_COUNT, direction: DESC}) {
    nodes { name authorCount }
  }
}`;

export class Publishers {
  constructor(section, onError) {
    this.table = section.querySelector('table');
    this.charts = section.querySelector('#charts');
    this.onError = onError;
    this.order = { field: 'BOOK_COUNT', direction: 'DESC' };
    this.pager = new Pager(section.querySelector('#publisher-pager'), 'publishers', () => this.loadTable());
    for (const button of this.table.querySelectorAll('th button')) {
      button.addEventListener('click', () => this.sortBy(button.dataset.field));
    }
  }

  /** Names sort A to Z first, counts most first; choosing the same column again flips it. */
  sortBy(field) {
    const direction =
      this.order.field === field
        ? { ASC: 'DESC', DESC: 'ASC' }[this.order.direction]
        : field === 'NAME'
          ? 'ASC'
          : 'DESC';
    this.order = { field, direction };
    this.pager.reset();
    this.loadTable();
  }

  load() {
    return Promise.all([this.loadTable(), this.loadCharts()]);
  }

  async loadTable() {
    try {
      const { publishers } = await query(TABLE, { first: PAGE_SIZE, after: this.pager.after, orderBy: this.order });
      this.renderTable(publishers);
    } catch (error) {
      this.onError(error);
    }
  }

  renderTable(publishers) {
    for (const th of this.table.tHead.querySelectorAll('th')) {
      const field = th.querySelector('button').dataset.field;
      const sorted = field === this.order.field;
      th.setAttribute('aria-sort', sorted ? { ASC: 'ascending', DESC: 'descending' }[this.order.direction] : 'none');
    }
    const rows = publishers.nodes.map((publisher) =>
      h(
        'tr',
        {},
        h('th', { scope: 'row' }, publisher.name),
        h('td', { class: 'number' }, String(publisher.bookCount)),
        h('td', { class: 'number' }, String(publisher.authorCount)),
      ),
    );
    if (rows.length === 0) {
      rows.push(h('tr', {}, h('td', { colspan: 3 }, 'No publishers yet.')));
    }
    this.table.tBodies[0].replaceChildren(...rows);
    this.pager.show(publishers, publishers.nodes.length);
  }

  async loadCharts() {
    try {
      const { byBooks, byAuthors } = await query(CHARTS, { bars: CHART_BARS });
      this.charts.replaceChildren(
        barChart('Books per publisher', ['book', 'books'], byBooks.nodes, (publisher) => publisher.bookCount),
        barChart('Authors per publisher', ['author', 'authors'], byAuthors.nodes, (publisher) => publisher.authorCount),
      );
    } catch (error) {
      this.onError(error);
    }
  }
}

/**
 * A horizontal bar chart of `rows`, most first, scaled to the largest value. Each name
 * sits above its bar, so long names need no room beside the bars on a narrow screen.
 */
function barChart(title, [one, many], rows, valueOf) {
  // Drawn at about the size it is shown on a wide screen; a phone scales it down a little.
  const width = 440;
  const row = 42;
  const height = Math.max(1, rows.length) * row;
  const largest = Math.max(1, ...rows.map(valueOf));
  const scale = (width - 40) / largest;
  const bars = rows.map((item, index) => {
    const y = index * row;
    const value = valueOf(item);
    const name = item.name.length > 50 ? `${item.name.slice(0, 49)}…` : item.name;
    return s(
      'g',
      { class: 'bar' },
      s('title', {}, `${item.name}: ${value} ${value === 1 ? one : many}`),
      s('text', { x: 0, y: y + 15, class: 'label' }, name),
      s('rect', { x: 0, y: y + 21, width: Math.max(2, value * scale), height: 15, rx: 3 }),
      s('text', { x: value * scale + 6, y: y + 29, class: 'value' }, String(value)),
    );
  });
  const description = rows.map((item) => `${item.name} ${valueOf(item)}`).join(', ');
  return h(
    'figure',
    { class: 'chart' },
    h('figcaption', {}, title),
    s(
      'svg',
      { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `${title}: ${description || 'none yet'}` },
      bars,
    ),
  );
}
