// worker_threads sharing one native allocator, ObjectPool and SlabAllocator
// through one driver: churn with owner tags in every slot and hand-overs
// between threads (no slot ever has two owners, live back to zero), a worker
// terminated mid-way (its live slots stay live, its magazines come back),
// exits without destroy(), double frees and racing frees across threads, the
// memory outliving its creator, and an Arena refused at a worker's door.
//
// Size: OPS operations per worker for 2, 4 and 8 workers (1M by default;
// OFFHEAP_STRESS_OPS=N changes it, e.g. a quick 100000 or a long 10000000).
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { Arena } from '../lib/arena';
import { ObjectPool } from '../lib/object-pool';
import { SlabAllocator } from '../lib/slab';
import { native } from '../lib/native';
import { OffheapError } from '../lib/errors';
import { collect, expectCode } from './helpers';
import { workerLib } from './worker-lib';

const OPS = Number(process.env.OFFHEAP_STRESS_OPS ?? 1_000_000);
const RING = 256; // hand-over slots between threads
const MiB = 1024 * 1024;

type Shared = ObjectPool | SlabAllocator;
type Kind = 'ObjectPool' | 'SlabAllocator';

/** What the driver needs to know about each allocator. */
const KINDS: Record<Kind, { make(name: string): Shared; attach(d: unknown): Shared; alloc(a: Shared): number; cached(a: Shared): number }> = {
  ObjectPool: {
    make: (name) => new ObjectPool({ slotSize: 16, capacity: 1 << 14, name }),
    attach: (d) => ObjectPool.attach(d as ReturnType<ObjectPool['share']>),
    alloc: (a) => (a as ObjectPool).allocHandle(),
    cached: (a) => (a as ObjectPool).stats().cachedSlots,
  },
  SlabAllocator: {
    make: (name) => new SlabAllocator({ maxBytes: 256 * MiB, name }),
    attach: (d) => SlabAllocator.attach(d as ReturnType<SlabAllocator['share']>),
    alloc: (a) => (a as SlabAllocator).allocHandle(64),
    cached: (a) => (a as SlabAllocator).stats().classes.reduce((n, c) => n + c.cached, 0),
  },
};

// The worker: attaches, then allocates (fixed 16-byte slots for a pool, 16
// to 1024 bytes for a slab) and frees at random, tagging each slot with
// (owner, seq) at its start and owner at its end, and checking its own tags
// before every free and every 4096 operations. A quarter of the frees hand
// the slot over through a shared ring (tagged TRANSIT): whoever takes it out
// frees it, so slots are freed by other threads than their allocator's. At
// the end it frees half of what it holds and posts the other half for the
// main thread to check and free. At `pauseAt` it posts what it holds and
// waits to be terminated.
const WORKER = `
const { workerData: w, parentPort } = require('node:worker_threads');
const lib = require(w.lib + '/index.js');
const a = lib[w.kind].attach(w.descriptor);
const pool = w.kind === 'ObjectPool';
const dv = new DataView(a.buffer);
const ring = new Int32Array(w.ring);
const MAX = 512, TRANSIT = -1;
const held = new Int32Array(MAX), sizes = new Int32Array(MAX), seqs = new Int32Array(MAX);
let n = 0, seq = 0, clashes = 0, handedOver = 0, received = 0, failed = 0;
let s = w.seed >>> 0 || 1;
const next = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; return (s >>>= 0); };
const tag = (h, size, owner, q) => { dv.setInt32(h, owner, true); dv.setInt32(h + 4, q, true); dv.setInt32(h + size - 4, owner, true); };
const owned = (k) => { const h = held[k], z = sizes[k]; return dv.getInt32(h, true) === w.id && dv.getInt32(h + 4, true) === seqs[k] && dv.getInt32(h + z - 4, true) === w.id; };
parentPort.postMessage({ attached: true });
for (let i = 0; i < w.ops; i++) {
  if (i === w.pauseAt) {
    parentPort.postMessage({ paused: true, held: Array.from(held.subarray(0, n)) });
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);  // until terminated
  }
  const r = next();
  if (n < 64 || (n < MAX && (r & 1))) {
    const size = pool ? 16 : 16 + (r >>> 8) % 1009;
    const h = pool ? a.tryAllocHandle() : a.allocHandle(size);
    if (h < 0) { failed++; continue; }
    tag(h, size, w.id, ++seq);
    held[n] = h; sizes[n] = size; seqs[n] = seq; n++;
  } else {
    const k = (r >>> 6) % n;
    if (!owned(k)) clashes++;
    const h = held[k], size = sizes[k];
    n--; held[k] = held[n]; sizes[k] = sizes[n]; seqs[k] = seqs[n];
    if (((r >>> 3) & 3) === 0) {
      tag(h, size, TRANSIT, 0);
      const prev = Atomics.exchange(ring, (r >>> 20) % ring.length, h);
      handedOver++;
      if (prev !== -1) { if (dv.getInt32(prev, true) !== TRANSIT) clashes++; a.freeHandle(prev); received++; }
    } else a.freeHandle(h);
  }
  if ((i & 4095) === 0) for (let k = 0; k < n; k++) if (!owned(k)) clashes++;
}
for (let k = 0; k < n; k++) if (!owned(k)) clashes++;
const theirs = Array.from(held.subarray(n >> 1, n));
for (let k = 0; k < n >> 1; k++) a.freeHandle(held[k]);
if (w.destroy) a.destroy();  // the others leave it to the thread's exit
parentPort.postMessage({ done: true, clashes, handedOver, received, failed, theirs });
`;

