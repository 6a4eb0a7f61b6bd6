// Session-cache server: a node:http server holding a large live set (1M
// sessions of about 200 bytes), each request reading one session and updating
// two fields, one in ten replacing a session. The question a user asks: does
// the server get faster, steadier (tail latency, GC pauses) or smaller (RSS)
// when the sessions live off the V8 heap? Servers: bench/child/session-server.mjs.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureWrk } from '../wrk.mjs';
import { loadRounds, serverGroups, startServer } from '../serve.mjs';

const child = join(dirname(fileURLToPath(import.meta.url)), '../child/session-server.mjs');
const OBJECTS = 'plain objects in a Map';
const LRU = 'lru-cache (max = sessions)';
const RECORDS = 'offheap records (layout over ObjectPool), Map<id, handle>';
const CANDIDATES = [
  { key: 'objects', name: OBJECTS, peer: true },
  { key: 'lru', name: LRU, peer: true },
  { key: 'buffers', name: 'a Buffer per session in a Map', peer: true },
  { key: 'pool', name: RECORDS, peer: false },
  { key: 'slab', name: 'offheap SlabAllocator values, Map<id, handle>', peer: false },
];

export default async function sessions({ quick }) {
  const count = quick ? 50_000 : 1_000_000;
  const rounds = quick ? 1 : 3;
  const seconds = quick ? 1 : 6;
  const warmup = quick ? 1 : 2;
  const connections = 16;
  const workload = `Session cache server, ${count / 1000}k sessions of ~200 B`;
  const note = `GET /s/<random id> reads a session and updates two fields; one request in ten replaces it. wrk on loopback, `
    + `${connections} connections, 1 thread, ${seconds} s per round, ${rounds} round(s) alternating between the servers after ${warmup} s of warm-up each; `
    + 'latency in µs (wrk), GC pauses and memory measured in the server.';
  const wrk = ensureWrk();
  if (wrk.missing) return { groups: [], skipped: wrk.missing };

  // One server at a time builds its sessions, so the builds do not compete.
  const servers = [];
  for (const c of CANDIDATES) {
    const s = await startServer(child, [c.key, String(count)]);
    servers.push({ ...c, ...s });
  }
  await loadRounds('sessions', wrk.bin, servers, {
    rounds, seconds, warmup,
    wrk: { connections, threads: 1, script: 'sessions.lua', env: { OFFHEAP_SESSIONS: String(count) } },
  });
  const vsBoth = (atLeast, what, why) => [
    { candidate: RECORDS, vs: OBJECTS, atLeast, label: `offheap records: ${what} at least ${atLeast}x lower than plain objects in a Map`, why },
    { candidate: RECORDS, vs: LRU, above: 1, label: `offheap records: ${what} lower than lru-cache`, why },
  ];
  const gcWhy = 'the pause figures are the servers\' own (request garbage included), and a round shows a long major GC only when one falls in it';
  const { groups, summary } = serverGroups(workload, servers, {
    baseline: OBJECTS, rounds, note,
    figures: [
      { key: 'rps', title: 'throughput', unit: 'req/s', better: 'higher' },
      { key: 'p99_9', title: 'p99.9 latency', unit: 'µs', target: vsBoth(5, 'p99.9 latency', `the tail follows the GC pauses; ${gcWhy}`) },
      { key: 'p99', title: 'p99 latency', unit: 'µs' },
      { key: 'max', title: 'max latency (median of the rounds)', unit: 'µs' },
      { key: 'gcMaxMs', title: 'longest GC pause (median of the rounds)', unit: 'ms', target: vsBoth(10, 'longest GC pause', gcWhy) },
      { key: 'gcTotalMs', title: 'GC pause total per round', unit: 'ms' },
      { key: 'rssMiB', title: 'RSS at the end of a round', unit: 'MiB', target: vsBoth(2, 'RSS', 'both servers also hold the Map of ids, node:http and the V8 heap of request handling') },
      { key: 'heapMiB', title: 'V8 heap used at the end of a round', unit: 'MiB' },
    ],
  });
  const notes = servers.filter((s) => s.missing).map((s) => `sessions: ${s.name}: ${s.missing}`);
  notes.push(`sessions: time to build ${count} sessions: ${servers.filter((s) => s.info).map((s) => `${s.name} ${s.info.buildMs} ms`).join(', ')}.`);
  return { groups, notes, summary: [summary] };
}
