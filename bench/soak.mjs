// Soak for a running bookgraph server. For SECONDS, all at once:
//
// - CLIENTS load clients, each sending its next request as soon as the last is answered:
//   ~10% addBook writes, the rest the author -> book -> publisher hierarchy and point lookups;
// - IDLE_WS WebSockets on /graphql/ws (graphql-transport-ws) that are acknowledged and then
//   stay idle, answering pings;
// - SLOW_HEADERS connections that send a request line and then one header line every 5 s and
//   never finish their headers; each one the server cuts is opened again at once;
// - a probe, in a Node process of its own so that it does not queue behind the load's event
//   loop, sending `{ __typename }` every 100 ms on one keep-alive connection, and beside it a
//   control probe sending `GET /health`, which runs no GraphQL.
//
// Reports the load's requests, latency and errors, the probe's latency, the server's peak RSS
// (VmHWM) and what became of the idle and slow connections; with --server-log, also where the
// probe's slow answers spent their time. Exits 1 on any 5xx or unexpected
// error, a probe p99 at or above --probe-p99-ms (50), a VmHWM at or above --max-rss-mib (150),
// or an idle WebSocket that did not stay open.
//
//   node bench/soak.mjs --url http://127.0.0.1:8000 [--pid PID] [--seconds 30] [--clients 64]
//       [--idle-ws 100] [--slow-headers 100] [--server-log FILE]
//
// Node 18+ (global fetch); no packages. The WebSocket and slow-header clients are raw sockets.

import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    pid: { type: "string" },
    seconds: { type: "string", default: "30" },
    clients: { type: "string", default: "64" },
    "write-ratio": { type: "string", default: "0.1" },
    "idle-ws": { type: "string", default: "100" },
    "slow-headers": { type: "string", default: "100" },
    "slow-header-interval": { type: "string", default: "5" },
    "probe-interval-ms": { type: "string", default: "100" },
    "probe-p99-ms": { type: "string", default: "50" },
    "max-rss-mib": { type: "string", default: "150" },
    // The server's log: its line per request gives the probe's time inside the server.
    "server-log": { type: "string" },
    // Internal: `probe` runs only the probe and prints its samples as JSON.
    role: { type: "string", default: "main" },
  },
});
if (!args.url) {
  console.error(
    "usage: node bench/soak.mjs --url http://HOST:PORT [--pid PID] [--seconds N] [--clients N]" +
      " [--idle-ws N] [--slow-headers N]",
  );
  process.exit(2);
}
const endpoint = new URL("/graphql", args.url).href;
const seconds = Number(args.seconds);
const clients = Number(args.clients);
const writeRatio = Number(args["write-ratio"]);
const idleSockets = Number(args["idle-ws"]);
const slowSockets = Number(args["slow-headers"]);
const slowInterval = Number(args["slow-header-interval"]) * 1000;
const probeInterval = Number(args["probe-interval-ms"]);
const probeTarget = Number(args["probe-p99-ms"]);
const rssTarget = Number(args["max-rss-mib"]);
const { hostname: host, port } = new URL(args.url);
/** Longest a single request may take before it counts as a timeout. */
const REQUEST_TIMEOUT_MS = 15_000;
/** Longest the probe waits for an answer before it counts as an error. */
const PROBE_TIMEOUT_MS = 5_000;

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

if (args.role === "probe") {
  await probe();
  process.exit(0);
}

/**
 * The probe: `{ __typename }` every `probeInterval` ms for `seconds` on one keep-alive
 * connection, one request at a time; beside it, half an interval later each time, a control
 * probe sending `GET /health` on a connection of its own, which takes the same path through
 * the server but runs no GraphQL (and so waits for no execution turn). Prints {samples:
 * [[start offset ms, latency ms, id]], errors, connections, control: {the same}, loopDelay}
 * as one JSON line on stdout.
 */
