// SlabAllocator: mixed-size churn with a live set (handles and Buffer views)
// against Buffer.allocUnsafe and @thi.ng/malloc, debug mode's cost, the RSS
// of a live set against its payload, RSS after freeing and trimming, and
// (when valgrind is there) the native core's instruction counts against
// glibc, jemalloc and mimalloc.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { SlabAllocator } from 'offheap';
import { compare, consume, QUICK } from '../harness.mjs';
import { thingPool } from '../peers.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const MiB = 1024 * 1024;
const LIVE = 1024;

/** The churn's random choices, made up front: slot index | size << 10, sizes 16..1024. */
const OPS = (() => {
  const ops = new Uint32Array(1 << 16);
  let s = 2463534242;
  for (let i = 0; i < ops.length; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    ops[i] = (s & (LIVE - 1)) | ((16 + ((s >>> 10) % 1009)) << 10);
  }
  return ops;
})();

/** Resident set size from /proc (bytes). */
function rss() {
  return Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096;
}

function gc() {
  globalThis.gc?.();
  globalThis.gc?.();
}

/** Handles: each op frees one member of the live set and allocates a new size in its place. */
function handleChurn(name, make, alloc, free, peer = false) {
  let a, live;
  return {
    name,
    peer,
    setup() {
      a = make();
      live = new Int32Array(LIVE);
      for (let i = 0; i < LIVE; i++) live[i] = alloc(a, OPS[i] >>> 10);
    },
    run(n) {
      for (let i = 0; i < n; i++) {
        const o = OPS[i & 0xffff];
        const j = o & (LIVE - 1);
        free(a, live[j]);
        live[j] = alloc(a, o >>> 10);
      }
      consume(live[0]);
    },
    teardown() {
      for (let i = 0; i < LIVE; i++) free(a, live[i]);
      a.destroy?.();
    },
  };
}

/** The same with objects (Buffers / typed-array views) in the live set. */
function viewChurn(name, make, alloc, free, peer = false) {
  let a, live;
  return {
    name,
    peer,
    setup() {
      a = make();
      live = new Array(LIVE);
      for (let i = 0; i < LIVE; i++) live[i] = alloc(a, OPS[i] >>> 10);
    },
    run(n) {
      for (let i = 0; i < n; i++) {
        const o = OPS[i & 0xffff];
        const j = o & (LIVE - 1);
        free(a, live[j]);
        const b = alloc(a, o >>> 10);
        b[0] = i;
        live[j] = b;
      }
      consume(live[0].length);
    },
    teardown() {
      for (let i = 0; i < LIVE; i++) free(a, live[i]);
      a.destroy?.();
    },
  };
}

const slabOptions = { maxBytes: 256 * MiB };
const unsafeHandles = {
  name: 'Buffer.allocUnsafe(size)',
  peer: true,
  setup() {
    this.live = new Array(LIVE);
    for (let i = 0; i < LIVE; i++) this.live[i] = Buffer.allocUnsafe(OPS[i] >>> 10);
  },
  run(n) {
    const live = this.live;
    for (let i = 0; i < n; i++) {
      const o = OPS[i & 0xffff];
      const b = Buffer.allocUnsafe(o >>> 10);
      b[0] = i;
      live[o & (LIVE - 1)] = b;  // the old one becomes garbage: GC frees it
    }
    consume(live[0].length);
  },
};

