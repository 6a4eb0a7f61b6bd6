// The per-request scratch servers of the server suite, one per candidate, in
// its own process:  node bench/child/scratch-server.mjs <framework> <memory>   (forked, IPC)
//   framework  http (node:http) | fastify
//   memory     allocUnsafe  Buffer.allocUnsafe for every scratch buffer
//              arena        offheap: node:http with scope.run(fn, { until: res }),
//                           fastify with the offheap/fastify plugin; the request's
//                           arena (run()'s argument, request.arena) for every scratch
//                           buffer, all of it reused after the reply
//              reused       no allocator at all, the reference no allocator can beat:
//                           one scratch Buffer per connection, each piece a subarray
//                           of it, reused by the connection's next request (safe here
//                           only because wrk sends a request after the previous reply)
// The handler (the same for all, given the request's alloc): POST / with a JSON body of about 2 KiB
// (40 order lines) is read into one scratch buffer of content-length bytes and
// parsed; the reply (about 6 KiB) is built from 82 pieces, each written into
// its own scratch buffer (a header, two per line, a footer), then copied into
// one reply buffer that res.end() sends.
// IPC: 'start' / 'stop' around each load round ('stop' answers the round's GC
// pauses, RSS and heap used), 'exit'.
import http from 'node:http';
import { gcRecorder, loadOffheap, memory } from '../measure.mjs';

const [framework, kind] = process.argv.slice(2);

/** Reads the body into alloc(content-length), then parses and renders with alloc. */
function handle(alloc, req, len, send) {
  const body = alloc(len);
  let at = 0;
  req.on('data', (chunk) => {
    at += chunk.copy(body, at);
  });
  req.on('end', () => {
    const order = JSON.parse(body.toString('utf8', 0, at));
    const pieces = [];
    let total = 0;
    const piece = (text) => {
      const b = alloc(Buffer.byteLength(text));
      total += b.write(text);
      pieces.push(b);
    };
    piece(`{"order":${order.id},"customer":${JSON.stringify(order.customer)},"lines":[`);
    let sum = 0;
    for (let i = 0; i < order.lines.length; i++) {
      const l = order.lines[i];
      const amount = l.qty * l.price;
      sum += amount;
      piece(`${i ? ',' : ''}{"sku":"${l.sku}","qty":${l.qty},"price":${l.price},"amount":${amount.toFixed(2)},`);
      piece(`"tags":${JSON.stringify(l.tags)},"tax":${(amount * 0.2).toFixed(2)},"note":"line ${i + 1} of ${order.lines.length}, ${l.sku.toLowerCase()}"}`);
    }
    piece(`],"total":${sum.toFixed(2)},"tax":${(sum * 0.2).toFixed(2)},"currency":"EUR"}`);
    const out = alloc(total);
    let o = 0;
    for (const p of pieces) o += p.copy(out, o);
    send(out);
  });
}

const sendHttp = (res) => (buf) => {
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', buf.length);
  res.end(buf);
};

const SCRATCH = 1 << 16;
const scratchOf = new WeakMap();
/** The `reused` kind's alloc for one request: bump through its connection's scratch Buffer. */
function reusedAlloc(socket) {
  let scratch = scratchOf.get(socket);
  if (scratch === undefined) scratchOf.set(socket, (scratch = Buffer.allocUnsafeSlow(SCRATCH)));
  let used = 0;
  return (n) => {
    if (used + n > SCRATCH) return Buffer.allocUnsafe(n);
    const b = scratch.subarray(used, used + n);
    used += n;
    return b;
  };
}

let listen;
const missing = (why) => {
  process.send({ missing: why });
  process.exit(0);
};
if (framework === 'http') {
  let handler;
  if (kind === 'allocUnsafe') {
    const alloc = (n) => Buffer.allocUnsafe(n);
    handler = (req, res) => handle(alloc, req, Number(req.headers['content-length']), sendHttp(res));
  } else if (kind === 'reused') {
    handler = (req, res) => handle(reusedAlloc(req.socket), req, Number(req.headers['content-length']), sendHttp(res));
  } else {
    const { mod, missing: why } = await loadOffheap('ArenaScope');
    if (why) missing(why);
    const scope = new mod.ArenaScope({ maxBytes: 1 << 20 });
    // The lease lasts until the response has finished: res.end(buf) may send from arena memory.
    handler = (req, res) => scope.run((arena) => new Promise((resolve) => handle((n) => arena.alloc(n), req, Number(req.headers['content-length']), (buf) => {
      sendHttp(res)(buf);
      resolve();
    })), { until: res });
  }
  const server = http.createServer(handler);
  server.keepAliveTimeout = 60_000;
  listen = (cb) => server.listen(0, '127.0.0.1', () => cb(server.address().port));
} else if (framework === 'fastify') {
  let Fastify;
  try {
    Fastify = (await import('fastify')).default;
  } catch (e) {
    missing(`fastify not installed (npm install): ${e.message.split('\n')[0]}`);
  }
  const app = Fastify({ logger: false });
  // The raw body stream goes to the handler, which reads it into scratch memory.
  app.addContentTypeParser('application/json', (request, payload, done) => done(null, payload));
  let alloc;
  if (kind === 'allocUnsafe') alloc = () => (n) => Buffer.allocUnsafe(n);
  else if (kind === 'reused') alloc = (request) => reusedAlloc(request.raw.socket);
  else {
    let plugin;
    try {
      plugin = (await import('offheap/fastify')).default;
    } catch (e) {
      missing(e.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' || e.code === 'ERR_MODULE_NOT_FOUND' ? 'the offheap/fastify plugin is not in this build' : `offheap/fastify did not load: ${e.message.split('\n')[0]}`);
    }
    await app.register(plugin, { maxBytes: 1 << 20 });
    alloc = (request) => {
      const { arena } = request;
      return (n) => arena.alloc(n);
    };
  }
  app.post('/', (request, reply) => new Promise((resolve) => handle(alloc(request), request.body, Number(request.headers['content-length']), (buf) => {
    reply.header('content-type', 'application/json').send(buf);
    resolve(reply);
  })));
  listen = (cb) => app.listen({ port: 0, host: '127.0.0.1' }).then(() => cb(app.server.address().port));
} else {
  throw new Error(`unknown framework ${framework}`);
}

const gc = gcRecorder();
listen((port) => process.send({ port }));
process.on('message', async (msg) => {
  if (msg === 'start') gc.start();
  else if (msg === 'stop') process.send({ gc: await gc.stop(), heapMiB: process.memoryUsage().heapUsed / 2 ** 20, ...memory() });
  else if (msg === 'exit') process.exit(0);
});