async function probe() {
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const begun = performance.now();
  const graphqlBody = JSON.stringify({ query: "{ __typename }" });
  const [main, control] = await Promise.all([
    prober(begun, "probe", {
      method: "POST",
      path: "/graphql",
      body: graphqlBody,
      headers: { "content-type": "application/json", accept: "application/graphql-response+json" },
      expect: '"__typename":"Query"',
    }),
    sleep(probeInterval / 2).then(() =>
      prober(begun, "control", { method: "GET", path: "/health", body: "", headers: {}, expect: '"ok"' }),
    ),
  ]);
  loop.disable();
  const loopDelay = { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 };
  process.stdout.write(`${JSON.stringify({ ...main, control, loopDelay })}\n`);
}

/** One probe loop: `request` every `probeInterval` ms until `seconds` after `begun`. */
async function prober(begun, name, request) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const samples = [];
  const errors = [];
  let connections = 0;
  let sent = 0;
  const once = () =>
    new Promise((resolve) => {
      const id = `${name}-${(sent += 1)}`;
      const started = performance.now();
      const outgoing = http.request(
        {
          agent,
          host,
          port,
          path: request.path,
          method: request.method,
          headers: { ...request.headers, "content-length": Buffer.byteLength(request.body), "x-request-id": id },
          timeout: PROBE_TIMEOUT_MS,
        },
        (response) => {
          const chunks = [];
          response.on("data", (chunk) => chunks.push(chunk));
          response.on("end", () => {
            const ms = performance.now() - started;
            const text = Buffer.concat(chunks).toString();
            if (response.statusCode !== 200 || !text.includes(request.expect)) {
              errors.push(`${name}: HTTP ${response.statusCode}: ${text.slice(0, 200)}`);
            } else {
              samples.push([Math.round(started - begun), ms, id]);
            }
            resolve();
          });
          response.on("error", (error) => {
            errors.push(`${name}: response ${error.code ?? error.message}`);
            resolve();
          });
        },
      );
      outgoing.on("socket", (socket) => {
        if (!socket.counted) {
          socket.counted = true;
          connections += 1;
        }
      });
      outgoing.on("timeout", () => outgoing.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)));
      outgoing.on("error", (error) => {
        errors.push(`${name}: request ${error.code ?? error.message}`);
        resolve();
      });
      outgoing.end(request.body);
    });
  const deadline = begun + seconds * 1000;
  for (let next = performance.now(); next < deadline; ) {
    await once();
    next += probeInterval;
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait);
    else next = performance.now();
  }
  agent.destroy();
  return { samples, errors, connections };
}

const HIERARCHY = `{ authors(first: 100) { nodes { name books { title publishers { name } } } } }`;
const AUTHOR = `query($id: ID!) { author(id: $id) { name bookCount books { title } } }`;
const BOOK = `query($id: ID!) { book(id: $id) { title author { name } publishers { name } } }`;
const PUBLISHER = `query($id: ID!) { publisher(id: $id) { name bookCount authorCount } }`;
const ADD_BOOK = `mutation($input: AddBookInput!) {
  addBook(input: $input) { outcome book { id title author { id } publishers { id } } }
}`;
const PUBLISHERS = ["Random House", "Penguin Random House", "Simon & Schuster", "Berkley", "Soak Press"];

/** Per kind of request: count and latencies (ms). */
const stats = new Map();
/** Error kind -> count. */
const errors = new Map();
let serverErrors = 0;
/** Highest ids seen, so point lookups mostly hit rows that exist. */
let maxBookId = 10;
let maxAuthorId = 7;
let maxPublisherId = 4;

function record(kind, ms) {
  let entry = stats.get(kind);
  if (!entry) stats.set(kind, (entry = { count: 0, latencies: [] }));
  entry.count += 1;
  entry.latencies.push(ms);
}

function fail(kind, detail) {
  errors.set(kind, (errors.get(kind) ?? 0) + 1);
  if ((errors.get(kind) ?? 0) <= 3) console.error(`error: ${kind}${detail ? `: ${detail}` : ""}`);
}

