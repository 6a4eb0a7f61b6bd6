// The server under load in test/servers.test.ts, in its own process (forked,
// talks over IPC): node test/servers/server.cjs <http|fastify> <arena|unsafe>
//
// Every response body is derived from the request's id (see body.cjs) and,
// in arena mode, written into the request's arena and sent as a view of it,
// so a view reused before the socket flushed it shows up as a wrong body.
// GET /r?id=&size=&mode= with mode:
//   sync     the body at once
//   await    the body after an await or two (a timer that outlives the
//            request also tries currentArena() and must be refused)
//   throw    the handler throws; the error handler answers 500 with a body of the id
//   timeout  the handler outlives its deadline; 503 with a body of the id,
//            while the abandoned handler goes on using its arena
// POST /r?id=&size= reads the request body into the arena and answers the body of the id.
// IPC: 'report' is answered with the counters, scope.stats(), GCs and RSS.
'use strict';
const http = require('node:http');
const { once } = require('node:events');
const { PerformanceObserver, constants, performance } = require('node:perf_hooks');
const { fill } = require('./body.cjs');
const offheap = require('../../dist/cjs/index.js');

const [framework, alloc] = process.argv.slice(2);
const KEEP = 64;
const DEADLINE_MS = 30;
const scopeOptions = { maxBytes: 4 << 20, keep: KEEP, maxRetainedBytes: 256 << 10 };

const counts = { requests: 0, serverErrors: 0, lateRefused: 0, lateServed: 0, maxReservedOverKeep: 0 };
const errors = [];
// The GCs of the load only: from the moment the server listens (what loading
// the modules and building the server collected differs between the servers).
let gcs = 0;
let majorGcs = 0;
let gcMs = 0;
let countFrom = Infinity;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (e.startTime < countFrom) continue;
    gcs++;
    if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majorGcs++;
    gcMs += e.duration;
  }
}).observe({ entryTypes: ['gc'] });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const unexpected = (err) => {
  counts.serverErrors++;
  if (errors.length < 5) errors.push(String(err && err.stack || err));
};

let scope; // ArenaScope in arena mode
/** Scratch memory for the body: the request's arena, or Buffer.allocUnsafe. */
const scratch = alloc === 'arena' ? (n) => offheap.currentArena().alloc(n) : (n) => Buffer.allocUnsafe(n);

function sample() {
  if (scope === undefined) return;
  const s = scope.stats();
  counts.maxReservedOverKeep = Math.max(counts.maxReservedOverKeep, s.reserved - s.lent - KEEP);
}

/** A timer that may outlive the request: once `res` is over, currentArena() must refuse it. */
function lateTimer(res) {
  if (alloc !== 'arena') return;
  setTimeout(() => {
    if (!res.writableFinished && !res.destroyed) return; // still the request's: nothing to check
    try {
      offheap.currentArena();
      counts.lateServed++;
    } catch (err) {
      if (err.code === 'ERR_OFFHEAP_NO_SCOPE') counts.lateRefused++;
      else unexpected(err);
    }
  }, 50);
}

class Intentional extends Error {}

/**
 * The handler's work: returns the body for `id` (may await, throw, or
 * overrun the deadline: then it goes on a while after `deadline` resolved,
 * while the timeout response is being sent).
 */
async function work(id, size, mode, res, deadline) {
  if (mode === 'throw') {
    await sleep(1);
    throw new Intentional(`request ${id} fails on purpose`);
  }
  const body = fill(scratch(size), id);
  if (mode === 'await') {
    lateTimer(res);
    await sleep(id % 5);
    await null;
  }
  if (mode === 'timeout') {
    await deadline;
    await sleep(DEADLINE_MS);
    body.fill(0).fill(body.length & 0xff); // still its own memory: nobody else's body changes
  }
  return body;
}

function parse(url) {
  const u = new URL(url, 'http://x');
  return { id: Number(u.searchParams.get('id')), size: Number(u.searchParams.get('size')), mode: u.searchParams.get('mode') || 'sync' };
}

