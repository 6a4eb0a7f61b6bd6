// Workers killed in the middle of native calls, run in a child process by
// test/lifecycle.test.ts. Each worker loops over every method of every
// allocator kind that crosses into native code (constructors, attach(),
// stats(), toPrometheus(), large slab allocations, reset, trim, destroy ...)
// while the main thread terminates it after a few milliseconds, or the worker
// calls process.exit() itself, or the main thread calls process.exit() while
// they churn (main-exit: the process must end with code 0, and the line
// printed just before exiting shows the sentinels intact). The main thread's
// own allocations (sentinels) must keep their bytes.
// Prints one JSON line: { rounds, workers, exited, foreign }.
//   node terminate.cjs <terminate|construct|worker-exit|main-exit> <rounds> <workersPerRound> [debug:0|1]
// construct: as terminate, but the workers only create and destroy allocators.
'use strict';
const { Worker, isMainThread, workerData, parentPort } = require('node:worker_threads');
const offheap = require('../../dist/cjs/index.js');
const { Arena, ObjectPool, SlabAllocator, toPrometheus, stats } = offheap;

if (isMainThread) {
  const [mode = 'terminate', rounds = 4, perRound = 8, debug = 0] = process.argv.slice(2).map((x, i) => (i === 0 ? x : Number(x)));
  const dbg = debug === 1 ? true : undefined;
  const pool = new ObjectPool({ slotSize: 64, capacity: 4096, debug: dbg });
  const slab = new SlabAllocator({ maxBytes: 64 << 20, debug: dbg });
  const poolD = pool.share();
  const slabD = slab.share();
  // Sentinels: live allocations of this thread that no worker may change.
  const sentinels = [];
  for (let i = 0; i < 64; i++) sentinels.push({ b: pool.alloc().fill(i), v: i });
  for (let i = 0; i < 64; i++) sentinels.push({ b: slab.alloc(16 + i * 40).fill(i + 64), v: i + 64 });
  let workers = 0;
  let exited = 0;
  const runRound = (round) => new Promise((resolve) => {
    let left = perRound;
    for (let k = 0; k < perRound; k++) {
      const w = new Worker(__filename, { workerData: { poolD, slabD, mode, seed: round * 1000 + k, debug } });
      workers++;
      const done = () => { if (--left === 0) resolve(); };
      w.on('error', (e) => { console.error('worker error', e); process.exitCode = 2; });
      w.on('exit', () => { exited++; done(); });
      if (mode === 'terminate' || mode === 'construct') {
        w.once('message', () => setTimeout(() => w.terminate(), (k % 5) * 2 + 1));
      }
    }
  });
  const foreignBytes = () => {
    let foreign = 0;
    for (const { b, v } of sentinels) for (const x of b) if (x !== v) foreign++;
    return foreign;
  };
  if (mode === 'main-exit') {
    // Workers churn until the main thread exits the process under them.
    for (let k = 0; k < perRound; k++) {
      const w = new Worker(__filename, { workerData: { poolD, slabD, mode, seed: k, debug } });
      workers++;
      w.on('error', (e) => { console.error('worker error', e); process.exitCode = 2; });
      if (k === perRound - 1) {
        w.once('message', () => setTimeout(() => {
          console.log(JSON.stringify({ rounds: 1, workers, exited, foreign: foreignBytes() }));
          process.exit(0);
        }, 20));
      }
    }
    return;
  }
  (async () => {
    for (let r = 0; r < rounds; r++) {
      await runRound(r);
      // The main thread keeps using both allocators between rounds.
      for (let i = 0; i < 100; i++) pool.free(pool.alloc());
      slab.free(slab.alloc(100_000));
      stats();
      toPrometheus();
    }
    console.log(JSON.stringify({ rounds, workers, exited, foreign: foreignBytes() }));
  })();
} else {
  const { poolD, slabD, mode, seed, debug } = workerData;
  const dbg = debug === 1 ? true : undefined;
  parentPort.postMessage('started');
  if (mode === 'construct') {
    // Only constructors, release and debug in turn: the termination lands inside
    // native creation code (reading its arguments, mapping, wrapping) most often.
    for (let i = seed; ; i++) {
      const d = (i & 1) === 0;
      new SlabAllocator({ maxBytes: 1 << 20, debug: d }).destroy();
      new ObjectPool({ slotSize: 64, capacity: 64, growable: (i & 2) === 0, debug: d }).destroy();
      const a = new Arena({ maxBytes: 1 << 20, debug: d });
      a.allocZeroed(64);
      a.destroy();
    }
  }
  let n = seed;
  const deadline = Date.now() + (mode === 'worker-exit' ? 5 + (seed % 7) * 3 : 60_000);
  // eslint-disable-next-line no-constant-condition
  for (;;) {
    n++;
    const pool = ObjectPool.attach(poolD);
    const slab = SlabAllocator.attach(slabD);
    const own = new ObjectPool({ slotSize: 32 + (n % 4) * 8, capacity: 256, debug: dbg });
    const arena = new Arena({ maxBytes: 4 << 20, debug: dbg });
    const mine = new SlabAllocator({ maxBytes: 8 << 20, debug: dbg });
    for (let i = 0; i < 20; i++) {
      const h = pool.allocHandle();
      pool.view(h).fill(0xee);
      pool.stats();
      pool.freeHandle(h);
      const b = slab.alloc(64 + (i % 8) * 300);
      b.fill(0xee);
      slab.free(b);
      const big = slab.alloc(300_000 + i); // a large slab allocation: its own pages
      slab.free(big);
      slab.stats();
      own.free(own.alloc());
      own.stats();
      const m = arena.mark();
      arena.alloc(1000 + i);
      arena.allocZeroed(64);
      arena.rollback(m);
      arena.alloc(1000 + i);
      arena.stats();
      const sh = slab.allocHandle(48);
      slab.usableSize(sh);
      slab.view(sh).fill(1);
      slab.freeHandle(sh);
      mine.free(mine.alloc(200 + i));
      mine.trim();
      toPrometheus();
      stats();
    }
    slab.verify();
    arena.verify();
    if (dbg) { arena.leaks(); mine.leaks(); own.leaks(); }
    arena.reset({ retainBytes: 1 << 16 });
    arena.destroy();
    own.destroy();
    mine.destroy();
    pool.destroy();
    slab.destroy();
    if (mode === 'worker-exit' && Date.now() > deadline) process.exit(0);
    if (Date.now() > deadline + 5000) break; // never reached under terminate
  }
}