const pick = (n) => 1 + Math.floor(Math.random() * n);

/** The next request of client `client`: [kind, body, check(data) -> problem or null]. */
function nextRequest(client, n) {
  const roll = Math.random();
  if (roll < writeRatio) {
    const title = `Soak ${client}-${n}`;
    const input = {
      authorFirstName: `Writer${client}`,
      authorLastName: `Soak ${n % 10}`,
      title,
      publisherName: PUBLISHERS[n % PUBLISHERS.length],
    };
    return ["addBook", { query: ADD_BOOK, variables: { input } }, (data) => {
      const payload = data?.addBook;
      if (payload?.outcome !== "CREATED" || payload.book?.title !== title) return "addBook not CREATED";
      maxBookId = Math.max(maxBookId, Number(payload.book.id));
      maxAuthorId = Math.max(maxAuthorId, Number(payload.book.author.id));
      for (const { id } of payload.book.publishers) maxPublisherId = Math.max(maxPublisherId, Number(id));
      return null;
    }];
  }
  const read = (roll - writeRatio) / (1 - writeRatio);
  if (read < 0.3) {
    return ["hierarchy", { query: HIERARCHY }, (data) =>
      Array.isArray(data?.authors?.nodes) && data.authors.nodes.length > 0 ? null : "empty hierarchy"];
  }
  if (read < 0.55) {
    return ["author", { query: AUTHOR, variables: { id: String(pick(maxAuthorId)) } }, (data) =>
      data && "author" in data ? null : "no author field"];
  }
  if (read < 0.85) {
    return ["book", { query: BOOK, variables: { id: String(pick(maxBookId)) } }, (data) =>
      data && "book" in data ? null : "no book field"];
  }
  return ["publisher", { query: PUBLISHER, variables: { id: String(pick(maxPublisherId)) } }, (data) =>
    data && "publisher" in data ? null : "no publisher field"];
}

let sentRequests = 0;
async function send(kind, body, check) {
  // The id names the kind in the server's log, where the probe's analysis looks for it.
  const id = `load-${kind}-${(sentRequests += 1)}`;
  const started = performance.now();
  let response;
  try {
    response = await fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/graphql-response+json", "x-request-id": id },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    const cause = error?.cause?.code ?? error?.name ?? "unknown";
    fail(`network ${cause}`, error?.cause?.message ?? error?.message);
    return;
  }
  let text;
  try {
    text = await response.text();
  } catch (error) {
    fail(`network body ${error?.cause?.code ?? error?.name}`, error?.message);
    return;
  }
  record(kind, performance.now() - started);
  if (response.status >= 500) serverErrors += 1;
  if (response.status !== 200) {
    fail(`HTTP ${response.status}`, text.slice(0, 200));
    return;
  }
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    fail("invalid JSON", text.slice(0, 200));
    return;
  }
  if (json.errors?.length) {
    fail(`GraphQL ${json.errors[0]?.extensions?.code ?? "no code"}`, json.errors[0]?.message);
    return;
  }
  const problem = check(json.data);
  if (problem) fail(`unexpected payload (${problem})`, text.slice(0, 200));
}

/** VmHWM and VmRSS of `pid` in MiB, or null. */
function memory(pid) {
  if (!pid) return null;
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (field) => Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))?.[1] ?? NaN);
    return { hwm: kib("VmHWM") / 1024, rss: kib("VmRSS") / 1024 };
  } catch {
    return null;
  }
}

/** CPU seconds used by `pid` (all its threads) and seconds its threads spent runnable but waiting for a CPU. */
function cpu(pid) {
  try {
    let run = 0;
    let wait = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const [ranNs, waitedNs] = readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ").map(Number);
      run += ranNs / 1e9;
      wait += waitedNs / 1e9;
    }
    return { run, wait };
  } catch {
    return null;
  }
}

