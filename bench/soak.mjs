// Soak load for a running bookgraph server: CLIENTS concurrent clients, each sending its
// next request as soon as the last is answered, for SECONDS; ~10% addBook writes, the rest
// the author -> book -> publisher hierarchy and point lookups. Reports requests, latency,
// errors by kind and the server's peak RSS, and exits 1 on any 5xx or unexpected error.
//
//   node bench/soak.mjs --url http://127.0.0.1:8000 [--pid PID] [--seconds 30] [--clients 64]
//
// Node 18+ (global fetch); no packages.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    pid: { type: "string" },
    seconds: { type: "string", default: "30" },
    clients: { type: "string", default: "64" },
    "write-ratio": { type: "string", default: "0.1" },
  },
});
if (!args.url) {
  console.error("usage: node bench/soak.mjs --url http://HOST:PORT [--pid PID] [--seconds N] [--clients N]");
  process.exit(2);
}
const endpoint = new URL("/graphql", args.url).href;
const seconds = Number(args.seconds);
const clients = Number(args.clients);
const writeRatio = Number(args["write-ratio"]);
/** Longest a single request may take before it counts as a timeout. */
const REQUEST_TIMEOUT_MS = 15_000;

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

async function send(kind, body, check) {
  const started = performance.now();
  let response;
  try {
    response = await fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/graphql-response+json" },
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

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

const before = memory(args.pid);
let peakRss = before?.rss ?? 0;
const sampler = setInterval(() => {
  const now = memory(args.pid);
  if (now) peakRss = Math.max(peakRss, now.rss);
}, 500);

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
clearInterval(sampler);
const after = memory(args.pid);

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
process.exit(serverErrors > 0 || errorCount > 0 || total === 0 ? 1 : 0);
