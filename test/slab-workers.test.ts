// SlabAllocator across real worker_threads: one allocator, magazines per
// thread, cross-thread frees, owner tags proving no slot has two owners,
// live back to zero, and a worker terminated mid-way whose magazines come
// back while its live objects stay live.
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { SlabAllocator } from '../lib/slab';
import { native } from '../lib/native';
import { OffheapError } from '../lib/errors';
import { collect, expectCode } from './helpers';
import { workerLib } from './worker-lib';

const MiB = 1024 * 1024;
const RING = 256;  // hand-over slots between threads

// The worker: churns mixed sizes, tags each object with (owner, seq) at both
// ends, checks its own tags before every free and every 4096 ops, hands some
// objects to other threads through the ring (they free them), and at
// `pauseAt` publishes its live handles and waits to be terminated.
const WORKER = `
const { workerData: w, parentPort } = require('node:worker_threads');
const { SlabAllocator } = require(w.lib + '/index.js');
const a = SlabAllocator.attach(w.descriptor);
parentPort.postMessage({ attached: true });
const ring = new Int32Array(w.ring);
const published = new Int32Array(w.published);
let s = w.seed >>> 0 || 1;
const next = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; return (s >>>= 0); };
const dv = () => new DataView(a.buffer);
const live = [];  // [handle, size, seq]
let seq = 0, mismatches = 0, handedOver = 0, received = 0;
const TRANSIT = -1;
function tag(h, size, owner, q) { const d = dv(); d.setInt32(h, owner, true); d.setInt32(h + 4, q, true); d.setInt32(h + size - 4, owner, true); }
function owned(h, size, q) { const d = dv(); return d.getInt32(h, true) === w.id && d.getInt32(h + 4, true) === q && d.getInt32(h + size - 4, true) === w.id; }
for (let i = 0; i < w.ops; i++) {
  if (i === w.pauseAt) {
    published[0] = live.length;
    for (let j = 0; j < live.length; j++) published[1 + j] = live[j][0];
    parentPort.postMessage({ paused: true });
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);  // until terminated
  }
  const r = next();
  if (live.length < 64 || (live.length < 512 && r % 2)) {
    const size = 16 + (r >>> 8) % 1009;
    const h = a.allocHandle(size);
    tag(h, size, w.id, ++seq);
    live.push([h, size, seq]);
  } else {
    const j = r % live.length;
    const [h, size, q] = live[j];
    live[j] = live[live.length - 1];
    live.pop();
    if (!owned(h, size, q)) mismatches++;
    if (r % 4 === 0) {
      tag(h, size, TRANSIT, 0);  // hand it over: someone else frees it
      const prev = Atomics.exchange(ring, (r >>> 3) % ring.length, h);
      handedOver++;
      if (prev !== -1) { a.freeHandle(prev); received++; }
    } else a.freeHandle(h);
  }
  if (i % 4096 === 0) for (const [h, size, q] of live) if (!owned(h, size, q)) mismatches++;
}
for (const [h, size, q] of live) { if (!owned(h, size, q)) mismatches++; a.freeHandle(h); }
let doubleFree = 0, freedHere = -1;
if (w.id === 1) {  // a second free is caught here, and (freedHere) in the main thread
  const h = a.allocHandle(64); a.freeHandle(h);
  try { a.freeHandle(h); } catch (e) { if (e.code === 'ERR_OFFHEAP_DOUBLE_FREE') doubleFree = 1; }
  freedHere = h;
}
if (w.destroy) a.destroy();
parentPort.postMessage({ done: true, mismatches, handedOver, received, doubleFree, freedHere });
`;

interface Result {
  done?: boolean;
  paused?: boolean;
  attached?: boolean;
  mismatches: number;
  handedOver: number;
  received: number;
  doubleFree: number;
  freedHere: number;
}