/** Busy and total CPU seconds of the whole machine, from /proc/stat. */
function machine() {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const hz = 100;
  const idleTicks = fields[3] + fields[4];
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idleTicks) / hz, total: total / hz };
}

// ---- Idle WebSockets ----------------------------------------------------------------------

const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** A masked client frame: `opcode` with `payload` (a Buffer). */
function wsFrame(opcode, payload) {
  const mask = randomBytes(4);
  const length = payload.length;
  const head =
    length < 126
      ? Buffer.from([0x80 | opcode, 0x80 | length])
      : Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff]);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i += 1) masked[i] ^= mask[i % 4];
  return Buffer.concat([head, mask, masked]);
}

const wsText = (message) => wsFrame(0x1, Buffer.from(JSON.stringify(message)));

/** Counts over all idle WebSockets. */
const idle = { acked: 0, open: 0, pings: 0, unexpected: [] };

/**
 * Opens one WebSocket on /graphql/ws by hand, sends connection_init and resolves once it is
 * acknowledged; then keeps it open and idle until `close()`. Anything the server does to it
 * after that but answer pings is unexpected.
 */
function idleSocket(index) {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString("base64");
    const accept = createHash("sha1").update(key + WS_GUID).digest("base64");
    const socket = net.connect({ host, port });
    let buffer = Buffer.alloc(0);
    let upgraded = false;
    let acked = false;
    let closing = false;
    const handle = {
      close() {
        closing = true;
        if (!socket.destroyed) {
          const code = Buffer.from([0x03, 0xe8]); // 1000
          socket.end(wsFrame(0x8, code));
          setTimeout(() => socket.destroy(), 1000).unref();
        }
      },
      get open() {
        return acked && !socket.destroyed && !closing;
      },
    };
    const problem = (what) => {
      if (closing) return;
      const message = `idle WebSocket ${index}: ${what}`;
      if (!acked) reject(new Error(message));
      else idle.unexpected.push(message);
      socket.destroy();
    };
    const timer = setTimeout(() => problem("no connection_ack within 10 s"), 10_000);
    socket.setNoDelay(true);
    socket.on("connect", () => {
      socket.write(
        "GET /graphql/ws HTTP/1.1\r\n" +
          `Host: ${host}:${port}\r\n` +
          "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n`,
      );
    });
    socket.on("data", (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!upgraded) {
        const end = buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buffer.subarray(0, end).toString();
        buffer = buffer.subarray(end + 4);
        if (!/^HTTP\/1\.1 101 /.test(head)) return problem(`upgrade refused: ${head.split("\r\n")[0]}`);
        if (!head.toLowerCase().includes(`sec-websocket-accept: ${accept.toLowerCase()}`)) {
          return problem("wrong Sec-WebSocket-Accept");
        }
        if (!/sec-websocket-protocol: graphql-transport-ws/i.test(head)) return problem("no subprotocol");
        upgraded = true;
        socket.write(wsText({ type: "connection_init", payload: {} }));
      }
      for (;;) {
        if (buffer.length < 2) return;
        const opcode = buffer[0] & 0x0f;
        let length = buffer[1] & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (buffer.length < 4) return;
          length = buffer.readUInt16BE(2);
          offset = 4;
        } else if (length === 127) {
          if (buffer.length < 10) return;
          length = Number(buffer.readBigUInt64BE(2));
          offset = 10;
        }
        if (buffer.length < offset + length) return;
        const payload = buffer.subarray(offset, offset + length);
        buffer = buffer.subarray(offset + length);
        if (opcode === 0x9) {
          idle.pings += 1;
          socket.write(wsFrame(0xa, payload));
        } else if (opcode === 0x8) {
          const code = payload.length >= 2 ? payload.readUInt16BE(0) : "none";
          return problem(`closed by the server (${code} ${payload.subarray(2).toString()})`);
        } else if (opcode === 0x1) {
          let message;
          try {
            message = JSON.parse(payload.toString());
          } catch {
            return problem(`not JSON: ${payload.toString().slice(0, 100)}`);
          }
          if (message.type === "connection_ack" && !acked) {
            acked = true;
            clearTimeout(timer);
            idle.acked += 1;
            resolve(handle);
          } else if (message.type === "ping") {
            idle.pings += 1;
            socket.write(wsText({ type: "pong" }));
          } else if (message.type !== "pong") {
            return problem(`unexpected message ${payload.toString().slice(0, 100)}`);
          }
        }
      }
    });
    socket.on("error", (error) => problem(`socket error ${error.code ?? error.message}`));
    socket.on("close", () => {
      clearTimeout(timer);
      problem("connection closed");
    });
  });
}