/** Reads the request body into scratch memory; answers the body of `id`. */
async function readBody(req, id) {
  const got = scratch(Number(req.headers['content-length'] || 0));
  let n = 0;
  for await (const chunk of req) n += chunk.copy(got, n);
  if (n !== got.length) throw new Error(`request ${id}: ${n} of ${got.length} body bytes`);
  return fill(scratch(64), id);
}

function httpServer() {
  if (alloc === 'arena') scope = new offheap.ArenaScope(scopeOptions);
  const handle = async (req, res) => {
    counts.requests++;
    sample();
    const { id, size, mode } = parse(req.url);
    try {
      let body;
      if (req.method === 'POST') body = await readBody(req, id);
      else if (mode === 'timeout') {
        const deadline = sleep(DEADLINE_MS).then(() => null);
        const working = work(id, size, mode, res, deadline);
        body = await Promise.race([working, deadline]);
        if (body === null) {
          res.statusCode = 503;
          res.end(fill(scratch(64), id));
          await working; // fn settles once the abandoned work no longer uses the arena
          return;
        }
      } else body = await work(id, size, mode, res);
      res.end(body);
    } catch (err) {
      if (err instanceof Intentional) {
        res.statusCode = 500;
        res.end(fill(scratch(64), id));
      } else if (req.destroyed || res.destroyed) res.destroy();
      else {
        unexpected(err);
        res.destroy();
      }
    }
  };
  const server = http.createServer(alloc === 'arena'
    ? (req, res) => scope.run(() => handle(req, res), { until: res })
    : handle);
  server.on('clientError', (err, socket) => socket.destroy());
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

async function fastifyServer() {
  const Fastify = require('fastify');
  const app = Fastify({ logger: false });
  if (alloc === 'arena') {
    await app.register(require('../../dist/cjs/fastify.js'), scopeOptions);
    scope = app.arenaScope;
  }
  app.addHook('onRequest', async () => {
    counts.requests++;
    sample();
  });
  app.setErrorHandler((err, request, reply) => {
    const { id } = parse(request.url);
    if (request.raw.destroyed) return reply.code(500).send(); // aborted: nobody reads it
    if (err instanceof Intentional) reply.code(500);
    else if (err.code === 'FST_ERR_HANDLER_TIMEOUT') reply.code(503);
    else {
      unexpected(err);
      reply.code(500);
    }
    reply.send(fill(scratch(64), id)); // the error handler sees the request's arena too
  });
  app.get('/r', async (request, reply) => {
    const { id, size, mode } = parse(request.url);
    if (alloc === 'arena' && offheap.currentArena() !== request.arena) unexpected(new Error('currentArena() is not request.arena'));
    return work(id, size, mode, reply.raw); // an arena view, written by fastify after the handler returned
  });
  app.get('/timeout', { handlerTimeout: DEADLINE_MS }, async (request, reply) => {
    const { id, size } = parse(request.url);
    return work(id, size, 'timeout', reply.raw, once(request.signal, 'abort'));
  });
  app.addContentTypeParser('application/octet-stream', (request, payload, done) => {
    readBody(payload, 0).then(() => done(null, null), done);
  });
  app.post('/r', async (request) => fill(scratch(64), parse(request.url).id));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app.server.address().port;
}

process.on('uncaughtException', (err) => {
  unexpected(err);
});
process.on('warning', (w) => {
  if (w.name !== 'ExperimentalWarning') unexpected(w);
});

(framework === 'fastify' ? fastifyServer() : httpServer()).then((port) => {
  countFrom = performance.now();
  process.send({ port });
  process.on('message', (m) => {
    if (m === 'report') {
      process.send({
        counts, errors, gcs, majorGcs, gcMs: Math.round(gcMs), rss: process.memoryUsage().rss,
        external: process.memoryUsage().external, stats: scope === undefined ? null : scope.stats(),
      });
    } else if (m === 'exit') process.exit(0);
  });
});
