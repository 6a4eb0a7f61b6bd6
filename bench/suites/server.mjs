// Per-request scratch servers: node:http and fastify, each with the handler
// of bench/child/scratch-server.mjs (read a ~2 KiB JSON body into scratch
// memory, parse it, build a ~6 KiB reply from 82 scratch pieces), once with
// Buffer.allocUnsafe and once with an offheap arena per request
// (node:http: scope.run(fn, { until: res }); fastify: the offheap/fastify plugin),
// and once with no allocator at all (one reused scratch Buffer per connection):
// the reference that shows how much of a request allocation can be.
// Load from wrk on loopback, rounds alternating between the six servers.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureWrk } from '../wrk.mjs';
import { medianOf } from '../harness.mjs';
import { loadRounds, serverGroups, startServer } from '../serve.mjs';

const child = join(dirname(fileURLToPath(import.meta.url)), '../child/scratch-server.mjs');
const PAIRS = [
  { framework: 'http', title: 'node:http', base: 'node:http, Buffer.allocUnsafe', arena: 'node:http, offheap scope.run(fn, { until: res })' },
  { framework: 'fastify', title: 'fastify', base: 'fastify, Buffer.allocUnsafe', arena: 'fastify, offheap/fastify plugin' },
].map((p) => ({ ...p, reused: `${p.title}, no allocator: one reused Buffer per connection (reference)` }));

/** A JSON order of about 2 KiB: 40 lines of sku, qty, price, tags. */
export function orderBody() {
  const lines = [];
  for (let i = 0; i < 40; i++) lines.push({ sku: `SKU-${(i * 7919) % 10007}-X`, qty: 1 + (i % 5), price: 3.5 + i, tags: i % 2 ? ['a'] : ['b', 'c'] });
  return JSON.stringify({ id: 123456, customer: { id: 42, name: 'Ada Lovelace', country: 'GB' }, lines });
}

export default async function server({ quick }) {
  const rounds = quick ? 1 : 3;
  const seconds = quick ? 1 : 4;
  const warmup = quick ? 1 : 2;
  const connections = 16;
  const wrk = ensureWrk();
  if (wrk.missing) return { groups: [], skipped: wrk.missing };
  const dir = mkdtempSync(join(tmpdir(), 'offheap-bench-'));
  const bodyFile = join(dir, 'order.json');
  const body = orderBody();
  writeFileSync(bodyFile, body);
  const note = `POST / with a ${body.length}-byte JSON order; the reply is built from 82 scratch pieces. wrk on loopback, ${connections} connections, `
    + `1 thread, ${seconds} s per round, ${rounds} round(s) alternating between the six servers after ${warmup} s of warm-up each; latency in µs (wrk). `
    + 'The reference allocates nothing: each piece is a subarray of a Buffer its connection reuses (safe only because the client waits for each reply), '
    + 'so what it gains on Buffer.allocUnsafe is all any allocator can gain on this handler.';
  try {
    const servers = [];
    for (const p of PAIRS) {
      servers.push({ pair: p, name: p.base, peer: true, ...(await startServer(child, [p.framework, 'allocUnsafe'])) });
      servers.push({ pair: p, name: p.arena, peer: false, ...(await startServer(child, [p.framework, 'arena'])) });
      servers.push({ pair: p, name: p.reused, peer: true, ...(await startServer(child, [p.framework, 'reused'])) });
    }
    await loadRounds('server', wrk.bin, servers, {
      rounds, seconds, warmup,
      wrk: { connections, threads: 1, script: 'post-json.lua', env: { OFFHEAP_WRK_BODY: bodyFile } },
    });
    const groups = [];
    const summary = [];
    for (const p of PAIRS) {
      const mine = servers.filter((s) => s.pair === p);
      // The reference's req/s over Buffer.allocUnsafe's: the most any allocator could gain here.
      const rps = (name) => {
        const s = mine.find((x) => x.name === name);
        return s?.rounds?.length ? medianOf(s.rounds.map((x) => x.rps)) : null;
      };
      const [ref, base] = [rps(p.reused), rps(p.base)];
      const ceiling = ref !== null && base > 0 ? `${(ref / base).toFixed(2)}x` : 'not measured';
      const out = serverGroups(`Per-request scratch, ${p.title}`, mine, {
        baseline: p.base, rounds, note,
        figures: [
          {
            key: 'rps', title: 'throughput', unit: 'req/s', better: 'higher',
            target: {
              candidate: p.arena, vs: p.base, atLeast: 1.1, label: `${p.arena}: at least 1.1x the req/s of Buffer.allocUnsafe`,
              why: `the reference with no allocator at all measured ${ceiling}: allocation is that small a part of this handler's work (JSON, strings, HTTP)`,
            },
          },
          { key: 'p99', title: 'p99 latency', unit: 'µs', target: { candidate: p.arena, vs: p.base, atLeast: 1, label: `${p.arena}: p99 latency no worse than Buffer.allocUnsafe` } },
          { key: 'p50', title: 'p50 latency', unit: 'µs' },
          { key: 'gcTotalMs', title: 'GC pause total per round', unit: 'ms' },
          { key: 'gcPer1k', title: 'GCs per 1,000 responses', unit: 'GCs', target: { candidate: p.arena, vs: p.base, atLeast: 1, label: `${p.arena}: no more GCs per response than Buffer.allocUnsafe` } },
          { key: 'rssMiB', title: 'RSS at the end of a round', unit: 'MiB' },
        ],
      });
      groups.push(...out.groups);
      summary.push(out.summary);
    }
    const notes = servers.filter((s) => s.missing).map((s) => `server: ${s.name}: ${s.missing}`);
    return { groups, notes, summary };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