// ---- Slow-header connections ---------------------------------------------------------------

/** Counts over all slow-header connections. */
const slow = { opened: 0, cut: 0, reopened: 0, pending: 0, minPending: Infinity, answers: new Map(), errors: new Map(), ages: [] };
let slowStopping = false;
const slowSocketsOpen = new Set();

/**
 * Keeps one connection sending its headers slowly: the request line at once, then one header
 * line every `slowInterval` ms, never the blank line that ends them. When the server closes
 * it (its header timeout), opens another in its place.
 */
function slowConnection(index, first = true) {
  const socket = net.connect({ host, port });
  slowSocketsOpen.add(socket);
  let connectedAt = 0;
  let ticker;
  let lines = 0;
  socket.setNoDelay(true);
  socket.on("connect", () => {
    connectedAt = performance.now();
    slow.opened += 1;
    slow.pending += 1;
    if (!first) slow.reopened += 1;
    socket.write(`POST /graphql HTTP/1.1\r\nHost: ${host}:${port}\r\n`);
    ticker = setInterval(() => {
      lines += 1;
      socket.write(`X-Slow-${lines}: ${"a".repeat(8)}\r\n`);
    }, slowInterval);
  });
  socket.on("data", (chunk) => {
    // The server may say why it cuts us (408); anything else is counted by status line.
    const status = chunk.toString().split("\r\n")[0].slice(0, 40);
    slow.answers.set(status, (slow.answers.get(status) ?? 0) + 1);
  });
  socket.on("error", (error) => {
    const code = error.code ?? error.message;
    slow.errors.set(code, (slow.errors.get(code) ?? 0) + 1);
  });
  socket.on("close", () => {
    clearInterval(ticker);
    slowSocketsOpen.delete(socket);
    if (connectedAt) {
      slow.pending -= 1;
      if (slowStopping) return;
      slow.cut += 1;
      slow.ages.push((performance.now() - connectedAt) / 1000);
    } else if (slowStopping) {
      return;
    } else {
      slow.errors.set("never connected", (slow.errors.get("never connected") ?? 0) + 1);
    }
    slowConnection(index, false);
  });
}

// ---- The run -------------------------------------------------------------------------------

const before = memory(args.pid);
let peakRss = before?.rss ?? 0;
const rssSampler = setInterval(() => {
  const now = memory(args.pid);
  if (now) peakRss = Math.max(peakRss, now.rss);
}, 500);

let sockets;
try {
  sockets = await Promise.all(Array.from({ length: idleSockets }, (_, i) => idleSocket(i)));
} catch (error) {
  console.error(`error: ${error.message}`);
  process.exit(1);
}
console.error(`soak: ${idle.acked} idle WebSockets acknowledged`);
// Spread the slow connections over one header interval, so the server's cuts are spread too.
for (let i = 0; i < slowSockets; i += 1) {
  slowConnection(i);
  await sleep(slowInterval / slowSockets);
}
console.error(`soak: ${slow.pending} slow-header connections pending; starting the load and the probe`);

