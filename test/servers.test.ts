// Per-request arenas in real servers: node:http with run(fn, { until: res })
// and fastify with offheap/fastify, each in a child process on 127.0.0.1,
// under keep-alive load, pipelined slow readers, clients that abort
// mid-request and mid-response, and handlers that await, throw and time
// out. Every body is written into the request's arena and checked by the
// client against its request. The same load against a Buffer.allocUnsafe
// server gives the GC figure, which is printed, never asserted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { abortMidRequest, abortMidResponse, newTally, round, ServerProcess, slowPipelined, type Report, type Tally } from './servers/load';

const root = join(__dirname, '..');
const KEEP = 64; // as test/servers/server.cjs
const MAX_RETAINED = 256 << 10;
const ROUNDS = 3;

function expectClean(t: Tally, r: Report): void {
  expect(t.examples.filter(() => t.wrong + t.failed > 0), 'wrong or failed responses').toEqual([]);
  expect(t.wrong).toBe(0);
  expect(t.failed).toBe(0);
  expect(r.errors).toEqual([]);
  expect(r.counts.serverErrors).toBe(0);
}

/** Figures of every run, printed at the end. */
const figures: string[] = [];

for (const framework of ['http', 'fastify'] as const) {
  describe(`${framework} server with an arena per request`, () => {
    let server: ServerProcess;
    beforeAll(async () => {
      server = await ServerProcess.start(framework, 'arena');
    }, 60_000);
    afterAll(async () => {
      expect(await server.stop()).toBe(0);
    });

    // The load of the issue: 0 wrong bodies, 0 server errors, 0 arenas left
    // lent, reservations within keep + leases in flight, no growth across rounds.
    it('answers every request with its own bytes under mixed load, and gives every arena back', async () => {
      let last!: Report;
      const t = newTally();
      for (let i = 0; i < ROUNDS; i++) {
        await round(server.port, t);
        last = await server.settled();
        expect(last.stats!.lent, `arenas left lent after round ${i + 1}`).toBe(0);
        expect(last.stats!.reserved).toBeLessThanOrEqual(KEEP);
        expect(last.stats!.keptBytes).toBeLessThanOrEqual(KEEP * MAX_RETAINED);
      }
      expectClean(t, last);
      expect(last.counts.maxReservedOverKeep).toBeLessThanOrEqual(0); // reserved <= keep + lent at every request
      expect(last.counts.lateServed).toBe(0); // timers that outlived their request never got an arena
      expect(last.counts.lateRefused).toBeGreaterThan(0);
      expect(last.stats!.decommitted).toBeGreaterThan(0); // big requests were decommitted, not destroyed
      expect(t.ok).toBeGreaterThan(0);
      figures.push(`${framework} arena: ${t.ok} ok, ${t.wrong} wrong, ${t.failed} failed, ${t.aborted} aborted, ` +
        `${last.counts.serverErrors} server errors, lent ${last.stats!.lent}, reserved ${last.stats!.reserved} ` +
        `(created ${last.stats!.created}, decommitted ${last.stats!.decommitted}), ${last.gcs} GCs (${last.majorGcs} major) ${last.gcMs} ms, ` +
        `rss ${(last.rss / 2 ** 20).toFixed(0)} MiB, external ${(last.external / 2 ** 20).toFixed(0)} MiB`);
    }, 240_000);

    // Returning an arena view that the framework writes after the handler
    // returned, to a client that does not read for a while, once sent other
    // requests' bytes (and zeros once the arena was destroyed for its size).
    it('never reuses an arena view before a slow pipelined reader has it', async () => {
      const t = newTally();
      await Promise.all(Array.from({ length: 4 }, () => slowPipelined(server.port, 6, 1 << 20, 300, t)));
      const r = await server.settled();
      expectClean(t, r);
      expect(t.ok).toBe(24);
      expect(r.stats!.lent).toBe(0);
    }, 120_000);

    // Aborted requests once never gave their arenas back (the onRequest +
    // onResponse idiom; res.end's callback for a destroyed response), so
    // every later request reserved a new arena.
    it('gives back the arenas of requests aborted mid-request and mid-response', async () => {
      const t = newTally();
      for (let i = 0; i < 2; i++) {
        await Promise.all([
          ...Array.from({ length: 20 }, (_, k) => abortMidRequest(server.port, t, k % 5 * 3)),
          ...Array.from({ length: 20 }, () => abortMidResponse(server.port, t, 2 << 20)),
        ]);
      }
      const r = await server.settled();
      expect(t.aborted).toBe(80);
      expect(r.stats!.lent).toBe(0);
      expect(r.stats!.reserved).toBeLessThanOrEqual(KEEP);
      expect(r.counts.maxReservedOverKeep).toBeLessThanOrEqual(0);
      expect(r.counts.serverErrors).toBe(0);
    }, 120_000);
  });
}

