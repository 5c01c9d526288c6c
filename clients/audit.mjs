// Runs graphql-http's GraphQL-over-HTTP server audits against a live endpoint.
//
//   node audit.mjs http://127.0.0.1:8000/graphql
//
// Prints every audit with its result; exits 1 when any MUST-level audit fails (or an audit
// cannot run at all), 0 otherwise. SHOULD failures are listed but do not fail the run.

import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs URL');
  process.exit(2);
}

/** Status and a short look at the body of the response an audit judged. */
async function describe(response) {
  if (!response) return '';
  let body = '';
  try {
    body = response.bodyUsed ? '(body already read)' : await response.text();
  } catch {
    body = '(body unreadable)';
  }
  if (body.length > 300) body = `${body.slice(0, 300)}…`;
  const type = response.headers?.get('content-type') ?? '(none)';
  return ` [got ${response.status}, content-type ${type}, body ${body}]`;
}

const results = [];
for (const audit of serverAudits({ url, fetchFn: fetch })) {
  let result;
  try {
    result = await audit.fn();
  } catch (error) {
    // graphql-http throws only when an audit cannot run at all: count it as a failure.
    result = { id: audit.id, name: audit.name, status: 'error', reason: `could not run: ${error}`, fatal: true };
  }
  const level = audit.name.split(' ')[0];
  let detail = '';
  if (result.status === 'ok') {
    await result.response?.body?.cancel?.().catch(() => {});
  } else {
    detail = ` — ${result.reason}${await describe(result.response)}`;
  }
  const label = { ok: 'ok   ', warn: 'WARN ', error: 'ERROR', notice: 'note ' }[result.status];
  console.log(`${label} ${audit.id} ${audit.name}${detail}`);
  results.push({ ...result, level });
}

const failed = (level) => results.filter((r) => r.status !== 'ok' && r.level === level);
const must = failed('MUST');
const should = failed('SHOULD');
const may = results.filter((r) => r.status !== 'ok' && r.level !== 'MUST' && r.level !== 'SHOULD');
const fatal = results.filter((r) => r.fatal);
const passed = results.filter((r) => r.status === 'ok').length;

console.log(`\n${passed}/${results.length} audits passed`);
for (const [title, list] of [
  ['MUST failures (not compliant)', must],
  ['SHOULD failures (recommendations)', should],
  ['MAY notices (optional)', may],
  ['audits that could not run', fatal],
]) {
  if (list.length === 0) continue;
  console.log(`${title}: ${list.length}`);
  for (const r of list) console.log(`  ${r.id} ${r.name}: ${r.reason}`);
}

if (must.length > 0 || fatal.length > 0) {
  console.error(`${must.length} MUST-level audit(s) failed, ${fatal.length} could not run`);
  process.exit(1);
}
console.log(`compliant: every MUST-level audit passed (${should.length} SHOULD warning(s))`);