async function churnGroups() {
  const handles = await compare('Mixed-size churn through handles (16..1024 B, live set of 1024): free one, allocate one', [
    unsafeHandles,
    handleChurn('SlabAllocator allocHandle/freeHandle', () => new SlabAllocator(slabOptions), (a, n) => a.allocHandle(n), (a, h) => a.freeHandle(h)),
    handleChurn('@thi.ng/malloc malloc/free', () => thingPool(256 * MiB), (a, n) => a.malloc(n), (a, h) => a.free(h), true),
    handleChurn('SlabAllocator, debug mode', () => new SlabAllocator({ ...slabOptions, debug: { leaks: 'off' } }), (a, n) => a.allocHandle(n), (a, h) => a.freeHandle(h)),
  ], { ops: 200_000, baseline: 'Buffer.allocUnsafe(size)', note: 'One op = one free + one allocation (Buffer.allocUnsafe: one allocation; the GC frees). Debug mode: the native path, poisoning and red zones on every op.' });
  const views = await compare('Mixed-size churn through Buffer views (16..1024 B, live set of 1024)', [
    unsafeHandles,
    viewChurn('SlabAllocator alloc/free (Buffer)', () => new SlabAllocator(slabOptions), (a, n) => a.alloc(n), (a, b) => a.free(b)),
    viewChurn('@thi.ng/malloc mallocAs/free (Uint8Array)', () => thingPool(256 * MiB), (a, n) => a.mallocAs('u8', n), (a, b) => a.free(b), true),
  ], { ops: 200_000, baseline: 'Buffer.allocUnsafe(size)', note: 'Each op also writes the first byte of the new Buffer.' });
  // Debug Buffers cost microseconds each: a group of its own, with fewer ops.
  const debugViews = await compare('Debug mode next to release: mixed-size churn through Buffer views', [
    viewChurn('SlabAllocator alloc/free (Buffer), release', () => new SlabAllocator(slabOptions), (a, n) => a.alloc(n), (a, b) => a.free(b)),
    viewChurn('SlabAllocator alloc/free (Buffer), debug mode', () => new SlabAllocator({ ...slabOptions, debug: { leaks: 'off' } }), (a, n) => a.alloc(n), (a, b) => a.free(b)),
  ], { ops: 5_000, rounds: 9, baseline: 'SlabAllocator alloc/free (Buffer), release', note: 'Debug mode: the native path, poisoning, red zones and a detachable ArrayBuffer per Buffer.' });
  return [handles, views, debugViews];
}

