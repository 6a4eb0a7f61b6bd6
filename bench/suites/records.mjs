// One million long-lived 64-byte records (DESIGN section 9): held as one
// Buffer.alloc(64) each, as one big Buffer with offsets (pure JS), and as
// offheap ObjectPool handles. Each run is a fresh process
// (bench/child/records.mjs), the candidates alternating round by round.
// Figures: total time (build + 2M updates with short-lived garbage beside
// them), GC pauses from PerformanceObserver, heap used and RSS after the run.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { done, makeGroup, progress } from '../harness.mjs';

const child = join(dirname(fileURLToPath(import.meta.url)), '../child/records.mjs');
const CANDIDATES = [
  { key: 'buffers', name: 'Buffer.alloc(64) per record', peer: true },
  { key: 'bigbuffer', name: 'one big Buffer + offsets (pure JS)', peer: true },
  { key: 'pool', name: 'offheap ObjectPool handles', peer: false },
];
const BASELINE = CANDIDATES[0].name;

function runOnce(key, count) {
  const r = spawnSync(process.execPath, [child, key, String(count)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`records ${key} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

export default async function records({ quick }) {
  const count = quick ? 20_000 : 1_000_000;
  const rounds = quick ? 1 : 7;
  const runs = new Map(CANDIDATES.map((c) => [c.key, []]));
  const missing = new Map();
  const t0 = Date.now();
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < CANDIDATES.length; k++) {
      const c = CANDIDATES[(k + r) % CANDIDATES.length];
      if (missing.has(c.key)) continue;
      progress(`records: round ${r + 1}/${rounds}, ${c.name}`);
      const out = runOnce(c.key, count);
      if (out.missing) missing.set(c.key, out.missing);
      else runs.get(c.key).push(out);
    }
  }
  done(`records (${rounds} rounds of ${count} records, ${((Date.now() - t0) / 1000).toFixed(1)} s)`);

  const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const entries = (pick, extra) =>
    CANDIDATES.map((c) => {
      const rs = runs.get(c.key);
      return { name: c.name, peer: c.peer, unavailable: missing.get(c.key), samples: rs.map(pick), extra: rs.length ? extra?.(rs) : undefined };
    });
  const label = count >= 1e6 ? `${count / 1e6}M` : String(count);
  const what = `${count} records of 64 B, then ${2 * count} requests that each update a random record and leave a small object behind; a fresh process per run, ${rounds} rounds alternating between candidates.`;
  const groups = [
    makeGroup(`${label} long-lived records: build (allocate and fill, GC included)`, entries((x) => x.buildMs, (rs) => ({
      'GC pauses in build': med(rs.map((x) => x.buildGcCount)),
      'GC ms in build': med(rs.map((x) => x.buildGcMs)),
      'heap used MiB': med(rs.map((x) => x.heapUsedMiB)),
      'RSS MiB': med(rs.map((x) => x.rssMiB)),
    })), {
      unit: 'ms', rounds, baseline: BASELINE, note: what,
      target: { candidate: 'offheap ObjectPool handles', vs: BASELINE, atLeast: 10, label: 'ObjectPool: 1M records in at most 1/10 of the time of Buffer.alloc(64) per record, GC included' },
    }),
    makeGroup(`${label} long-lived records: total time (build + ${2 * count} updates)`, entries((x) => x.totalMs), { unit: 'ms', rounds, baseline: BASELINE }),
    makeGroup(`${label} long-lived records: GC pause time`, entries((x) => x.gcTotalMs, (rs) => ({
      'GC pauses': med(rs.map((x) => x.gcCount)),
      'longest pause ms': med(rs.map((x) => x.gcMaxMs)),
    })), { unit: 'ms', rounds, baseline: BASELINE, note: 'Sum of PerformanceObserver gc entry durations over the whole run (the short-lived objects of the update phase cause some in every candidate).' }),
  ];
  const notes = [...missing].map(([key, why]) => `records: ${CANDIDATES.find((c) => c.key === key).name}: ${why}; its rows are empty.`);
  const pool = runs.get('pool');
  if (pool.length) {
    // Nothing but the store allocates during the build, so a pause there is the store's.
    const pauses = med(pool.map((x) => x.buildGcCount));
    notes.push(`records: target "no GC event caused by the pool": ${pauses === 0 ? 'met' : 'not met'}: the ObjectPool build `
      + `saw ${pauses} GC pause${pauses === 1 ? '' : 's'} (median over ${pool.length} runs; ${med(pool.map((x) => x.buildGcMs)).toFixed(1)} ms), `
      + `Buffer.alloc(64) per record ${med(runs.get('buffers').map((x) => x.buildGcCount))}, the big Buffer ${med(runs.get('bigbuffer').map((x) => x.buildGcCount))}.`);
  }
  return { groups, notes };
}