interface Message {
  attached?: boolean;
  paused?: boolean;
  done?: boolean;
  held?: number[];
  clashes: number;
  handedOver: number;
  received: number;
  failed: number;
  theirs: number[];
}

interface Run {
  worker: Worker;
  exited: Promise<number>;
  attached: Promise<void>;
  paused: Promise<Message>;
  done: Promise<Message>;
}

function start(kind: Kind, a: Shared, ring: Int32Array, id: number, opts: { ops: number; pauseAt?: number; destroy?: boolean }): Run {
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: {
      lib: workerLib(), kind, descriptor: a.share(), ring: ring.buffer, id, seed: id * 7919,
      ops: opts.ops, pauseAt: opts.pauseAt ?? -1, destroy: opts.destroy ?? false,
    },
  });
  // An error in the worker, or an exit before the awaited message, fails
  // the awaiting test at once instead of at its timeout.
  const failed = new Promise<never>((_, reject) => {
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`worker ${id} exited (${code}) before answering`)));
  });
  failed.catch(() => {});  // handled by whoever races it
  const on = (what: keyof Message) => {
    const p = Promise.race([new Promise<Message>((resolve) => worker.on('message', (m: Message) => m[what] && resolve(m))), failed]);
    p.catch(() => {});  // a message never awaited (paused) must not be an unhandled rejection
    return p;
  };
  const exited = new Promise<number>((resolve) => worker.on('exit', resolve));  // errors reject `failed`
  return { worker, exited, attached: on('attached').then(() => {}), paused: on('paused'), done: on('done') };
}

function newRing(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * RING)).fill(-1);
}

/** Frees what is left in the ring from this thread (each a slot in transit). */
function drainRing(a: Shared, ring: Int32Array): void {
  const view = new DataView(a.buffer);
  for (let i = 0; i < ring.length; i++) {
    const h = Atomics.exchange(ring, i, -1);
    if (h === -1) continue;
    expect(view.getInt32(h, true)).toBe(-1);
    a.freeHandle(h);
  }
}

/** Checks that each worker's posted slots still carry its tag, and frees them here. */
function freeTheirs(a: Shared, owners: Array<{ id: number; handles: number[] }>): void {
  const view = new DataView(a.buffer);
  for (const { id, handles } of owners) {
    for (const h of handles) {
      expect(view.getInt32(h, true)).toBe(id);
      a.freeHandle(h);  // freed by another thread than the one that allocated it
    }
  }
}

