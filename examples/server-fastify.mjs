// An arena per request in fastify with the offheap/fastify plugin:
// request.arena (and currentArena()) from onRequest to the flushed reply.
// The handler may return a view of the arena: it is not reused before the
// reply has been written. Starts on a free port, makes a few requests to
// itself, prints, exits.
//   node examples/server-fastify.mjs
import Fastify from 'fastify';
import offheapFastify from 'offheap/fastify';
import { currentArena } from 'offheap';

const app = Fastify();
await app.register(offheapFastify, { maxBytes: 16 << 20, keep: 64, maxRetainedBytes: 1 << 20 });

app.get('/hello/:name', async (request) => {
  const body = request.arena.alloc(64);
  return body.subarray(0, body.write(`hello ${request.params.name}\n`)); // sent after the handler returned
});

app.post('/upper', async (request) => {
  const text = String(request.body);
  const out = currentArena().alloc(Buffer.byteLength(text)); // the same arena as request.arena
  out.write(text.toUpperCase());
  return out;
});

app.get('/fail', async () => {
  throw new Error('no such thing');
});

app.setErrorHandler((err, request, reply) => {
  const body = request.arena.alloc(128); // the error handler has the arena too
  reply.code(500).type('text/plain').send(body.subarray(0, body.write(`failed: ${err.message}\n`)));
});

await app.listen({ port: 0, host: '127.0.0.1' });
const base = `http://127.0.0.1:${app.server.address().port}`;

console.log(JSON.stringify(await (await fetch(`${base}/hello/ada`)).text()));
console.log(JSON.stringify(await (await fetch(`${base}/upper`, { method: 'POST', body: 'quiet words', headers: { 'content-type': 'text/plain' } })).text()));
const fail = await fetch(`${base}/fail`);
console.log(fail.status, JSON.stringify(await fail.text()));

// Leases end once the last response is flushed or closed.
for (let i = 0; i < 500 && app.arenaScope.stats().lent > 0; i++) await new Promise((r) => setTimeout(r, 10));
const { lent, kept, reserved } = app.arenaScope.stats();
console.log(`arenas lent ${lent}, kept ${kept}, reserved ${reserved}`);
await app.close();
