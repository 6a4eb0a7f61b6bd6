// The thread groups of the pool and slab suites, one helper for both: one
// shared allocator, the same total churn split over 1 or 2 worker threads
// (bench/workers/shared-churn.mjs), and a pure-JS control group (private free
// lists, nothing shared) measured the same way, so a loaded machine shows up
// as a low control ratio rather than as a slow allocator.
import { Worker } from 'node:worker_threads';
import { QUICK, done, makeGroup, medianOf, progress } from './harness.mjs';

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
 * Two groups from one measurement: `allocator` (created by make(), shared)
 * churned by 1 worker vs 2 workers doing half each, and the same split on
 * private JsFreeLists. The four are measured in the same rounds (the order
 * rotating), with an untimed pause between rounds, so that the control sees
 * the machine the allocator saw and a burst of other load on the 2 shared
 * cores falls in a few rounds rather than in every round of one group.
 * `label` names the allocator in titles and rows.
 */
export async function threadGroups(label, make, { ops = 2_000_000, rounds = 15, warmup = 3, pauseMs = 250 } = {}) {
  const shared = make();
  const table = opTable();
  const descriptor = shared.share();
  const workers = [0, 1].map((i) => new Worker(script, {
    workerData: { kind: descriptor.kind, descriptor, table, live: LIVE, offset: i * 9973 },
  }));
  const split = (n, control) => Promise.all([ask(workers[0], n >> 1, control), ask(workers[1], n - (n >> 1), control)]);
  const what = `free one of a live set of ${LIVE}, allocate one`;
  const one = `1 worker, shared ${label}`;
  const two = `2 workers, shared ${label}, half each`;
  const candidates = [
    { name: one, run: (n) => ask(workers[0], n, false) },
    { name: two, run: (n) => split(n, false) },
    { name: '1 worker, JsFreeList', peer: true, run: (n) => ask(workers[0], n, true) },
    { name: '2 workers, a JsFreeList each', peer: true, run: (n) => split(n, true) },
  ];
  const n = QUICK ? Math.max(1, Math.floor(ops / 100)) : ops;
  const total = QUICK ? 3 : rounds;
  const started = Date.now();
  const samples = candidates.map(() => []);
  for (let r = 0; r < (QUICK ? 1 : warmup) + total; r++) {
    for (let k = 0; k < candidates.length; k++) {
      const i = (k + r) % candidates.length;
      const t0 = process.hrtime.bigint();
      await candidates[i].run(n);
      if (r >= (QUICK ? 1 : warmup)) samples[i].push(Number(process.hrtime.bigint() - t0) / n);
    }
    progress(`Threads (${label}): round ${r + 1}`);
    if (!QUICK && pauseMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      await split(n >> 2, true); // untimed: both cores busy again before the next timed run
    }
  }
  for (const w of workers) w.postMessage('close');
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('exit', resolve))));
  shared.destroy();
  const entries = candidates.map((c, i) => ({ name: c.name, peer: c.peer, samples: samples[i] }));
  const ceiling = medianOf(samples[2]) / medianOf(samples[3]);
  const rest = `${total} rounds of ${n} ops, the four candidates of both groups interleaved, ${pauseMs} ms apart`;
  const group = makeGroup(`Threads: one shared ${label}, the same churn split over 1 or 2 workers (${what})`, entries.slice(0, 2), {
    ops: n, rounds: total, baseline: one,
    note: 'Throughput; ratio = 2 workers over 1 (target >= 1.5x on this 2-core machine). Each worker has its own magazines; ' +
      `frees of a shared allocator are a compare-and-swap on the slot state. Measured in the same rounds as the control group below (${rest}).`,
    target: {
      candidate: two, vs: one, atLeast: 1.5,
      label: `two workers sharing a ${label} at least 1.5x the throughput of one (on 2 shared cores)`,
      why: `in the same rounds, two private pure-JS free lists measured ${ceiling.toFixed(2)}x one: what the machine gave a second thread`,
    },
  });
  const control = makeGroup(`Threads, control for ${label}: the same split on private pure-JS free lists (nothing shared)`, entries.slice(2), {
    ops: n, rounds: total, baseline: '1 worker, JsFreeList',
    note: 'What two threads gain on this machine right now, in the same rounds as the group above: the ceiling for its ratio (other processes share the 2 cores).',
  });
  done(`Threads (${label}) (${total} rounds x ${n} ops, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return [group, control];
}
