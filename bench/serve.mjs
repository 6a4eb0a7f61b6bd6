// What the server suites share: one child process per candidate server, load
// rounds from wrk alternating between them (the order rotated every round),
// and the figures of every round: req/s, latency percentiles (µs), the
// server's GC pauses (PerformanceObserver), RSS and V8 heap used.
import { fork } from 'node:child_process';
import { done, finite, makeGroup, medianOf, progress } from './harness.mjs';
import { PERCENTILES, RESOLUTION_US, runWrk } from './wrk.mjs';

/** Forks `child` with args; resolves { port, proc, info } or { missing }. */
export function startServer(child, args, { timeoutMs = 300_000 } = {}) {
  return new Promise((resolve) => {
    const proc = fork(child, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--max-old-space-size=4096'] });
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      resolve({ missing: `server did not start within ${timeoutMs / 1000} s` });
    }, timeoutMs);
    proc.on('error', () => {}); // a send to a server that died: seen as its exit
    proc.once('message', (m) => {
      clearTimeout(timer);
      resolve(m.missing ? { missing: m.missing } : { port: m.port, proc, info: m });
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ missing: `server exited with ${code ?? signal} before listening` });
    });
  });
}

/** Sends msg and resolves the reply, or null when the server has gone. */
function ask(proc, msg) {
  return new Promise((resolve) => {
    if (!proc.connected) return resolve(null);
    const gone = () => resolve(null);
    proc.once('exit', gone);
    proc.once('message', (m) => {
      proc.off('exit', gone);
      resolve(m);
    });
    proc.send(msg, (e) => e && resolve(null));
  });
}

const tell = (proc, msg) => proc.connected && proc.send(msg, () => {});

/**
 * Runs the rounds. servers: [{ name, port, proc, missing? }]; each live server
 * gets `warmup` seconds of load first, then `rounds` rounds of `seconds`.
 * Adds `rounds: [{ rps, us, gcTotalMs, gcMaxMs, gcCount, gcPer1k, rssMiB, heapMiB }]`
 * to each server; a server whose round fails keeps the error as `failed`.
 */
export async function loadRounds(title, wrkBin, servers, { rounds, seconds, warmup, wrk }) {
  const t0 = Date.now();
  const live = servers.filter((s) => !s.missing);
  for (const s of live) {
    s.rounds = [];
    progress(`${title}: warm-up, ${s.name}`);
    try {
      await runWrk(wrkBin, { ...wrk, port: s.port, seconds: warmup });
    } catch (e) {
      s.failed = `failed: ${e.message}`;
    }
  }
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < live.length; k++) {
      const s = live[(k + r) % live.length];
      if (s.failed) continue;
      progress(`${title}: round ${r + 1}/${rounds}, ${s.name}`);
      if (!s.proc.connected) {
        s.failed = 'failed: the server exited';
        continue;
      }
      tell(s.proc, 'start');
      let res;
      try {
        res = await runWrk(wrkBin, { ...wrk, port: s.port, seconds });
      } catch (e) {
        s.failed = `failed: ${e.message}`;
      }
      const after = await ask(s.proc, 'stop');
      if (!after) s.failed = 'failed: the server exited during the round';
      if (!res || !after) continue;
      // GCs per 1,000 responses: a round's GC count grows with its req/s, which load noise moves.
      const gcPer1k = res.rps > 0 ? (after.gc.count * 1000) / (res.rps * seconds) : null;
      s.rounds.push({ rps: res.rps, us: res.us, gcTotalMs: after.gc.totalMs, gcMaxMs: after.gc.maxMs, gcCount: after.gc.count, gcPer1k, rssMiB: after.rssMiB, heapMiB: after.heapMiB });
    }
  }
  for (const s of live) tell(s.proc, 'exit');
  done(`${title} (${rounds} rounds x ${seconds} s per server after ${warmup} s of warm-up, ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
}

const med = (xs) => medianOf(xs.filter((v) => finite(v) !== null));
const max = (xs) => (xs.some((v) => finite(v) !== null) ? Math.max(...xs.filter((v) => finite(v) !== null)) : null);
export const PCT_KEYS = { 50: 'p50', 90: 'p90', 99: 'p99', 99.9: 'p99_9', 100: 'max' };

/**
 * The groups of a server workload: one per figure (`figures` picks which and
 * their targets), every row a server, plus the latency-by-percentile data for
 * the chart and a summary table for the README.
 * figures: [{ key, title, unit, better?, target?, resolution? }], key one of
 *   rps, p50, p99, p99_9, max, gcMaxMs, gcTotalMs, gcCount, gcPer1k, rssMiB, heapMiB.
 */
export function serverGroups(workload, servers, { baseline, figures, note, rounds }) {
  const sample = (s, key) => s.rounds.map((x) => (key in x ? x[key] : x.us?.[key]));
  const entries = (key) => servers.map((s) => ({
    name: s.name,
    peer: s.peer,
    unavailable: s.missing ?? (s.rounds?.length ? undefined : s.failed ?? 'not measured'),
    samples: s.missing ? [] : sample(s, key),
  }));
  const groups = figures.map((f, i) => makeGroup(`${workload}: ${f.title}`, entries(f.key), {
    unit: f.unit, better: f.better ?? 'lower', baseline, rounds, target: f.target,
    resolution: f.resolution ?? (f.unit === 'µs' ? RESOLUTION_US : undefined),
    note: i === 0 ? note : f.note,
    latency: i === 0 ? {
      title: workload,
      percentiles: PERCENTILES,
      rows: servers.map((s) => ({ name: s.name, peer: s.peer, us: PERCENTILES.map((p) => (s.rounds?.length ? (p === 100 ? max(sample(s, 'max')) : med(sample(s, PCT_KEYS[p]))) : null)) })),
    } : undefined,
  }));
  for (const g of groups) g.headline = true;
  const cellOf = (s, key, reduce = med) => (s.missing ? 'n/a' : s.rounds?.length ? reduce(sample(s, key)) : 'failed');
  const summary = {
    title: workload,
    note,
    columns: ['candidate', 'req/s', 'p50 µs', 'p99 µs', 'p99.9 µs', 'max µs', 'GC total ms', 'longest GC ms', 'RSS MiB', 'heap MiB'],
    rows: servers.map((s) => [
      s.peer ? s.name : `**${s.name}**`,
      ...(s.missing ? [`not measured: ${s.missing}`, '', '', '', '', '', '', '', ''] : [
        cellOf(s, 'rps'), cellOf(s, 'p50'), cellOf(s, 'p99'), cellOf(s, 'p99_9'), cellOf(s, 'max', max),
        cellOf(s, 'gcTotalMs'), cellOf(s, 'gcMaxMs', max), cellOf(s, 'rssMiB'), cellOf(s, 'heapMiB'),
      ]),
    ]),
  };
  return { groups, summary };
}