// The same load against the same handlers with Buffer.allocUnsafe: the
// bodies must be right there too (the load checks itself); the GC counts of
// both are a reported figure only, as they depend on the machine's load.
describe('Buffer.allocUnsafe servers under the same load', () => {
  for (const framework of ['http', 'fastify'] as const) {
    it(`${framework}: same bodies; GC figure reported`, async () => {
      const server = await ServerProcess.start(framework, 'unsafe');
      try {
        const t = newTally();
        for (let i = 0; i < ROUNDS; i++) await round(server.port, t);
        const r = await server.settled();
        expectClean(t, r);
        figures.push(`${framework} allocUnsafe: ${t.ok} ok, ${t.wrong} wrong, ${r.gcs} GCs (${r.majorGcs} major) ${r.gcMs} ms, ` +
          `rss ${(r.rss / 2 ** 20).toFixed(0)} MiB, external ${(r.external / 2 ** 20).toFixed(0)} MiB`);
      } finally {
        expect(await server.stop()).toBe(0);
      }
    }, 240_000);
  }

  afterAll(() => {
    console.log(`server load figures (${ROUNDS} rounds each):\n  ${figures.join('\n  ')}`);
  });
});

// The plugin itself, in this process, over real sockets.
describe('offheap/fastify', () => {
  const req = createRequire(__filename);
  const Fastify = req('fastify') as typeof import('fastify').default;
  const offheapFastify = req(join(root, 'dist/cjs/fastify.js')) as typeof import('../lib/fastify').offheapFastify;
  const { currentArena } = req(join(root, 'dist/cjs/index.js')) as typeof import('../lib/index');
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  async function listen(app: ReturnType<typeof Fastify>): Promise<string> {
    await app.listen({ port: 0, host: '127.0.0.1' });
    return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  }

  // request.arena and currentArena() are the request's in every hook up to
  // onSend and in the error handler, also after the body was read.
  it('gives every hook, the handler and the error handler the request’s arena', async () => {
    const app = Fastify();
    await app.register(offheapFastify, { maxBytes: 1 << 20, keep: 2 });
    const seen: string[] = [];
    const same = (where: string, request: { arena: unknown }) => seen.push(`${where}:${currentArena() === request.arena}`);
    app.addHook('onRequest', async (request) => same('onRequest', request));
    app.addHook('preValidation', async (request) => same('preValidation', request));
    app.addHook('preHandler', async (request) => same('preHandler', request));
    app.addHook('onSend', async (request, _reply, payload) => {
      same('onSend', request);
      return payload;
    });
    app.setErrorHandler(async (err, request, reply) => {
      same('errorHandler', request);
      await sleep(1);
      reply.code(500);
      return request.arena.alloc(5).fill(0x45);
    });
    app.post('/echo', async (request) => {
      same('handler', request);
      await sleep(2);
      const body = JSON.stringify(request.body);
      const view = currentArena().alloc(Buffer.byteLength(body));
      view.write(body);
      return view;
    });
    app.get('/fail', async () => {
      throw new Error('fails');
    });
    const base = await listen(app);
    try {
      const r = await fetch(`${base}/echo`, { method: 'POST', body: '{"a":[1,2]}', headers: { 'content-type': 'application/json' } });
      expect(await r.text()).toBe('{"a":[1,2]}');
      const f = await fetch(`${base}/fail`);
      expect([f.status, await f.text()]).toEqual([500, 'EEEEE']);
      expect(seen.filter((s) => s.endsWith(':false'))).toEqual([]);
      expect(new Set(seen.map((s) => s.split(':')[0]))).toEqual(new Set(['onRequest', 'preValidation', 'preHandler', 'handler', 'onSend', 'errorHandler']));
      await sleep(5);
      expect(app.arenaScope.stats()).toMatchObject({ lent: 0, created: 1 });
    } finally {
      await app.close();
    }
    // close() destroys the scope and its arenas.
    expect(app.arenaScope.stats()).toMatchObject({ lent: 0, reserved: 0 });
    expect(() => app.arenaScope.acquire()).toThrow(expect.objectContaining({ code: 'ERR_OFFHEAP_DESTROYED' }));
  }, 60_000);

  // A client that leaves while the handler awaits: the arena stays the
  // handler's until it is done, then comes back; a late timer is refused.
  it('keeps an abandoned handler’s arena until it settles, then refuses late timers', async () => {
    const app = Fastify();
    await app.register(offheapFastify, { maxBytes: 1 << 20 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let late: unknown;
    const lateDone = new Promise<void>((r) => {
      app.get('/slow', async (request) => {
        const view = request.arena.alloc(16).fill(1);
        await gate;
        view.fill(2); // still this request's memory
        setTimeout(() => {
          try {
            late = currentArena();
          } catch (err) {
            late = err;
          }
          r();
        }, 20);
        return view;
      });
    });
    const base = await listen(app);
    try {
      const ac = new AbortController();
      const pending = fetch(`${base}/slow`, { signal: ac.signal }).catch((err: Error) => err);
      while (app.arenaScope.stats().lent === 0) await sleep(2);
      ac.abort();
      await pending;
      await sleep(50);
      expect(app.arenaScope.stats().lent).toBe(1); // the reply closed; the handler still runs
      release();
      await lateDone;
      expect(app.arenaScope.stats().lent).toBe(0);
      expect((late as { code?: string }).code).toBe('ERR_OFFHEAP_NO_SCOPE');
    } finally {
      await app.close();
    }
  }, 60_000);

  it('rejects bad and unknown options when registered', async () => {
    for (const [options, code] of [[{}, 'ERR_INVALID_ARG_TYPE'], [{ maxBytes: -1 }, 'ERR_OUT_OF_RANGE'], [{ maxBytes: 1 << 20, kep: 1 }, 'ERR_INVALID_ARG_TYPE']] as const) {
      const app = Fastify();
      await expect(app.register(offheapFastify, options as never).ready()).rejects.toMatchObject({ code });
      await app.close().catch(() => undefined);
    }
    // A hook added before the plugin runs before its onRequest: a typed error, not another request's arena.
    const app = Fastify();
    let early: unknown;
    app.addHook('onRequest', async (request) => {
      try {
        early = request.arena;
      } catch (err) {
        early = err;
      }
    });
    await app.register(offheapFastify, { maxBytes: 1 << 20 });
    app.get('/', async (request) => request.arena.alloc(2).fill(0x4f));
    const r = await app.inject('/');
    expect(r.body).toBe('OO');
    expect(early).toMatchObject({ code: 'ERR_OFFHEAP_NO_SCOPE' });
    await app.close();
  });

  it('types request.arena and app.arenaScope by declaration merging', () => {
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict', '--esModuleInterop',
      '--module', 'commonjs', '--target', 'ES2022', '--lib', 'ES2022,ESNext.Disposable', '--types', 'node', '--skipLibCheck',
      join(__dirname, 'servers/fastify-types.ts')], { cwd: root, encoding: 'utf8' });
  }, 120_000);
});

// The runnable examples start a server, talk to it and exit on their own.
describe('server examples', () => {
  const run = (file: string) => execFileSync(process.execPath, [join(root, 'examples', file)], { cwd: root, encoding: 'utf8', timeout: 60_000 });

  it('examples/server-http.mjs', () => {
    const out = run('server-http.mjs');
    expect(out).toContain('rows=3: "row 0\\nrow 1\\nrow 2\\n"');
    expect(out).toMatch(/arenas lent 0, kept \d+, reserved \d+/);
  }, 90_000);

  it('examples/server-fastify.mjs', () => {
    const out = run('server-fastify.mjs');
    expect(out).toContain('"hello ada\\n"');
    expect(out).toContain('"QUIET WORDS"');
    expect(out).toContain('500 "failed: no such thing\\n"');
    expect(out).toMatch(/arenas lent 0, kept \d+, reserved \d+/);
  }, 90_000);
});
