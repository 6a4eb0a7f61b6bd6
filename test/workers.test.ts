// worker_threads sharing one native allocator: churn with owner tags, frees
// across threads, double frees racing in two threads, and workers that exit
// or are terminated while holding slots.
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ObjectPool } from '../lib/object-pool';
import { native } from '../lib/native';
import { collect, expectCode } from './helpers';

const root = join(__dirname, '..');
// Workers cannot load TypeScript: they use lib/ compiled into build/ (inside
// the package, so the addon loader finds the package root from there).
const workerLib = join(root, 'build/worker-lib/index.js');

beforeAll(() => {
  execFileSync(join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json', '--outDir', join(root, 'build/worker-lib'), '--declaration', 'false', '--sourceMap', 'false'], { cwd: root, stdio: 'pipe' });
}, 120_000);

/** A worker running `body` (the source of a function of (lib, data, port)),
 * with its first message and its exit as promises taken at once (an exit
 * listener added later could miss the event). */
interface Spawned {
  worker: Worker;
  exit: Promise<number>;
  first: Promise<unknown>;
}

function spawn(body: string, workerData: unknown): Spawned {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const lib = require(${JSON.stringify(workerLib)});
    (${body})(lib, workerData, parentPort);`;
  const worker = new Worker(code, { eval: true, workerData });
  const exit = new Promise<number>((resolve) => worker.once('exit', resolve));
  const first = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    void exit.then((code) => reject(new Error(`worker exited with ${code} before answering`)));
  });
  return { worker, exit, first };
}

function result<T>(w: Spawned): Promise<T> {
  return w.first as Promise<T>;
}

function exited(w: Spawned): Promise<number> {
  return w.exit;
}

// Each worker allocates and frees at random, writing (owner, sequence) into
// every slot it holds and checking it before each free: a slot handed to two
// owners at once shows up as a tag that changed under its holder.
const CHURN = `(lib, d, port) => {
  const pool = lib.ObjectPool.attach(d.descriptor);
  const dv = new DataView(pool.buffer);
  const held = new Int32Array(512);
  const seq = new Int32Array(512);
  let n = 0, clashes = 0, next = 1, x = d.owner * 7919 + 1;
  const rand = () => ((x = (x * 1103515245 + 12345) >>> 0) / 4294967296);
  for (let op = 0; op < d.ops && !(d.stopAt && op === d.stopAt); op++) {
    if ((rand() < 0.55 && n < 512) || n === 0) {
      const h = pool.tryAllocHandle();
      if (h < 0) continue;
      dv.setUint32(h, d.owner, true);
      dv.setUint32(h + 4, next, true);
      held[n] = h; seq[n] = next++; n++;
    } else {
      const k = Math.floor(rand() * n);
      const h = held[k];
      if (dv.getUint32(h, true) !== d.owner || dv.getUint32(h + 4, true) !== seq[k]) clashes++;
      pool.freeHandle(h);
      n--; held[k] = held[n]; seq[k] = seq[n];
    }
  }
  if (d.stopAt) { port.postMessage({ clashes, held: Array.from(held.subarray(0, n)) }); for (;;) {} }
  // Half of what is still held goes to the main thread to free there.
  const mine = Array.from(held.subarray(0, n >> 1));
  const theirs = Array.from(held.subarray(n >> 1, n));
  for (let k = 0; k < n; k++) if (dv.getUint32(held[k], true) !== d.owner || dv.getUint32(held[k] + 4, true) !== seq[k]) clashes++;
  for (const h of mine) pool.freeHandle(h);
  pool.destroy();
  port.postMessage({ clashes, theirs });
}`;

describe('ObjectPool across worker_threads', () => {
  for (const workers of [2, 4, 8]) {
    // No slot may ever be seen by two owners, and live must return to zero.
    it(`${workers} workers churn 1M operations each without sharing a slot`, async () => {
      const pool = new ObjectPool({ slotSize: 16, capacity: 1 << 14, name: `churn${workers}` });
      const descriptor = pool.share();
      const ws = Array.from({ length: workers }, (_, k) => spawn(CHURN, { descriptor, owner: k + 1, ops: 1_000_000 }));
      const results = await Promise.all(ws.map((w) => result<{ clashes: number; theirs: number[] }>(w)));
      await Promise.all(ws.map(exited));
      expect(results.map((r) => r.clashes)).toEqual(new Array(workers).fill(0));
      const view = new DataView(pool.buffer);
      results.forEach((r, k) => {
        for (const h of r.theirs) {
          expect(view.getUint32(h, true)).toBe(k + 1);
          pool.freeHandle(h); // freed by another thread than the one that allocated it
        }
      });
      expect(pool.live).toBe(0);
      const s = pool.stats();
      expect(s.allocCount).toBe(s.freeCount);
      expect(s.attachments).toBe(1);
      pool.verify();
      pool.destroy();
    });
  }

  // A worker terminated mid-way: its magazine comes back, the slots it held
  // stay live (and carry its tag), and can be freed from another thread.
  it('recovers the magazine of a worker terminated mid-way', async () => {
    const pool = new ObjectPool({ slotSize: 16, capacity: 1 << 14 });
    const descriptor = pool.share();
    const ws = [1, 2, 3, 4].map((owner) => spawn(CHURN, { descriptor, owner, ops: 300_000, stopAt: owner === 3 ? 150_000 : 0 }));
    const results = await Promise.all(ws.map((w) => result<{ clashes: number; held?: number[]; theirs?: number[] }>(w)));
    await ws[2].worker.terminate();
    await Promise.all(ws.filter((_, k) => k !== 2).map(exited));
    expect(results.map((r) => r.clashes)).toEqual([0, 0, 0, 0]);
    const dead = results[2].held!;
    const view = new DataView(pool.buffer);
    const theirs = results.flatMap((r, k) => (k === 2 ? [] : r.theirs!));
    const s = pool.stats();
    expect(s.attachments).toBe(1);
    expect(s.liveCount).toBe(dead.length + theirs.length);
    expect(s.cachedSlots).toBe(0); // the dead worker's magazine went back to the depot
    for (const h of theirs) pool.freeHandle(h);
    const leaked = pool.leaks().map((l) => l.offset).sort((a, b) => a - b);
    expect(leaked).toEqual([...dead].sort((a, b) => a - b));
    for (const h of leaked) {
      expect(view.getUint32(h, true)).toBe(3);
      pool.freeHandle(h);
    }
    expect(pool.live).toBe(0);
    pool.verify();
    pool.destroy();
  });

  // A worker that exits without destroy(): its environment cleanup gives the
  // magazine back; the slots it left live are still live.
  it('takes back the magazine of a worker that exits without destroy()', async () => {
    const pool = new ObjectPool({ slotSize: 32, capacity: 1000 });
    const w = spawn(`(lib, d, port) => {
      const pool = lib.ObjectPool.attach(d);
      const hs = Array.from({ length: 100 }, () => pool.allocHandle());
      for (const h of hs.slice(0, 60)) pool.freeHandle(h); // into its magazine
      port.postMessage(hs.slice(60));
    }`, pool.share());
    const live = await result<number[]>(w);
    await exited(w);
    expect(pool.stats()).toMatchObject({ liveCount: 40, cachedSlots: 0, attachments: 1 });
    // Exactly capacity - 40 more slots: nothing stranded in a dead magazine.
    const got = Array.from({ length: 960 }, () => pool.allocHandle());
    expect(pool.tryAllocHandle()).toBe(-1);
    expect(new Set([...got, ...live]).size).toBe(1000);
    pool.destroy();
  });

  // A handle freed in another thread is free everywhere: a second free from
  // either thread is a double free.
  it('detects a double free across threads', async () => {
    const pool = new ObjectPool({ slotSize: 16, capacity: 100 });
    const h = pool.allocHandle();
    const w = spawn(`(lib, d, port) => {
      const pool = lib.ObjectPool.attach(d.descriptor);
      pool.freeHandle(d.h);
      let code;
      try { pool.freeHandle(d.h); } catch (e) { code = e.code; }
      port.postMessage(code);
      pool.destroy();
    }`, { descriptor: pool.share(), h });
    expect(await result<string>(w)).toBe('ERR_OFFHEAP_DOUBLE_FREE');
    await exited(w);
    expectCode(() => pool.freeHandle(h), 'ERR_OFFHEAP_DOUBLE_FREE');
    expect(pool.live).toBe(0);
    pool.destroy();
  });

  // Two threads in lock-step (a spin barrier per handle) free the same 20000
  // handles: the compare-and-swap lets exactly one free of each succeed.
  it('lets exactly one of two racing frees of a handle win', async () => {
    const pool = new ObjectPool({ slotSize: 16, capacity: 20000 });
    const handles = Array.from({ length: 20000 }, () => pool.allocHandle());
    const sync = new Int32Array(new SharedArrayBuffer(4));
    const body = `(lib, d, port) => {
      Error.stackTraceLimit = 0; // a refused free must cost about what a free costs
      const pool = lib.ObjectPool.attach(d.descriptor);
      const sync = new Int32Array(d.sync);
      let freed = 0, doubles = 0;
      for (let r = 0; r < d.handles.length; r++) {
        Atomics.add(sync, 0, 1);
        while (Atomics.load(sync, 0) < 2 * (r + 1)) {}
        try { pool.freeHandle(d.handles[r]); freed++; } catch (e) { if (e.code === 'ERR_OFFHEAP_DOUBLE_FREE') doubles++; else throw e; }
      }
      pool.destroy();
      port.postMessage({ freed, doubles });
    }`;
    const ws = [0, 1].map(() => spawn(body, { descriptor: pool.share(), sync: sync.buffer, handles }));
    const rs = await Promise.all(ws.map((w) => result<{ freed: number; doubles: number }>(w)));
    await Promise.all(ws.map(exited));
    expect(rs[0].freed + rs[1].freed).toBe(20000);
    expect(rs[0].doubles + rs[1].doubles).toBe(20000);
    expect(pool.live).toBe(0);
    pool.verify();
    expect(new Set(Array.from({ length: 20000 }, () => pool.allocHandle())).size).toBe(20000);
    pool.destroy();
  });

  // The memory stays mapped while any attachment lives, whoever created it.
  it('keeps the memory until the last attachment is destroyed', async () => {
    await collect();
    const base = native.liveReservations();
    const pool = new ObjectPool({ slotSize: 64, capacity: 1000 });
    const d = pool.share();
    const hold = new Int32Array(new SharedArrayBuffer(4));
    const w = spawn(`(lib, d, port) => {
      const pool = lib.ObjectPool.attach(d.descriptor);
      const h = pool.allocHandle();
      port.postMessage('attached');
      Atomics.wait(new Int32Array(d.hold), 0, 0); // until the owner is destroyed
      const b = pool.view(h);
      b.fill(7);
      const ok = b.every((x) => x === 7) && pool.live === 1;
      pool.freeHandle(h);
      pool.destroy();
      port.postMessage(ok);
    }`, { descriptor: d, hold: hold.buffer });
    const answers: unknown[] = [];
    w.worker.on('message', (m) => answers.push(m));
    while (answers.length === 0) await new Promise((r) => setTimeout(r, 1));
    pool.destroy(); // the creator goes first
    ObjectPool.attach(d).destroy(); // still there: the worker holds it
    Atomics.store(hold, 0, 1);
    Atomics.notify(hold, 0);
    await exited(w);
    expect(answers).toEqual(['attached', true]);
    expectCode(() => ObjectPool.attach(d), 'ERR_OFFHEAP_DESTROYED'); // the last one went
    for (let i = 0; i < 20 && native.liveReservations() !== base; i++) await collect();
    expect(native.liveReservations()).toBe(base);
  });
});
