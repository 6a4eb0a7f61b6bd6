// The snippets of docs/servers.md, run together: a node:http server with
// run(fn, { until: res }), a fastify app with the offheap/fastify plugin, and
// acquire() for a framework whose middleware cannot wrap the handler.
// Listens on 127.0.0.1 only, makes one request to each server, prints, exits.
//   node examples/servers-guide.mjs
import http from 'node:http';
import stream from 'node:stream';
import Fastify from 'fastify';
import { ArenaScope, currentArena } from 'offheap';
import offheapFastify from 'offheap/fastify';   // require('offheap/fastify') is the plugin too

const scope = new ArenaScope({ maxBytes: 16 << 20, keep: 64, maxRetainedBytes: 1 << 20 });
const port = 0; // any free port

/** Writes the reply into the request's arena (found without passing it down). */
function render(body) {
  return body.write(`hello from an arena of ${currentArena().maxBytes >> 20} MiB\n`);
}

const server = http.createServer((req, res) => {
  scope.run(async () => {
    const body = currentArena().alloc(4096);
    const n = render(body);                // helpers call currentArena() too
    res.end(body.subarray(0, n));          // a view of the arena
  }, { until: res }).catch((err) => res.destroy(err));
}).listen(port, '127.0.0.1');

const app = Fastify();
await app.register(offheapFastify, { maxBytes: 16 << 20, keep: 64 });
app.get('/', async (request) => {
  const body = request.arena.alloc(64);          // currentArena() is the same arena
  return body.subarray(0, body.write('hello\n')); // returning a view is fine
});
app.arenaScope.stats();                          // the plugin's ArenaScope

/** A middleware of a framework that calls next() and cannot wrap the handler. */
function arenaMiddleware(req, res, next) {
  const lease = scope.acquire();   // { arena, release(), run(fn), released }
  stream.finished(res, lease.release);
  lease.run(() => next());         // currentArena() is lease.arena below next()
}
const plain = http.createServer((req, res) => arenaMiddleware(req, res, () => {
  const body = currentArena().alloc(16);
  res.end(body.subarray(0, body.write('from a lease\n')));
})).listen(port, '127.0.0.1');

async function get(s) {
  await new Promise((resolve) => (s.listening ? resolve() : s.once('listening', resolve)));
  const res = await fetch(`http://127.0.0.1:${s.address().port}/`);
  return (await res.text()).trim();
}
console.log(await get(server));
console.log((await app.inject({ method: 'GET', url: '/' })).body.trim());
console.log(await get(plain));
await new Promise((resolve) => setTimeout(resolve, 50)); // the last 'finish' events
console.log('lent after the replies:', scope.stats().lent, app.arenaScope.stats().lent);
server.close();
plain.close();
await app.close();
scope.destroy();

// Prints:
// hello from an arena of 16 MiB
// hello
// from a lease
// lent after the replies: 0 0