function start(a: SlabAllocator, id: number, ring: SharedArrayBuffer, opts: { ops: number; pauseAt?: number; destroy?: boolean }) {
  const published = new SharedArrayBuffer(4 * 1024);
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: {
      lib: workerLib(), descriptor: a.share(), ring, published, id, seed: id * 7919,
      ops: opts.ops, pauseAt: opts.pauseAt ?? -1, destroy: opts.destroy ?? false,
    },
  });
  const messages: Result[] = [];
  const exited = new Promise<number>((resolve, reject) => {
    worker.on('message', (m: Result) => messages.push(m));
    worker.on('error', reject);
    worker.on('exit', resolve);
  });
  const paused = new Promise<void>((resolve) => worker.on('message', (m: Result) => m.paused && resolve()));
  const attached = new Promise<void>((resolve) => worker.on('message', (m: Result) => m.attached && resolve()));
  return { worker, exited, paused, attached, messages, published: new Int32Array(published) };
}

/** Frees whatever is left in the ring from this thread. */
function drainRing(a: SlabAllocator, ring: Int32Array): number {
  let n = 0;
  for (let i = 0; i < ring.length; i++) {
    const h = Atomics.exchange(ring, i, -1);
    if (h !== -1) {
      a.freeHandle(h);
      n++;
    }
  }
  return n;
}