const probeProcess = spawn(
  process.execPath,
  [fileURLToPath(import.meta.url), "--role", "probe", "--url", args.url, "--seconds", String(seconds),
    "--probe-interval-ms", String(probeInterval)],
  { stdio: ["ignore", "pipe", "inherit"] },
);
const probeOutput = [];
probeProcess.stdout.on("data", (chunk) => probeOutput.push(chunk));
const probeDone = new Promise((resolve) => probeProcess.on("close", (code) => resolve(code)));

const cpuBefore = { server: cpu(args.pid), load: cpu(process.pid), probe: cpu(probeProcess.pid), machine: machine() };
const pendingSampler = setInterval(() => {
  slow.minPending = Math.min(slow.minPending, slow.pending);
}, 100);

const started = performance.now();
const deadline = started + seconds * 1000;
await Promise.all(
  Array.from({ length: clients }, async (_, client) => {
    for (let n = 0; performance.now() < deadline; n += 1) {
      await send(...nextRequest(client, n));
    }
  }),
);
const elapsed = (performance.now() - started) / 1000;
const cpuAfterLoad = { server: cpu(args.pid), load: cpu(process.pid), probe: cpu(probeProcess.pid), machine: machine() };
const probeCode = await probeDone;
clearInterval(pendingSampler);
clearInterval(rssSampler);
const after = memory(args.pid);
const idleOpenAtEnd = sockets.filter((socket) => socket.open).length;
const slowPendingAtEnd = slow.pending;
const slowCutAtEnd = slow.cut;
const slowReopenedAtEnd = slow.reopened;

slowStopping = true;
for (const socket of slowSocketsOpen) socket.destroy();
for (const socket of sockets) socket.close();

let probeResult = null;
try {
  probeResult = JSON.parse(Buffer.concat(probeOutput).toString());
} catch {
  console.error(`error: the probe (exit ${probeCode}) printed no result`);
}

// ---- Report --------------------------------------------------------------------------------

let total = 0;
const all = [];
console.log(`soak: ${clients} clients, ${elapsed.toFixed(1)} s against ${endpoint}`);
console.log("kind        requests    p50 ms   p95 ms   p99 ms   max ms");
for (const [kind, { count, latencies }] of [...stats].sort()) {
  latencies.sort((a, b) => a - b);
  all.push(...latencies);
  total += count;
  const row = [50, 95, 99].map((p) => percentile(latencies, p).toFixed(1).padStart(8));
  console.log(`${kind.padEnd(10)} ${String(count).padStart(9)} ${row.join(" ")} ${latencies.at(-1).toFixed(1).padStart(8)}`);
}
all.sort((a, b) => a - b);
const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
console.log(
  `total      ${String(total).padStart(9)} ${[50, 95, 99].map((p) => (percentile(all, p) ?? 0).toFixed(1).padStart(8)).join(" ")}` +
    ` ${(all.at(-1) ?? 0).toFixed(1).padStart(8)}   (${(total / elapsed).toFixed(0)} req/s)`,
);
console.log(`errors: ${errorCount}${errorCount ? "" : " (none)"}`);
for (const [kind, count] of [...errors].sort()) console.log(`  ${kind}: ${count}`);
console.log(`5xx: ${serverErrors}`);
if (after) {
  console.log(
    `server memory: RSS ${before.rss.toFixed(1)} MiB before, ${after.rss.toFixed(1)} MiB after, ` +
      `peak sampled ${peakRss.toFixed(1)} MiB, VmHWM ${after.hwm.toFixed(1)} MiB`,
  );
}