for (const kind of ['ObjectPool', 'SlabAllocator'] as const) {
  const K = KINDS[kind];

  describe(`${kind} across worker_threads`, () => {
    for (const workers of [2, 4, 8]) {
      // No slot is ever seen by two owners; everything freed anywhere comes back.
      it(`${workers} workers churn ${OPS} operations each: no slot has two owners, live back to 0`, async () => {
        const a = K.make(`churn${workers}`);
        const ring = newRing();
        const runs = Array.from({ length: workers }, (_, k) => start(kind, a, ring, k + 1, { ops: OPS, destroy: k % 2 === 0 }));
        const results = await Promise.all(runs.map((r) => r.done));
        expect(await Promise.all(runs.map((r) => r.exited))).toEqual(runs.map(() => 0));
        expect(results.map((r) => r.clashes)).toEqual(runs.map(() => 0));
        expect(results.map((r) => r.failed)).toEqual(runs.map(() => 0));
        expect(results.reduce((n, r) => n + r.handedOver, 0)).toBeGreaterThan(workers * OPS / 20);
        expect(results.reduce((n, r) => n + r.received, 0)).toBeGreaterThan(0);
        expect(K.cached(a)).toBe(0);  // every worker's magazines came back (destroy or exit)
        drainRing(a, ring);
        freeTheirs(a, results.map((r, k) => ({ id: k + 1, handles: r.theirs })));
        const s = a.stats();
        expect(s.liveCount).toBe(0);
        expect(s.allocCount).toBe(s.freeCount);
        expect(s.allocCount).toBeGreaterThan(workers * OPS / 3);
        a.verify();
        a.destroy();
      });
    }

    // A worker terminated mid-way: its magazines come back (environment
    // cleanup hook), the slots it held stay live with its tag, show in
    // stats(), and another thread can free them.
    it(`4 workers x ${OPS} operations, one terminated mid-way: its magazines come back, its live slots stay live`, async () => {
      const a = K.make('terminated');
      const ring = newRing();
      const runs = [1, 2, 3, 4].map((id) => start(kind, a, ring, id, { ops: OPS, pauseAt: id === 3 ? OPS >> 1 : -1 }));
      const victim = await runs[2].paused;
      const others = await Promise.all(runs.filter((_, k) => k !== 2).map((r) => r.done));
      await Promise.all(runs.filter((_, k) => k !== 2).map((r) => r.exited));
      expect(K.cached(a)).toBeGreaterThan(0);  // the victim's magazines, still out
      await runs[2].worker.terminate();
      expect(K.cached(a)).toBe(0);
      expect(others.map((r) => r.clashes)).toEqual([0, 0, 0]);
      drainRing(a, ring);
      freeTheirs(a, others.map((r, k) => ({ id: [1, 2, 4][k], handles: r.theirs })));
      const dead = victim.held!;
      expect(dead.length).toBeGreaterThan(0);
      expect(a.stats().liveCount).toBe(dead.length);
      // A pool's leaks() lists every live slot (a slab's only this thread's debug-mode ones).
      if (kind === 'ObjectPool') expect(a.leaks().map((l) => l.offset).sort((x, y) => x - y)).toEqual([...dead].sort((x, y) => x - y));
      a.verify();
      freeTheirs(a, [{ id: 3, handles: dead }]);
      expect(a.stats().liveCount).toBe(0);
      expectCode(() => a.freeHandle(dead[0]), 'ERR_OFFHEAP_DOUBLE_FREE', OffheapError);
      a.verify();
      a.destroy();
    });

    // A worker that exits without destroy(): its environment cleanup gives the
    // magazines back; the slots it left live are still live.
    it('takes back the magazines of a worker that exits without destroy()', async () => {
      const a = K.make('exits');
      const ring = newRing();
      const run = start(kind, a, ring, 9, { ops: 5000, destroy: false });
      const r = await run.done;
      expect(await run.exited).toBe(0);
      expect(r.theirs.length).toBeGreaterThan(0);
      expect(K.cached(a)).toBe(0);
      expect(a.stats().liveCount).toBe(r.theirs.length + ring.filter((h) => h !== -1).length);
      drainRing(a, ring);
      freeTheirs(a, [{ id: 9, handles: r.theirs }]);
      expect(a.stats().liveCount).toBe(0);
      a.verify();
      a.destroy();
    });

    // A handle freed in another thread is free everywhere: a second free from
    // either thread is a double free.
    it('detects a double free across threads', async () => {
      const a = K.make('double');
      const h = K.alloc(a);
      const worker = new Worker(`
        const { workerData: w, parentPort } = require('node:worker_threads');
        const a = require(w.lib + '/index.js')[w.kind].attach(w.descriptor);
        a.freeHandle(w.h);
        let code;
        try { a.freeHandle(w.h); } catch (e) { code = e.code; }
        a.destroy();
        parentPort.postMessage(code);`, { eval: true, workerData: { lib: workerLib(), kind, descriptor: a.share(), h } });
      const code = await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
      expect(code).toBe('ERR_OFFHEAP_DOUBLE_FREE');
      expectCode(() => a.freeHandle(h), 'ERR_OFFHEAP_DOUBLE_FREE', OffheapError);
      expect(a.stats().liveCount).toBe(0);
      a.destroy();
    });

    // Two threads free the same 10000 handles at the same moment: the state
    // byte's compare-and-swap lets exactly one free of each succeed.
    it('lets exactly one of two racing frees of a handle win', async () => {
      const a = K.make('racing');
      const handles = Array.from({ length: 10_000 }, () => K.alloc(a));
      const go = new Int32Array(new SharedArrayBuffer(4));
      const code = `
        const { workerData: w, parentPort } = require('node:worker_threads');
        Error.stackTraceLimit = 0;  // a refused free costs about what a free costs
        const a = require(w.lib + '/index.js')[w.kind].attach(w.descriptor);
        const go = new Int32Array(w.go);
        Atomics.add(go, 0, 1);
        while (Atomics.load(go, 0) < 2) {}  // start together
        let freed = 0, doubles = 0, other = 0;
        for (const h of w.handles) {
          try { a.freeHandle(h); freed++; } catch (e) { e.code === 'ERR_OFFHEAP_DOUBLE_FREE' ? doubles++ : other++; }
        }
        a.destroy();
        parentPort.postMessage({ freed, doubles, other });`;
      const rs = await Promise.all([0, 1].map(() => new Promise<{ freed: number; doubles: number; other: number }>((resolve, reject) => {
        const worker = new Worker(code, { eval: true, workerData: { lib: workerLib(), kind, descriptor: a.share(), handles, go: go.buffer } });
        worker.once('message', resolve).once('error', reject);
      })));
      expect(rs[0].other + rs[1].other).toBe(0);
      expect(rs[0].freed + rs[1].freed).toBe(handles.length);
      expect(rs[0].doubles + rs[1].doubles).toBe(handles.length);
      expect(a.stats().liveCount).toBe(0);
      a.verify();
      expect(new Set(Array.from({ length: 10_000 }, () => K.alloc(a))).size).toBe(10_000);
      a.destroy();
    });

    // The memory outlives the thread that created it while others are attached.
    it('keeps the memory mapped until the last attachment is gone', async () => {
      await collect();
      const base = native.liveReservations();
      const a = K.make('outlived');
      const descriptor = a.share();
      const run = start(kind, a, newRing(), 5, { ops: 20_000, pauseAt: 10_000 });
      await run.attached;
      a.destroy();  // the creator goes first
      K.attach(descriptor).destroy();  // still there: the worker holds it
      await run.paused;
      await run.worker.terminate();  // the last attachment
      expectCode(() => K.attach(descriptor), 'ERR_OFFHEAP_DESTROYED', OffheapError);
      for (let i = 0; i < 20 && native.liveReservations() > base; i++) await collect();
      expect(native.liveReservations()).toBeLessThanOrEqual(base);
    });
  });
}