// A worker that attaches to a shared allocator and runs the handle churn on
// its own live set when asked: { ops } -> 'done'.
const CHURN_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { SlabAllocator } = require(workerData.offheap);
const a = SlabAllocator.attach(workerData.descriptor);
const ops = new Uint32Array(workerData.ops);
const live = new Int32Array(${LIVE});
for (let i = 0; i < live.length; i++) live[i] = a.allocHandle(ops[i] >>> 10);
let at = workerData.offset;
parentPort.on('message', (n) => {
  if (n === 0) { for (const h of live) a.freeHandle(h); a.destroy(); parentPort.close(); return; }
  for (let i = 0; i < n; i++, at++) {
    const o = ops[at & 0xffff];
    const j = o & ${LIVE - 1};
    a.freeHandle(live[j]);
    live[j] = a.allocHandle(o >>> 10);
  }
  parentPort.postMessage('done');
});
`;

/** `workers` threads sharing one allocator, each doing ops / workers of the churn. */
function sharedChurn(workers) {
  let a, pool;
  return {
    name: `${workers} worker${workers > 1 ? 's' : ''}, one shared SlabAllocator`,
    async setup() {
      a = new SlabAllocator(slabOptions);
      const descriptor = a.share();
      const offheap = createRequire(import.meta.url).resolve('offheap');  // the same package, as CommonJS
      pool = Array.from({ length: workers }, (_, i) => new Worker(CHURN_WORKER, {
        eval: true,
        workerData: { descriptor, ops: OPS, offset: i * 9973, offheap },
      }));
    },
    async run(n) {
      await Promise.all(pool.map((w) => new Promise((resolve) => {
        w.once('message', resolve);
        w.postMessage(Math.ceil(n / workers));
      })));
    },
    async teardown() {
      await Promise.all(pool.map((w) => new Promise((resolve) => {
        w.once('exit', resolve);
        w.postMessage(0);
      })));
      a.destroy();
    },
  };
}

async function threadGroup() {
  return compare('Two worker threads sharing one SlabAllocator: the handle churn split over 1 or 2 workers', [
    sharedChurn(1),
    sharedChurn(2),
  ], { ops: 400_000, rounds: 9, baseline: '1 worker, one shared SlabAllocator', note: 'Same total work; each worker has its own magazines and live set of 1024 and frees with a CAS (shared mode). Ratio = throughput of 2 workers over 1 (target >= 1.5x on 2 cores).' });
}

/** RSS of a live set of mixed objects against its payload, and after freeing + trim(). */
function memoryNotes() {
  const count = QUICK ? 10_000 : 100_000;
  gc();
  const start = rss();
  const a = new SlabAllocator({ maxBytes: 1024 * MiB });
  const hs = new Int32Array(count);
  let payload = 0;
  let s = 7;
  for (let i = 0; i < count; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    const size = 16 + (s % 1009);
    hs[i] = a.allocHandle(size);
    new Uint8Array(a.buffer, hs[i], size).fill(1);
    payload += size;
  }
  const held = rss() - start;
  const committed = a.stats().committedBytes;
  for (let i = 0; i < count; i++) a.freeHandle(hs[i]);
  const afterFree = rss() - start;
  a.trim();
  const afterTrim = rss() - start;
  a.destroy();
  const mb = (n) => `${(n / MiB).toFixed(1)} MiB`;
  return [
    `**Live set RSS**: ${count} mixed objects (16..1024 B, ${mb(payload)} of payload, every byte written) cost ${mb(held)} of RSS, ` +
      `${(held / payload).toFixed(3)}x the payload (target <= 1.25x; committed ${(committed / payload).toFixed(3)}x, the rest is the 1-byte-per-16 state table).`,
    `**Freed and trimmed**: after freeing all of them RSS is ${mb(afterFree)} above the start (empty slabs beyond retainEmptySlabs go back at once); ` +
      `after trim() ${mb(afterTrim)} (target: within 8 MiB).`,
  ];
}

/** The native core's instruction counts (valgrind --tool=callgrind), when the tools are there. */
function callgrindGroup() {
  if (QUICK) return null;
  const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
  if (!have('valgrind') || !existsSync('/usr/include/mimalloc.h') || !existsSync('/usr/include/jemalloc/jemalloc.h')) return null;
  const out = execFileSync('make', ['-s', '-C', join(root, 'native/bench'), 'slab-callgrind'], { encoding: 'utf8' });
  const counts = Object.fromEntries([...out.matchAll(/^([\w-]+): (\d+) instructions/gm)].map((m) => [m[1], Number(m[2])]));
  const names = { none: 'the loop alone', glibc: 'glibc malloc/free', jemalloc: 'jemalloc', mimalloc: 'mimalloc', slab: 'slab core (LocalSlabCache)', 'slab-shared': 'slab core (SlabCache, atomic)' };
  const rows = Object.entries(names)
    .filter(([k]) => counts[k] !== undefined)
    .map(([k, name]) => ({ name, peer: !k.startsWith('slab'), median: counts[k], p25: counts[k], p75: counts[k], spread: 0 }));
  for (const r of rows) r.ratio = counts.mimalloc / r.median;
  return {
    title: 'Native core: mixed-size churn, callgrind instructions per iteration (free + malloc 16..1024 B, live set 1024)',
    unit: 'instructions',
    ops: 200_000,
    rounds: 1,
    baseline: 'mimalloc',
    note: '`make -C native/bench slab-callgrind`: (instructions at 2N - at N) / N iterations, so set-up cancels out; exact, not timed. The slab core keeps its release guards (double free, interior and foreign offsets) on this path.',
    rows,
  };
}

export default async function slab() {
  const groups = await churnGroups();
  groups.push(await threadGroup());
  const native = callgrindGroup();
  if (native) groups.push(native);
  return { groups, notes: memoryNotes() };
}
