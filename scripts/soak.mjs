// Soak run (not in CI): mixed operations on the three allocators in
// two workers (each its own Arena; one ObjectPool and one SlabAllocator
// shared by both), every allocation tagged and checked before it is freed.
// Prints the process RSS every `sample` operations and fails when RSS after
// warm-up strays more than 5% from its first post-warm-up sample, or when a
// tag was lost.
//   npm run soak -- [totalOps=100000000] [sample=5000000]
// Needs the built package (npm run build:ts).
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const offheap = require('../dist/cjs/index.js');
const WORKERS = 2;
const CHUNK = 100_000; // operations between two counter updates

function rssBytes() {
  return Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096;
}

/** A worker: mixed operations until the shared budget is spent. */
function work({ pool: poolDesc, slab: slabDesc, counters, budget, seed }) {
  const done = new Float64Array(counters, 0, WORKERS + 1); // [ops per worker..., lost tags]
  const me = seed - 1;
  const pool = offheap.ObjectPool.attach(poolDesc);
  const slab = offheap.SlabAllocator.attach(slabDesc);
  const arena = new offheap.Arena({ maxBytes: 1 << 20 });
  const pb = new Uint8Array(pool.buffer);
  const sb = new Uint8Array(slab.buffer);
  const ab = new Uint8Array(arena.buffer);
  let s = seed * 0x9e3779b1 >>> 0 || 1;
  const rand = () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), (s >>>= 0));
  const LIVE = 2048;
  const poolLive = new Int32Array(LIVE).fill(-1);
  const slabLive = new Int32Array(LIVE).fill(-1);
  const slabSize = new Int32Array(LIVE);
  const tag = 0x40 + seed;
  let lost = 0;
  let arenaCount = 0;
  let arenaMarks = [];
  for (let ops = 0; ops < budget; ) {
    for (let i = 0; i < CHUNK; i++) {
      const r = rand();
      const k = r % 3;
      if (k === 0) {
        // ObjectPool: replace a random slot of the live set
        const j = (r >>> 2) % LIVE;
        const old = poolLive[j];
        if (old >= 0) {
          if (pb[old] !== tag || pb[old + pool.slotSize - 1] !== tag) lost++;
          pool.freeHandle(old);
          poolLive[j] = -1;
        } else {
          const h = pool.tryAllocHandle();
          if (h >= 0) {
            pb[h] = tag;
            pb[h + pool.slotSize - 1] = tag;
            poolLive[j] = h;
          }
        }
      } else if (k === 1) {
        // SlabAllocator: mixed sizes, a large run now and then
        const j = (r >>> 2) % LIVE;
        const old = slabLive[j];
        if (old >= 0) {
          const n = slabSize[j];
          if (sb[old] !== tag || sb[old + n - 1] !== tag) lost++;
          slab.freeHandle(old);
          slabLive[j] = -1;
        } else {
          const n = (r >>> 13) % 1000 === 0 ? 20_000 + (r >>> 5) % 40_000 : 1 + (r >>> 13) % 1500;
          const h = slab.allocHandle(n);
          sb[h] = tag;
          sb[h + n - 1] = tag;
          slabLive[j] = h;
          slabSize[j] = n;
        }
      } else {
        // Arena: per-request scratch, a scope now and then, reset every ~80 allocations
        const n = 16 + (r >>> 3) % 497;
        const h = arena.allocHandle(n);
        ab[h] = tag;
        if (++arenaCount % 80 === 0) {
          if (ab[h] !== tag) lost++;
          arena.reset((r >>> 20) % 16 === 0 ? { retainBytes: 64 * 1024 } : undefined);
          arenaMarks = [];
        } else if ((r >>> 24) % 32 === 0) {
          arenaMarks.push(arena.mark());
        } else if ((r >>> 24) % 32 === 1 && arenaMarks.length) {
          arena.rollback(arenaMarks.pop());
        }
      }
    }
    ops += CHUNK;
    done[me] = ops;
    if (lost) done[WORKERS] += lost, (lost = 0);
  }
  for (let j = 0; j < LIVE; j++) {
    if (poolLive[j] >= 0) pool.freeHandle(poolLive[j]);
    if (slabLive[j] >= 0) slab.freeHandle(slabLive[j]);
  }
  arena.destroy();
  pool.destroy();
  slab.destroy();
  parentPort.postMessage('done');
}

async function main() {
  const [total = 100_000_000, sample = 5_000_000] = process.argv.slice(2).map(Number);
  const pool = new offheap.ObjectPool({ slotSize: 64, capacity: 1 << 16 });
  const slab = new offheap.SlabAllocator({ maxBytes: 512 << 20 });
  const counters = new SharedArrayBuffer(8 * (WORKERS + 1));
  const done = new Float64Array(counters);
  const budget = Math.ceil(total / WORKERS / CHUNK) * CHUNK;
  const started = Date.now();
  const workers = [];
  for (let w = 1; w <= WORKERS; w++) {
    workers.push(new Promise((resolve, reject) => {
      const worker = new Worker(fileURLToPath(import.meta.url), {
        workerData: { pool: pool.share(), slab: slab.share(), counters, budget, seed: w },
      });
      worker.on('message', resolve);
      worker.on('error', reject);
      worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exit ${code}`))));
    }));
  }
  const samples = [];
  let next = sample;
  let finished = false;
  const all = Promise.all(workers).then(() => (finished = true));
  const sum = () => done.slice(0, WORKERS).reduce((a, b) => a + b, 0);
  while (!finished) {
    await new Promise((r) => setTimeout(r, 50));
    const ops = sum();
    // Samples only while every worker runs (one that finished frees its memory).
    while (ops >= next && done.slice(0, WORKERS).every((x) => x < budget)) {
      const rss = rssBytes();
      samples.push({ ops: next, rss });
      console.log(`${(next / 1e6).toFixed(1).padStart(6)}M ops  RSS ${(rss / 2 ** 20).toFixed(1)} MiB  ` +
        `(${((Date.now() - started) / 1000).toFixed(1)} s)`);
      next += sample;
    }
  }
  await all;
  const lost = done[WORKERS];
  const warm = samples.filter((x) => x.ops > total * 0.1);
  const base = warm[0]?.rss ?? 0;
  const worst = warm.reduce((m, x) => Math.max(m, Math.abs(x.rss - base) / base), 0);
  const ps = pool.stats();
  const ss = slab.stats();
  pool.destroy();
  slab.destroy();
  console.log(`soak: ${sum()} operations in ${((Date.now() - started) / 1000).toFixed(1)} s, 2 workers, ` +
    `lost tags ${lost}, pool live ${ps.liveCount}, slab live ${ss.liveCount}, ` +
    `RSS after warm-up ${(base / 2 ** 20).toFixed(1)} MiB, largest drift ${(worst * 100).toFixed(2)}% (limit 5%)`);
  if (lost || ps.liveCount || ss.liveCount || worst > 0.05 || warm.length < 2) process.exit(1);
}

if (isMainThread) await main();
else work(workerData);