const probeLatencies = (probeResult?.samples ?? []).map(([, ms]) => ms).sort((a, b) => a - b);
const probeP = (p) => percentile(probeLatencies, p) ?? NaN;
if (probeResult) {
  console.log(
    `probe: ${probeLatencies.length} answers on ${probeResult.connections} connection(s), ` +
      `${probeResult.errors.length} errors; its own event-loop delay p99 ${probeResult.loopDelay.p99.toFixed(1)} ms, ` +
      `max ${probeResult.loopDelay.max.toFixed(1)} ms`,
  );
  for (const error of probeResult.errors.slice(0, 3)) console.error(`error: probe ${error}`);
  // p99 and max per tenth of the run, to show it held throughout.
  const windows = [];
  const width = (seconds * 1000) / 10;
  for (let w = 0; w < 10; w += 1) {
    const inWindow = probeResult.samples
      .filter(([at]) => at >= w * width && at < (w + 1) * width)
      .map(([, ms]) => ms)
      .sort((a, b) => a - b);
    if (inWindow.length) windows.push(`${percentile(inWindow, 99).toFixed(1)}/${inWindow.at(-1).toFixed(1)}`);
  }
  console.log(`probe p99/max ms per ${(width / 1000).toFixed(0)} s: ${windows.join(" ")}`);
  const control = probeResult.control.samples.map(([, ms]) => ms).sort((a, b) => a - b);
  if (control.length) {
    console.log(
      `control probe (GET /health: same connection handling and middleware, no GraphQL, no execution turn): ` +
        `${control.length} answers, ${probeResult.control.errors.length} errors, p50 ${percentile(control, 50).toFixed(1)} ms, ` +
        `p99 ${percentile(control, 99).toFixed(1)} ms, max ${control.at(-1).toFixed(1)} ms`,
    );
  }
  for (const error of probeResult.control.errors.slice(0, 3)) console.error(`error: control probe ${error}`);
}
if (slow.ages.length) {
  const ages = [...slow.ages].sort((a, b) => a - b);
  console.log(
    `slow-header connections: ${slow.opened} opened, cut after ${ages[0].toFixed(1)}-${ages.at(-1).toFixed(1)} s` +
      (slow.answers.size ? `; the server answered ${[...slow.answers].map(([s, n]) => `"${s}" x${n}`).join(", ")}` : "") +
      (slow.errors.size ? `; socket errors ${[...slow.errors].map(([s, n]) => `${s} x${n}`).join(", ")}` : ""),
  );
}
// Where the CPU went during the load: what the server, the load generator and the probe used,
// how long the server's threads waited for a CPU while runnable, and what everything else on
// the machine used.
if (cpuBefore.server && cpuAfterLoad.server && cpuBefore.load && cpuAfterLoad.load) {
  const used = (who) => cpuAfterLoad[who].run - cpuBefore[who].run;
  const busy = cpuAfterLoad.machine.busy - cpuBefore.machine.busy;
  const probeUsed = cpuBefore.probe && cpuAfterLoad.probe ? used("probe") : 0;
  const others = busy - used("server") - used("load") - probeUsed;
  const cores = (x) => (x / elapsed).toFixed(2);
  console.log(
    `cpu during the load (cores, of ${((cpuAfterLoad.machine.total - cpuBefore.machine.total) / elapsed).toFixed(1)}): ` +
      `server ${cores(used("server"))} (its threads waited runnable for ${cores(cpuAfterLoad.server.wait - cpuBefore.server.wait)}), ` +
      `load generator ${cores(used("load"))}, probe ${cores(probeUsed)}, other processes ${cores(Math.max(0, others))}, ` +
      `machine busy ${cores(busy)}`,
  );
}
// The probe's time inside the server against its latency, and what else the server was
// running when each probe request reached it, from the server's log line per request
// (logged at the end, with its duration: it arrived at the time logged minus the duration).
if (args["server-log"] && probeResult) {
  const lines = [];
  const pattern = /^(\S+Z) .*request\{id=((probe|load-(\w+))-\d+)\}.*duration_ms=([\d.]+)/gm;
  for (const match of readFileSync(args["server-log"], "utf8").matchAll(pattern)) {
    const end = Date.parse(match[1]); // to the millisecond
    const ms = Number(match[5]);
    lines.push({ id: match[2], kind: match[4] ?? "probe", start: end - ms, end, ms });
  }
  const byId = new Map(lines.map((line) => [line.id, line]));
  const load = lines.filter(({ kind }) => kind !== "probe");
  const inFlight = (at, reads) =>
    load.filter(({ kind, start, end }) => start < at && end > at && (kind === "addBook") !== reads).length;
  const pairs = probeResult.samples.filter(([, , id]) => byId.has(id)).map(([, ms, id]) => [ms, byId.get(id)]);
  if (pairs.length) {
    const handler = pairs.map(([, { ms }]) => ms).sort((a, b) => a - b);
    console.log(
      `probe inside the server (its request middleware): p50 ${percentile(handler, 50).toFixed(2)} ms, ` +
        `p99 ${percentile(handler, 99).toFixed(2)} ms, max ${handler.at(-1).toFixed(2)} ms`,
    );
    const describe = (group) => {
      const reads = group.map(([, { start }]) => inFlight(start, true)).sort((a, b) => a - b);
      const inside = group.map(([, { ms }]) => ms).sort((a, b) => a - b);
      return `${group.length} answers: inside the server median ${percentile(inside, 50).toFixed(1)} ms, ` +
        `max ${inside.at(-1).toFixed(1)} ms; load reads already in the server on arrival median ${percentile(reads, 50)}, ` +
        `min ${reads[0]}, max ${reads.at(-1)}`;
    };
    const slowOnes = pairs.filter(([ms]) => ms >= probeTarget);
    const fastOnes = pairs.filter(([ms]) => ms < probeTarget);
    if (slowOnes.length) console.log(`  probe at or over ${probeTarget} ms, ${describe(slowOnes)}`);
    if (fastOnes.length) console.log(`  probe under ${probeTarget} ms, ${describe(fastOnes)}`);
  }
}
for (const problem of idle.unexpected.slice(0, 5)) console.error(`error: ${problem}`);
if (idle.pings) console.log(`idle WebSockets: answered ${idle.pings} pings from the server`);