describe('SlabAllocator across worker_threads', () => {
  for (const workers of [2, 4]) {
    // No slot is ever seen by two owners; everything freed anywhere comes back.
    it(`${workers} workers churn one allocator with cross-thread frees: no double ownership, live back to 0`, async () => {
      const a = new SlabAllocator({ maxBytes: 512 * MiB, name: `shared-${workers}` });
      const ringBuf = new SharedArrayBuffer(4 * RING);
      const ring = new Int32Array(ringBuf).fill(-1);
      const runs = Array.from({ length: workers }, (_, i) => start(a, i + 1, ringBuf, { ops: 1_000_000, destroy: i % 2 === 0 }));
      const codes = await Promise.all(runs.map((r) => r.exited));
      expect(codes).toEqual(runs.map(() => 0));
      const results = runs.map((r) => r.messages.find((m) => m.done)!);
      expect(results.map((r) => r.mismatches)).toEqual(runs.map(() => 0));
      expect(results.reduce((n, r) => n + r.handedOver, 0)).toBeGreaterThan(1000);
      expect(results.reduce((n, r) => n + r.received, 0)).toBeGreaterThan(1000);
      expect(results[0].doubleFree).toBe(1);
      // Freed by worker 1, freed again here: caught across threads.
      expectCode(() => a.freeHandle(results[0].freedHere), 'ERR_OFFHEAP_DOUBLE_FREE', OffheapError);
      drainRing(a, ring);
      const s = a.stats();
      expect(s.liveCount).toBe(0);
      expect(s.allocCount).toBe(s.freeCount);
      expect(s.allocCount).toBeGreaterThan(workers * 500_000);
      expect(s.classes.reduce((n, r) => n + r.cached, 0)).toBeLessThan(64 * a.sizeClasses.length);  // main's own only
      a.verify();
      a.destroy();
    });
  }

  // A terminated worker's magazines go back (env cleanup hook); its live
  // objects stay live until another thread frees them.
  it('takes back the magazines of a worker terminated mid-way; its live objects stay live', async () => {
    const a = new SlabAllocator({ maxBytes: 256 * MiB, name: 'terminated' });
    const ringBuf = new SharedArrayBuffer(4 * RING);
    const ring = new Int32Array(ringBuf).fill(-1);
    const victim = start(a, 1, ringBuf, { ops: 200_000, pauseAt: 50_000 });
    const other = start(a, 2, ringBuf, { ops: 100_000 });
    await victim.paused;
    const before = a.stats();
    expect(before.classes.reduce((n, r) => n + r.cached, 0)).toBeGreaterThan(0);  // the victim's magazines
    await victim.worker.terminate();
    await other.exited;
    expect(other.messages.find((m) => m.done)!.mismatches).toBe(0);
    drainRing(a, ring);
    const held = victim.published[0];
    expect(held).toBeGreaterThan(0);
    const s = a.stats();
    expect(s.liveCount).toBe(held);  // its live objects stay live...
    expect(s.classes.reduce((n, r) => n + r.cached, 0)).toBeLessThan(64 * a.sizeClasses.length);  // ...its magazines came back
    a.verify();
    for (let i = 0; i < held; i++) a.freeHandle(victim.published[1 + i]);  // freed by another thread
    expect(a.stats().liveCount).toBe(0);
    expectCode(() => a.freeHandle(victim.published[1]), 'ERR_OFFHEAP_DOUBLE_FREE', OffheapError);
    a.destroy();
  });

  // Two threads freeing the same handles at the same moment: the state byte's
  // compare-and-swap lets exactly one free each; the other gets DOUBLE_FREE.
  it('lets exactly one of two racing frees of a handle win', async () => {
    const a = new SlabAllocator({ maxBytes: 64 * MiB, name: 'racing' });
    const handles = new Int32Array(new SharedArrayBuffer(4 * 20_000));
    for (let i = 0; i < handles.length; i++) handles[i] = a.allocHandle(16 + (i % 500));
    const go = new Int32Array(new SharedArrayBuffer(4));
    const code = `
      const { workerData: w, parentPort } = require('node:worker_threads');
      const { SlabAllocator } = require(w.lib + '/index.js');
      const a = SlabAllocator.attach(w.descriptor);
      const go = new Int32Array(w.go);
      Atomics.add(go, 0, 1);
      while (Atomics.load(go, 0) < 2) {}  // start together
      let freed = 0, doubles = 0, other = 0;
      for (const h of w.handles) {
        try { a.freeHandle(h); freed++; } catch (e) { e.code === 'ERR_OFFHEAP_DOUBLE_FREE' ? doubles++ : other++; }
      }
      a.destroy();
      parentPort.postMessage({ freed, doubles, other });`;
    const results = await Promise.all([0, 1].map(() => new Promise<{ freed: number; doubles: number; other: number }>((resolve, reject) => {
      const worker = new Worker(code, { eval: true, workerData: { lib: workerLib(), descriptor: a.share(), handles, go: go.buffer } });
      worker.once('message', resolve);
      worker.once('error', reject);
    })));
    expect(results[0].other + results[1].other).toBe(0);
    expect(results[0].freed + results[1].freed).toBe(handles.length);
    expect(results[0].doubles + results[1].doubles).toBe(handles.length);
    expect(a.stats().liveCount).toBe(0);
    a.verify();
    a.destroy();
  });

  // The memory outlives the thread that created it while others are attached.
  it('keeps the memory mapped until the last attachment is gone', async () => {
    await collect();
    const base = native.liveReservations();
    const a = new SlabAllocator({ maxBytes: 64 * MiB, name: 'outlived' });
    const descriptor = a.share();
    a.destroy();  // only this thread's attachment...
    expectCode(() => SlabAllocator.attach(descriptor), 'ERR_OFFHEAP_DESTROYED', OffheapError);  // ...was the last one
    const b = new SlabAllocator({ maxBytes: 64 * MiB, name: 'outlived2' });
    const ringBuf = new SharedArrayBuffer(4 * RING);
    new Int32Array(ringBuf).fill(-1);
    const run = start(b, 3, ringBuf, { ops: 20_000, destroy: true });
    await run.attached;  // attach() needs a live attachment somewhere: a descriptor holds no reference
    b.destroy();  // the worker is still attached and keeps going
    expect(await run.exited).toBe(0);
    expect(run.messages.find((m) => m.done)!.mismatches).toBe(0);
    // Everything reserved since `base` is unmapped (older allocators may go too).
    for (let i = 0; i < 20 && native.liveReservations() > base; i++) await collect();
    expect(native.liveReservations()).toBeLessThanOrEqual(base);
  });
});
