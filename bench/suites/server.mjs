// Server suite: a node:http server that builds every response from 80 scratch
// buffers (16..512 B), driven on loopback by autocannon. Each candidate's
// server runs in its own process (bench/child/http-server.mjs); the load
// rounds alternate between them. Figures: requests/s, p50 / p99 latency,
// server RSS and the server's GC pauses (PerformanceObserver) per round.
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { done, makeGroup, progress } from '../harness.mjs';

const child = join(dirname(fileURLToPath(import.meta.url)), '../child/http-server.mjs');
const CANDIDATES = [
  { key: 'allocUnsafe', name: 'Buffer.allocUnsafe per scratch buffer', peer: true },
  { key: 'arena', name: 'offheap ArenaScope (arena per request)', peer: false },
];

/** Starts one candidate's server; resolves { port, proc } or { missing }. */
function start(c) {
  return new Promise((resolve, reject) => {
    const proc = fork(child, [c.key], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
    proc.once('message', (m) => (m.missing ? resolve({ missing: m.missing }) : resolve({ port: m.port, proc })));
    proc.once('exit', (code) => reject(new Error(`${c.key} server exited with ${code} before listening`)));
  });
}

function ask(proc, msg) {
  return new Promise((resolve) => {
    proc.once('message', resolve);
    proc.send(msg);
  });
}

function load(port, seconds, connections) {
  return autocannon({ url: `http://127.0.0.1:${port}/`, connections, pipelining: 1, duration: seconds });
}

export default async function server({ quick }) {
  const rounds = quick ? 1 : 3;
  const seconds = quick ? 1 : 4;
  const warmup = quick ? 1 : 2;
  const connections = 16;
  const servers = [];
  const t0 = Date.now();
  for (const c of CANDIDATES) servers.push({ ...c, ...(await start(c)), rounds: [] });
  const live = servers.filter((s) => !s.missing);
  for (const s of live) await load(s.port, warmup, connections);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < live.length; k++) {
      const s = live[(k + r) % live.length];
      progress(`server: round ${r + 1}/${rounds}, ${s.name}`);
      s.proc.send('start');
      const res = await load(s.port, seconds, connections);
      const after = await ask(s.proc, 'stop');
      if (res.errors || res.non2xx || res.timeouts) throw new Error(`${s.name}: ${res.errors} errors, ${res.non2xx} non-2xx, ${res.timeouts} timeouts`);
      const requests = res.requests.total;
      s.rounds.push({
        rps: requests / res.duration,
        p50: res.latency.p50,
        p99: res.latency.p99,
        rss: after.rssMiB,
        peakRss: after.peakRssMiB,
        gcPer10k: (after.gc.totalMs * 10_000) / requests,
        gcCountPer10k: (after.gc.count * 10_000) / requests,
        gcMax: after.gc.maxMs,
      });
    }
  }
  for (const s of live) s.proc.send('exit');
  done(`server (${rounds} rounds x ${seconds} s per candidate, ${((Date.now() - t0) / 1000).toFixed(1)} s)`);

  const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const entries = (pick, extra) =>
    servers.map((s) => ({
      name: s.name,
      peer: s.peer,
      unavailable: s.missing,
      samples: s.rounds.map(pick),
      extra: s.missing ? undefined : extra?.(s),
    }));
  const common = { rounds, baseline: CANDIDATES[0].name };
  const how = `${connections} connections, ${seconds} s per round, ${rounds} rounds alternating between the servers after ${warmup} s of warm-up each.`;
  const groups = [
    makeGroup('HTTP server, 80 scratch buffers per request: throughput', entries((x) => x.rps, (s) => ({
      // autocannon's histogram has 1 ms buckets: 0 means under a millisecond.
      'p50 ms': med(s.rounds.map((x) => x.p50)) || '< 1',
      'RSS MiB': med(s.rounds.map((x) => x.rss)),
      'peak RSS MiB': Math.max(...s.rounds.map((x) => x.peakRss)),
    })), { ...common, unit: 'req/s', better: 'higher', note: `autocannon on loopback, ${how}` }),
    makeGroup('HTTP server: p99 latency', entries((x) => x.p99), { ...common, unit: 'ms', resolution: 1, note: 'autocannon latency histogram (1 ms resolution).' }),
    makeGroup('HTTP server: GC pause time in the server', entries((x) => x.gcPer10k, (s) => ({
      'GC pauses /10k req': med(s.rounds.map((x) => x.gcCountPer10k)),
      'longest pause ms': Math.max(...s.rounds.map((x) => x.gcMax)),
    })), { ...common, unit: 'ms per 10k requests', note: 'PerformanceObserver gc entries in the server process during the load rounds.' }),
  ];
  const notes = servers.filter((s) => s.missing).map((s) => `server: ${s.name}: ${s.missing}; its rows are empty.`);
  return { groups, notes };
}
