// The thread groups of the pool and slab suites, one helper for both: one
// shared allocator, the same total churn split over 1 or 2 worker threads
// (bench/workers/shared-churn.mjs), and a pure-JS control group (private free
// lists, nothing shared) measured the same way, so a loaded machine shows up
// as a low control ratio rather than as a slow allocator.
import { Worker } from 'node:worker_threads';
import { compare } from './harness.mjs';

const script = new URL('./workers/shared-churn.mjs', import.meta.url);
const LIVE = 1024;

/** The churn's choices, made up front: live-set index | size << 10, sizes 16..1024. */
function opTable() {
  const table = new SharedArrayBuffer(4 << 16);
  const ops = new Uint32Array(table);
  let s = 2463534242;
  for (let i = 0; i < ops.length; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    ops[i] = (s & (LIVE - 1)) | ((16 + ((s >>> 10) % 1009)) << 10);
  }
  return table;
}

function ask(w, ops, control) {
  return new Promise((resolve, reject) => {
    w.once('error', reject);
    w.once('message', (m) => {
      w.off('error', reject);
      resolve(m);
    });
    w.postMessage({ ops, control });
  });
}

/**
 * Two groups: `allocator` (created by make(), shared) churned by 1 worker vs
 * 2 workers doing half each, and the same split on private JsFreeLists.
 * `label` names the allocator in titles and rows.
 */
export async function threadGroups(label, make, { ops = 2_000_000, rounds = 9 } = {}) {
  const shared = make();
  const table = opTable();
  const descriptor = shared.share();
  const workers = [0, 1].map((i) => new Worker(script, {
    workerData: { kind: descriptor.kind, descriptor, table, live: LIVE, offset: i * 9973 },
  }));
  const split = (n, control) => Promise.all([ask(workers[0], n >> 1, control), ask(workers[1], n - (n >> 1), control)]);
  const what = `free one of a live set of ${LIVE}, allocate one`;
  const group = await compare(`Threads: one shared ${label}, the same churn split over 1 or 2 workers (${what})`, [
    { name: `1 worker, shared ${label}`, run: (n) => ask(workers[0], n, false) },
    { name: `2 workers, shared ${label}, half each`, run: (n) => split(n, false) },
  ], {
    ops, rounds, baseline: `1 worker, shared ${label}`,
    note: 'Throughput; ratio = 2 workers over 1 (target >= 1.5x on this 2-core machine). Each worker has its own magazines; ' +
      'frees of a shared allocator are a compare-and-swap on the slot state. Compare with the control group below.',
    target: {
      candidate: `2 workers, shared ${label}, half each`, vs: `1 worker, shared ${label}`, atLeast: 1.5,
      label: `two workers sharing a ${label} at least 1.5x the throughput of one (on 2 shared cores)`,
    },
  });
  const control = await compare(`Threads, control for ${label}: the same split on private pure-JS free lists (nothing shared)`, [
    { name: '1 worker, JsFreeList', peer: true, run: (n) => ask(workers[0], n, true) },
    { name: '2 workers, a JsFreeList each', peer: true, run: (n) => split(n, true) },
  ], {
    ops, rounds, baseline: '1 worker, JsFreeList',
    note: 'What two threads gain on this machine right now: the ceiling for the ratio above (other processes share the 2 cores).',
  });
  for (const w of workers) w.postMessage('close');
  await Promise.all(workers.map((w) => new Promise((r) => w.once('exit', r))));
  shared.destroy();
  return [group, control];
}