describe('one descriptor, one kind', () => {
  // The share registry serves every allocator kind: a descriptor of one kind
  // never opens an allocator of another, even under a forged kind.
  it('refuses a descriptor of the other kind', () => {
    const pool = new ObjectPool({ slotSize: 16, capacity: 64 });
    const slab = new SlabAllocator({ maxBytes: 16 * MiB });
    const pd = pool.share();
    const sd = slab.share();
    expect(() => SlabAllocator.attach(pd as never)).toThrow();
    expect(() => ObjectPool.attach(sd as never)).toThrow();
    expectCode(() => SlabAllocator.attach({ ...sd, id: pd.id }), 'ERR_OFFHEAP_DESTROYED', OffheapError);
    pool.destroy();
    slab.destroy();
  });
});

describe('Arena across worker_threads', () => {
  // An Arena is one thread's: posting it to a worker, or passing it as
  // workerData, throws instead of copying the handle or the memory.
  it('refuses postMessage and workerData to a worker with ERR_OFFHEAP_NOT_SHAREABLE', async () => {
    const arena = new Arena({ maxBytes: 1 << 20, name: "mine" });
    const worker = new Worker(`require('node:worker_threads').parentPort.once('message', () => process.exit(0));`, { eval: true });
    expectCode(() => worker.postMessage({ arena }), 'ERR_OFFHEAP_NOT_SHAREABLE', OffheapError);
    expectCode(() => new Worker('0', { eval: true, workerData: { arena } }), 'ERR_OFFHEAP_NOT_SHAREABLE', OffheapError);
    worker.postMessage('bye');
    expect(await new Promise((resolve) => worker.once('exit', resolve))).toBe(0);
    arena.destroy();
  });
});