const checks = [];
const check = (name, value, target, ok) => checks.push({ name, value, target, ok });
check("load requests/s", (total / elapsed).toFixed(0), "> 0", total > 0);
check("load errors (5xx)", `${errorCount} (${serverErrors})`, "0", errorCount === 0 && serverErrors === 0);
check("probe p50 ms", probeP(50).toFixed(1), "", true);
check(
  "probe p99 ms",
  probeP(99).toFixed(1),
  `< ${probeTarget}`,
  probeLatencies.length > 0 && probeP(99) < probeTarget,
);
check("probe max ms", probeP(100).toFixed(1), "", true);
check(
  "probe answers (errors)",
  `${probeLatencies.length} (${probeResult?.errors.length ?? "?"})`,
  "0 errors",
  probeResult !== null && probeCode === 0 && probeResult.errors.length === 0 &&
    probeResult.control.errors.length === 0 && probeLatencies.length > 0,
);
check("peak RSS MiB (VmHWM)", after ? after.hwm.toFixed(1) : "?", `< ${rssTarget}`, after !== null && after.hwm < rssTarget);
check(
  "idle WS open at end",
  `${idleOpenAtEnd}/${idleSockets}`,
  `${idleSockets}`,
  idleOpenAtEnd === idleSockets && idle.unexpected.length === 0,
);
check("slow-header cut/reopened", `${slowCutAtEnd}/${slowReopenedAtEnd}`, "", true);
check(
  "slow-header pending min/end",
  `${slow.minPending === Infinity ? "?" : slow.minPending}/${slowPendingAtEnd}`,
  `${slowSockets} at end`,
  slowPendingAtEnd === slowSockets,
);
console.log("");
console.log("target                        value          target         verdict");
for (const { name, value, target, ok } of checks) {
  console.log(`${name.padEnd(29)} ${String(value).padEnd(14)} ${target.padEnd(14)} ${target ? (ok ? "met" : "MISSED") : ""}`);
}
const passed = checks.every(({ ok }) => ok);
setTimeout(() => process.exit(passed ? 0 : 1), 200);
