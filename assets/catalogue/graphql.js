// bookgraph's public API, spoken as any client would: queries over GET /graphql, which
// the browser's cache revalidates with the ETag the server sends (an unchanged answer is
// a 304 with no body), mutations over POST, and subscriptions over the WebSocket at
// /graphql/ws in the graphql-transport-ws protocol. Nothing else.

const ENDPOINT = '/graphql';
const ACCEPT = 'application/graphql-response+json, application/json;q=0.9';
const TOKEN_KEY = 'bookgraph-write-token';

/** A failed request, with what the page needs to explain it. */
export class ApiError extends Error {
  /**
   * @param {string} message what to tell the reader
   * @param {{kind: 'offline'|'unauthenticated'|'forbidden'|'graphql'|'http', code?: string}} details
   */
  constructor(message, { kind, code }) {
    super(message);
    this.kind = kind;
    this.code = code;
  }
}

/** The write token, kept for this tab only. */
export function writeToken() {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function setWriteToken(token) {
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  } else {
    sessionStorage.removeItem(TOKEN_KEY);
  }
}

/** Runs a query; resolves to its `data`. */
export function query(document, variables = {}) {
  const params = new URLSearchParams({ query: document, variables: JSON.stringify(variables) });
  // 'no-cache': always ask the server, whatever max-age it allows; an unchanged answer
  // costs a 304, and the page never shows data older than its last request.
  return send(`${ENDPOINT}?${params}`, { cache: 'no-cache', headers: { accept: ACCEPT } });
}

/** Runs a mutation, with the write token when there is one; resolves to its `data`. */
export function mutate(document, variables = {}) {
  const headers = { accept: ACCEPT, 'content-type': 'application/json' };
  const token = writeToken();
  if (token) {
    headers.authorization = `Bearer ${token}`;
  }
  return send(ENDPOINT, { method: 'POST', headers, body: JSON.stringify({ query: document, variables }) });
}

async function send(url, init) {
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new ApiError('The server cannot be reached: it may have stopped, or the network is down.', {
      kind: 'offline',
    });
  }
  let body;
  try {
    body = await response.json();
  } catch {
    // A proxy's error page, or a server stopping mid-answer.
    throw new ApiError(`The server answered ${response.status} ${response.statusText} without a GraphQL response.`, {
      kind: response.status >= 500 ? 'offline' : 'http',
    });
  }
  const [first] = body.errors ?? [];
  if (first) {
    const code = first.extensions?.code;
    const kind = { UNAUTHENTICATED: 'unauthenticated', FORBIDDEN: 'forbidden' }[code] ?? 'graphql';
    throw new ApiError(first.message, { kind, code });
  }
  if (!response.ok || !body.data) {
    throw new ApiError(`The server answered ${response.status} ${response.statusText}.`, { kind: 'http' });
  }
  return body.data;
}

/**
 * Keeps subscriptions running over one connection, reconnecting with a growing pause when
 * it drops. `operations` maps a name to a subscription document; `onData(name, data)` hears
 * each event. `onStatus` hears 'live' (also after every reconnection: changes made
 * meanwhile were not seen, so callers reload), 'reconnecting', and 'refused' with the
 * server's reason, after which nothing is retried until `restart()` (a new token, say).
 */
export function subscribe(operations, { onData, onStatus }) {
  const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${ENDPOINT}/ws`;
  let socket;
  let retries = 0;
  let timer;

  const send = (message) => socket.send(JSON.stringify(message));
  // Each operation runs under its name as its id, which is free again once it completes.
  const start = (id) => send({ id, type: 'subscribe', payload: { query: operations[id] } });

  function open() {
    clearTimeout(timer);
    socket = new WebSocket(url, 'graphql-transport-ws');
    const current = socket;
    current.onopen = () => {
      const token = writeToken();
      send({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} });
    };
    current.onmessage = (event) => {
      const message = JSON.parse(event.data);
      switch (message.type) {
        case 'connection_ack':
          retries = 0;
          onStatus('live');
          Object.keys(operations).forEach(start);
          break;
        case 'next':
          if (message.payload.data) {
            onData(message.id, message.payload.data);
          }
          break;
        case 'ping':
          send({ type: 'pong' });
          break;
        case 'complete':
          // The server ended it (this page fell too far behind): start again, and reload.
          onStatus('live');
          start(message.id);
          break;
        case 'error':
          onStatus('refused', message.payload?.[0]?.message ?? 'the subscription was refused');
          break;
      }
    };
    current.onclose = (event) => {
      if (current !== socket) {
        return;
      }
      // 1002: the connection was refused (a missing or wrong token); retrying cannot help.
      if (event.code === 1002) {
        onStatus('refused', event.reason || 'the server refused the connection');
        return;
      }
      onStatus('reconnecting');
      const pause = Math.min(30_000, 1_000 * 2 ** retries++);
      timer = setTimeout(open, pause);
    };
  }

  open();
  return {
    restart() {
      const old = socket;
      socket = undefined;
      old?.close();
      retries = 0;
      open();
    },
  };
}
