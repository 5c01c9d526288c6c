// Posts a body over the server's 1 MiB limit with Node's own clients, which write the
// whole body before reading the response, and checks each reads a GraphQL-shaped 413
// rather than failing with a broken pipe. Usage: node oversized.mjs URL
import http from 'node:http';

const url = new URL(process.argv[2]);
const body = JSON.stringify({ query: '{ authors { totalCount } }' }) + ' '.repeat(8 * 1024 * 1024);
const headers = { 'content-type': 'application/json' };

async function viaFetch() {
  const response = await fetch(url, { method: 'POST', headers, body });
  return { status: response.status, text: await response.text() };
}

function viaHttpRequest() {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST', headers }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => { text += chunk; });
      response.on('end', () => resolve({ status: response.statusCode, text }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

for (const [name, send] of [['fetch', viaFetch], ['http.request', viaHttpRequest]]) {
  const { status, text } = await send().catch((error) => {
    console.error(`${name}: ${error.cause ?? error}`);
    process.exit(1);
  });
  const code = JSON.parse(text).errors?.[0]?.extensions?.code;
  if (status !== 413 || code !== 'BAD_REQUEST') {
    console.error(`${name}: ${status} ${text}`);
    process.exit(1);
  }
  console.log(`${name}: 413 ${code}`);
}
