// Introspects a live endpoint with graphql-js and compares the result with a committed SDL
// file; then checks that every type, field and argument the server describes has a
// description.
//
//   node introspection.mjs http://127.0.0.1:8000/graphql ../schema.graphql
//
// Exits 1 when the schemas differ (printing a diff) or when descriptions are missing.

import { readFileSync } from 'node:fs';
import {
  buildClientSchema,
  buildSchema,
  getIntrospectionQuery,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isIntrospectionType,
  isObjectType,
  isSpecifiedDirective,
  isSpecifiedScalarType,
  printSchema,
} from 'graphql';

const [url, sdlPath] = process.argv.slice(2);
if (!url || !sdlPath) {
  console.error('usage: node introspection.mjs URL SDL_PATH');
  process.exit(2);
}

/** The server's schema, from the standard introspection query over POST JSON. */
async function introspect() {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json;q=0.9',
    },
    body: JSON.stringify({ query: getIntrospectionQuery() }),
  });
  const text = await response.text();
  if (response.status !== 200) {
    throw new Error(`introspection answered ${response.status}: ${text}`);
  }
  const result = JSON.parse(text);
  if (result.errors?.length || !result.data) {
    throw new Error(`introspection failed: ${JSON.stringify(result.errors ?? result)}`);
  }
  return buildClientSchema(result.data);
}

/** A line diff (longest common subsequence) as unified-style hunks with `context` lines. */
function unifiedDiff(expected, actual, context = 3) {
  const a = expected.split('\n');
  const b = actual.split('\n');
  const lcs = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const ops = []; // [kind, line, lineNumberInA, lineNumberInB]
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) ops.push([' ', a[i++], i, ++j]);
    else if (i < a.length && (j === b.length || lcs[i + 1][j] >= lcs[i][j + 1]))
      ops.push(['-', a[i++], i, j]);
    else ops.push(['+', b[j++], i, j]);
  }
  const out = [];
  let k = 0;
  while (k < ops.length) {
    if (ops[k][0] === ' ') {
      k++;
      continue;
    }
    let start = Math.max(0, k - context);
    let end = k;
    // Extend the hunk while changes are at most 2 * context lines apart.
    while (end < ops.length) {
      let next = end;
      while (next < ops.length && ops[next][0] !== ' ') next++;
      let gap = next;
      while (gap < ops.length && ops[gap][0] === ' ') gap++;
      end = next;
      if (gap >= ops.length || gap - next > 2 * context) break;
      end = gap;
    }
    end = Math.min(ops.length, end + context);
    out.push(`@@ committed line ${ops[start][2]}, server line ${ops[start][3]} @@`);
    for (const [kind, line] of ops.slice(start, end)) out.push(`${kind}${line}`);
    k = end;
  }
  return out;
}

/** Types, fields, input fields, arguments and enum values without a description. */
function missingDescriptions(schema) {
  const missing = [];
  const blank = (thing) => !thing.description || thing.description.trim() === '';
  const checkArgs = (owner, args) => {
    for (const arg of args) if (blank(arg)) missing.push(`argument ${owner}(${arg.name}:)`);
  };
  const types = Object.values(schema.getTypeMap()).sort((x, y) => x.name.localeCompare(y.name));
  for (const type of types) {
    if (isIntrospectionType(type) || isSpecifiedScalarType(type)) continue;
    if (blank(type)) missing.push(`type ${type.name}`);
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (blank(field)) missing.push(`field ${type.name}.${field.name}`);
        checkArgs(`${type.name}.${field.name}`, field.args);
      }
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (blank(field)) missing.push(`input field ${type.name}.${field.name}`);
      }
    } else if (isEnumType(type)) {
      for (const value of type.getValues()) {
        if (blank(value)) missing.push(`enum value ${type.name}.${value.name}`);
      }
    }
  }
  for (const directive of schema.getDirectives()) {
    if (isSpecifiedDirective(directive)) continue;
    if (blank(directive)) missing.push(`directive @${directive.name}`);
    checkArgs(`@${directive.name}`, directive.args);
  }
  return missing;
}

async function main() {
  const server = await introspect();
  const committed = buildSchema(readFileSync(sdlPath, 'utf8'));
  let failed = false;

  const expected = printSchema(committed);
  const actual = printSchema(server);
  if (expected === actual) {
    console.log(`schema: the server's introspection prints the same as ${sdlPath}`);
  } else {
    failed = true;
    const diff = unifiedDiff(expected, actual);
    const shown = 120;
    console.log(`schema: the server's introspection differs from ${sdlPath}`);
    console.log(`--- ${sdlPath} (committed)\n+++ ${url} (introspected)`);
    console.log(diff.slice(0, shown).join('\n'));
    if (diff.length > shown) console.log(`… ${diff.length - shown} more diff lines`);
  }

  const missing = missingDescriptions(server);
  if (missing.length === 0) {
    console.log('descriptions: every type, field and argument has one');
  } else {
    failed = true;
    console.log(`descriptions: ${missing.length} missing`);
    for (const item of missing) console.log(`  ${item}`);
  }

  if (failed) process.exit(1);
}

try {
  await main();
} catch (error) {
  console.error(`introspection check failed: ${error.message}`);
  process.exit(1);
}
