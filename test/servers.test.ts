// Per-request arenas in real servers: node:http with run(fn, { until: res })
// and fastify with offheap/fastify, each in a child process on 127.0.0.1,
// under keep-alive load, pipelined slow readers, clients that abort
// mid-request and mid-response, and handlers that await, throw and time
// out. Every body is written into the request's arena and checked by the
// client against its request. The same load against a Buffer.allocUnsafe
// server gives the GC figure, which is printed, never asserted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { abortMidRequest, abortMidResponse, newTally, round, ServerProcess, slowPipelined, type Report, type Tally } from './servers/load';

const root = join(__dirname, '..');
const KEEP = 64; // as test/servers/server.cjs
const MAX_RETAINED = 256 << 10;
const ROUNDS = 3;

beforeAll(() => {
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: root });
  execFileSync(process.execPath, [join(root, 'scripts/build-esm.mjs')], { cwd: root });
}, 120_000);

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
        `(created ${last.stats!.created}, decommitted ${last.stats!.decommitted}), ${last.gcs} GCs ${last.gcMs} ms, ` +
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
        figures.push(`${framework} allocUnsafe: ${t.ok} ok, ${t.wrong} wrong, ${r.gcs} GCs ${r.gcMs} ms, ` +
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
