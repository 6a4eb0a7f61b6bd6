// An arena per request in a node:http server: run(fn, { until: res }) keeps
// the arena lent until the handler is done AND the response has been flushed
// (or the client went away), so the body can be a view of the arena.
// Starts on a free port, makes a few requests to itself, prints, exits.
//   node examples/server-http.mjs
import http from 'node:http';
import { ArenaScope, currentArena } from 'offheap';

const scope = new ArenaScope({ maxBytes: 16 << 20, keep: 64, maxRetainedBytes: 1 << 20 });

/** Renders one line into the request's arena; no Buffer is made on the V8 heap. */
function renderRow(i) {
  const row = currentArena().alloc(32);
  return row.subarray(0, row.write(`row ${i}\n`));
}

const server = http.createServer((req, res) => {
  scope.run(async () => {
    const params = new URL(req.url, 'http://x').searchParams;
    const n = Number(params.get('rows') ?? 3);
    // any await: the arena follows (?slow: a handler still busy when its client gives up)
    await new Promise((r) => (params.has('slow') ? res.once('close', r) : setTimeout(r, 1)));
    const body = currentArena().alloc(32 * n);
    let len = 0;
    for (let i = 0; i < n; i++) len += renderRow(i).copy(body, len);
    res.setHeader('content-type', 'text/plain');
    res.end(body.subarray(0, len)); // a view of the arena: not reused before the socket has flushed it
  }, { until: res }).catch((err) => res.destroy(err));
});

await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

for (const rows of [2, 3]) {
  const text = await (await fetch(`${base}/?rows=${rows}`)).text();
  console.log(`rows=${rows}: ${JSON.stringify(text)}`);
}
// A client that gives up: the arena still comes back (the response closed).
const ac = new AbortController();
const gone = fetch(`${base}/?rows=100000&slow`, { signal: ac.signal }).catch((err) => err.name);
setTimeout(() => ac.abort(), 5);
console.log('aborted request:', await gone);

// Leases end once the last response is flushed or closed.
for (let i = 0; i < 500 && scope.stats().lent > 0; i++) await new Promise((r) => setTimeout(r, 10));
const { lent, kept, reserved } = scope.stats();
console.log(`arenas lent ${lent}, kept ${kept}, reserved ${reserved}`);
server.close();
scope.destroy();

// Prints:
// rows=2: "row 0\nrow 1\n"
// rows=3: "row 0\nrow 1\nrow 2\n"
// aborted request: AbortError
