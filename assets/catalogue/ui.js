// What every section shares: elements built from data (text only, never HTML, so a name
// can never be markup), the page's one problem banner, and a pager over connection cursors.

/** An HTML element with `attributes` and `children` (strings become text). */
export function h(tag, attributes = {}, ...children) {
  return fill(document.createElement(tag), attributes, children);
}

/** The same, for SVG. */
export function s(tag, attributes = {}, ...children) {
  return fill(document.createElementNS('http://www.w3.org/2000/svg', tag), attributes, children);
}

function fill(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== false && value != null) {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  element.append(...children.flat().filter((child) => child != null && child !== false));
  return element;
}

/** `names` as "A, B and C". */
export function list(names) {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

const banner = document.getElementById('problem');

/** Shows `message` at the top of the page; "Try again" calls `retry`. */
export function showProblem(message, retry) {
  banner.querySelector('p').textContent = message;
  banner.querySelector('button').onclick = retry;
  banner.hidden = false;
}

export function clearProblem() {
  banner.hidden = true;
}

/**
 * Previous / next over a connection. Connections page forward only (`first`/`after`), so
 * the way back is the stack of `after` cursors that led here: page n was fetched after
 * cursors[n - 1]. No offsets, and nothing but the page shown is ever loaded.
 */
export class Pager {
  constructor(nav, label, onMove) {
    this.cursors = [null];
    this.onMove = onMove;
    this.previous = h('button', { type: 'button', 'data-page': 'previous' }, '← Previous');
    this.next = h('button', { type: 'button', 'data-page': 'next' }, 'Next →');
    this.label = h('span', { class: 'page-label', 'aria-live': 'polite' });
    this.previous.addEventListener('click', () => this.move(-1));
    this.next.addEventListener('click', () => this.move(1));
    nav.append(this.previous, this.label, this.next);
    this.what = label;
    this.endCursor = null;
    this.show(null);
  }

  /** The `after` of the page to show. */
  get after() {
    return this.cursors.at(-1);
  }

  /** Back to the first page. */
  reset() {
    this.cursors = [null];
  }

  async move(step) {
    if (step > 0 && this.endCursor) {
      this.cursors.push(this.endCursor);
    } else if (step < 0 && this.cursors.length > 1) {
      this.cursors.pop();
    }
    await this.onMove();
    // A button disabled under the keyboard's focus (the first or last page) would drop
    // the focus to the page's start: hand it to the other one.
    const [pressed, other] = step > 0 ? [this.next, this.previous] : [this.previous, this.next];
    if (pressed.disabled && !other.disabled) {
      other.focus();
    }
  }

  /** Updates the buttons for a page of `connection` holding `shown` items. */
  show(connection, shown = 0) {
    const page = this.cursors.length;
    this.endCursor = connection?.pageInfo.endCursor ?? null;
    this.previous.disabled = page === 1;
    this.next.disabled = !connection?.pageInfo.hasNextPage;
    this.label.textContent = connection ? `Page ${page} · ${shown} of ${connection.totalCount} ${this.what}` : '';
  }
}
