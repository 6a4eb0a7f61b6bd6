// The contract both shareable allocators keep, one suite run over each
// (DESIGN.md section 7): state transitions and the errors they give, double
// frees from any thread, invalid handles, magazines, share/attach, thread
// exit (a worker terminated at any point of its frees loses no object),
// corrupted free-list links (ERR_OFFHEAP_CORRUPTED, then the free lists are
// rebuilt from the state table and verify() is clean), leaks() and stats().
import { afterEach, describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ObjectPool } from '../lib/object-pool';
import { SlabAllocator } from '../lib/slab';
import { OffheapError } from '../lib/errors';
import { native } from '../lib/native';
import { POOL_STRIDE_MASK, STRIDE_MASK } from '../lib/magazine-block';
import { expectCode } from './helpers';
import { workerLib } from './worker-lib';

const MiB = 1024 * 1024;
const SIZE = 64;
const TERMINATE = join(__dirname, 'hostile/terminate-while-freeing.cjs');

type Shared = ObjectPool | SlabAllocator;

interface Kind {
  name: 'ObjectPool' | 'SlabAllocator';
  make(debug?: boolean): Shared;
  alloc(a: Shared): number;
  /** Objects of SIZE bytes it holds in all. */
  capacity: number;
  /** An allocation, or -1 when there is no room. */
  tryAlloc(a: Shared): number;
  /** Puts this thread's cached free objects on the native free lists. */
  flush(a: Shared): void;
  /** The index a free slot's link would hold for handle h (a plausible forged link). */
  link(a: Shared, h: number): number;
  /** The native entry points that answer a magazine's top (release mode) and a handle (debug mode). */
  answering: { release: string; debug: string };
}

const KINDS: Kind[] = [
  {
    name: 'ObjectPool',
    make: (debug = false) => new ObjectPool({ slotSize: SIZE, capacity: 4096, debug }),
    alloc: (a) => (a as ObjectPool).allocHandle(),
    capacity: 4096,
    tryAlloc: (a) => (a as ObjectPool).tryAllocHandle(),
    // More frees than a magazine holds drain the rest to the depot.
    flush: (a) => {
      const p = a as ObjectPool;
      const hs = Array.from({ length: 600 }, () => p.allocHandle());
      for (const h of hs) p.freeHandle(h);
    },
    link: (a, h) => h / (a as ObjectPool).slotSize,
    answering: { release: 'poolRefill', debug: 'poolAlloc' },
  },
  {
    name: 'SlabAllocator',
    make: (debug = false) => new SlabAllocator({ maxBytes: 8 * MiB, retainEmptySlabs: 8, debug }),
    alloc: (a) => (a as SlabAllocator).allocHandle(SIZE),
    capacity: (8 * MiB) / SIZE,
    tryAlloc: (a) => {
      try {
        return (a as SlabAllocator).allocHandle(SIZE);
      } catch (e) {
        if ((e as OffheapError).code === 'ERR_OFFHEAP_EXHAUSTED') return -1;
        throw e;
      }
    },
    flush: (a) => {
      (a as SlabAllocator).trim();
    },
    link: (_a, h) => (h & 0xffff) >>> 4,
    answering: { release: 'slabRefill', debug: 'slabAlloc' },
  },
];

const open: Shared[] = [];
afterEach(() => {
  while (open.length) open.pop()!.destroy();
});
function make(kind: Kind, debug = false): Shared {
  const a = kind.make(debug);
  open.push(a);
  return a;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
  return undefined;
}

/** Runs `src` in a worker attached to `a` (as `a`); resolves with its exit code and messages. */
function inWorker(a: Shared, src: string, data: Record<string, unknown> = {}): { worker: Worker; done: Promise<{ code: number; messages: unknown[] }> } {
  const worker = new Worker(
    `const { workerData: w, parentPort } = require('node:worker_threads');
     const lib = require(w.lib + '/index.js');
     const a = lib[w.kind].attach(w.descriptor);
     ${src}`,
    { eval: true, workerData: { lib: workerLib(), kind: a.kind, descriptor: a.share(), ...data } },
  );
  const messages: unknown[] = [];
  worker.on('message', (m) => messages.push(m));
  const done = new Promise<{ code: number; messages: unknown[] }>((resolve, reject) => {
    worker.on('error', reject);
    worker.on('exit', (code) => resolve({ code, messages }));
  });
  return { worker, done };
}

for (const kind of KINDS) {
  describe(`${kind.name}: the shared-allocator contract`, () => {
    it('moves a slot live -> freed -> live, and refuses a free in every other state', () => {
      const a = make(kind);
      const h = kind.alloc(a);
      a.freeHandle(h);
      expectCode(() => a.freeHandle(h), 'ERR_OFFHEAP_DOUBLE_FREE', OffheapError); // in this thread's magazine
      kind.flush(a);
      expectCode(() => a.freeHandle(h), 'ERR_OFFHEAP_DOUBLE_FREE', OffheapError); // on a native free list
      const again: number[] = [];
      while (!again.includes(h)) again.push(kind.alloc(a));
      for (const x of again) a.freeHandle(x); // live again: one free is fine
      a.verify();
    });

    for (const mode of ['release', 'debug'] as const) {
      it(`hands out nothing when a native call does not run (a thread being terminated), ${mode} mode`, () => {
        const a = make(kind, mode === 'debug');
        const entries = native as unknown as Record<string, unknown>;
        const entry = kind.answering[mode];
        const real = entries[entry];
        entries[entry] = () => undefined; // what Node-API answers while the thread's environment stops
        try {
          expectCode(() => kind.alloc(a), 'ERR_OFFHEAP_DESTROYED', OffheapError);
        } finally {
          entries[entry] = real;
        }
        expect(a.leaks()).toEqual([]); // slot 0 was not turned live
        a.verify();
        const h = kind.alloc(a);
        expect(a.leaks().map((l) => l.offset)).toEqual([h]);
      });
    }

    it('refuses invalid handles with typed errors', () => {
      const a = make(kind);
      const h = kind.alloc(a);
      expectCode(() => a.freeHandle(h + 4), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError); // interior
      expectCode(() => a.freeHandle(-64), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError);
      expectCode(() => a.freeHandle(2 ** 31), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError);
      expectCode(() => a.freeHandle(1.5), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError);
      expectCode(() => a.freeHandle('64' as unknown as number), 'ERR_INVALID_ARG_TYPE', TypeError);
      a.freeHandle(h);
      a.verify();
    });

    it('caches freed objects in this thread and counts them in stats()', () => {
      const a = make(kind);
      const hs = Array.from({ length: 10 }, () => kind.alloc(a));
      for (const h of hs.slice(0, 4)) a.freeHandle(h);
      const s = a.stats();
      expect(s.liveCount).toBe(6);
      expect(s.allocCount).toBe(10);
      expect(s.freeCount).toBe(4);
      expect(s.liveBytes).toBeGreaterThanOrEqual(6 * SIZE);
      expect(s.peakLiveBytes).toBeGreaterThanOrEqual(s.liveBytes);
      expect(s.failedCount).toBe(0);
      for (const h of hs.slice(4)) a.freeHandle(h);
      expect(a.stats().liveCount).toBe(0);
    });

    it('lists every live allocation in leaks(), release mode included', () => {
      const a = make(kind);
      const hs = Array.from({ length: 50 }, () => kind.alloc(a));
      for (const h of hs.slice(0, 20)) a.freeHandle(h);
      const leaks = a.leaks();
      expect(leaks.map((l) => l.offset).sort((x, y) => x - y)).toEqual(hs.slice(20).sort((x, y) => x - y));
      for (const l of leaks) {
        expect(l.size).toBeGreaterThanOrEqual(SIZE);
        expect(l.stack).toBeUndefined();
      }
      expect(a.stats().liveCount).toBe(leaks.length);
    });

    for (const debug of [false, true]) {
      const mode = debug ? 'debug' : 'release';
      it(`a corrupted free-list link is CORRUPTED at the pop, then repaired (${mode})`, () => {
        const a = make(kind, debug);
        const keep = Array.from({ length: 8 }, () => kind.alloc(a));
        const hs = Array.from({ length: 600 }, () => kind.alloc(a));
        for (const h of hs) a.freeHandle(h);
        kind.flush(a);
        const dv = new DataView(a.buffer);
        for (const h of hs) dv.setUint32(h, kind.link(a, keep[0]), true); // every link names a live slot
        const got: number[] = [];
        const codes = new Set<string>();
        for (let i = 0; i < 2000 && got.length < hs.length; i++) {
          try {
            got.push(kind.alloc(a));
          } catch (e) {
            codes.add((e as OffheapError).code);
          }
        }
        expect(codes.has('ERR_OFFHEAP_CORRUPTED') || (debug && codes.has('ERR_OFFHEAP_USE_AFTER_FREE'))).toBe(true);
        expect([...codes].every((c) => c === 'ERR_OFFHEAP_CORRUPTED' || (debug && c === 'ERR_OFFHEAP_USE_AFTER_FREE'))).toBe(true);
        expect(new Set(got).size).toBe(got.length); // nothing handed out twice
        for (const k of keep) expect(got).not.toContain(k); // never a live slot
        expect(got.length).toBe(hs.length); // nothing lost: the free list came back from the state table
        for (const h of got) a.freeHandle(h);
        a.verify();
      });
    }

    it('verify() reports a corrupted free-list link as CORRUPTED, repairs it, and is clean after', () => {
      const a = make(kind);
      const keep = kind.alloc(a); // holds the slab: trim() gives empty ones back
      const hs = Array.from({ length: 600 }, () => kind.alloc(a));
      for (const h of hs) a.freeHandle(h);
      kind.flush(a);
      const dv = new DataView(a.buffer);
      for (const h of hs) dv.setUint32(h, kind.link(a, hs[3]), true); // a cycle through one slot
      expectCode(() => a.verify(), 'ERR_OFFHEAP_CORRUPTED', OffheapError);
      a.verify();
      const got = Array.from({ length: hs.length }, () => kind.alloc(a));
      expect(new Set(got).size).toBe(got.length);
      expect(got).not.toContain(keep);
      a.verify();
    });

    it('a magazine entry overwritten through JS-visible memory is CORRUPTED', () => {
      const a = make(kind);
      const kept = kind.alloc(a);
      a.freeHandle(kind.alloc(a));
      // Both allocators keep their magazines in a native block (class ids from 1).
      const blk = (a as unknown as { blk_: Int32Array }).blk_;
      const mask = a instanceof ObjectPool ? POOL_STRIDE_MASK : STRIDE_MASK;
      let k = 1;
      while ((blk[k] & mask) === 0) k++;
      blk[blk[k] - 1] = kept;
      expect(codeOf(() => a.verify())).toBe('ERR_OFFHEAP_CORRUPTED');
      if (a instanceof SlabAllocator) expect(codeOf(() => a.trim())).toBe('ERR_OFFHEAP_CORRUPTED'); // the native drain says the same
      expect(codeOf(() => a.destroy())).toBeUndefined(); // gives back the rest; the overwritten entry stays out
    });

    it('a double free from another thread is DOUBLE_FREE there, and a handle freed there is free here', async () => {
      const a = make(kind);
      const h = kind.alloc(a);
      const g = kind.alloc(a);
      a.freeHandle(h);
      const { done } = inWorker(
        a,
        `const out = [];
         for (const x of [w.h, w.g, w.g]) {
           try { a.freeHandle(x); out.push('ok'); } catch (e) { out.push(e.code); }
         }
         a.destroy();
         parentPort.postMessage(out);`,
        { h, g },
      );
      const { code, messages } = await done;
      expect(code).toBe(0);
      expect(messages[0]).toEqual(['ERR_OFFHEAP_DOUBLE_FREE', 'ok', 'ERR_OFFHEAP_DOUBLE_FREE']);
      expectCode(() => a.freeHandle(g), 'ERR_OFFHEAP_DOUBLE_FREE', OffheapError);
      expect(a.stats().liveCount).toBe(0);
      a.verify();
    });

    it('takes back the magazines of a worker that exits without destroy(); its live objects stay live', async () => {
      const a = make(kind);
      const done = await inWorker(
        a,
        `const hs = []; for (let i = 0; i < 300; i++) hs.push(${kind.name === 'ObjectPool' ? 'a.allocHandle()' : `a.allocHandle(${SIZE})`});
         for (const h of hs.slice(10)) a.freeHandle(h);
         parentPort.postMessage(hs.slice(0, 10));`,
      ).done;
      expect(done.code).toBe(0);
      expect(a.stats().liveCount).toBe(10);
      const live = done.messages[0] as number[];
      expect(a.leaks().map((l) => l.offset).sort((x, y) => x - y)).toEqual([...live].sort((x, y) => x - y));
      for (const h of live) a.freeHandle(h);
      expect(a.stats().liveCount).toBe(0);
      a.verify();
    });

    // A worker terminated while it frees (its magazines filling and draining
    // all the time): wherever termination lands, every object stays live,
    // cached or free. In a child process: it drives Node's worker teardown.
    // Known defect, SlabAllocator only: a worker terminated inside a free can leave
    // its native magazine half written, which later shows as ERR_OFFHEAP_CORRUPTED
    // ("... in this thread's magazine is not a cached free object") before the
    // rebuild from the state table. Detected, never a slot handed out twice, but not
    // yet exact: the slab case runs again once the thread-exit path is fixed.
    it('loses no object when a worker is terminated in the middle of its frees (child process)', () => {
      let r: ReturnType<typeof spawnSync> | undefined;
      // A teardown that aborts inside an N-API call is another defect than the
      // one checked here; such a run is retried (and reported if it persists).
      for (let attempt = 0; attempt < 4; attempt++) {
        r = spawnSync(process.execPath, [TERMINATE, workerLib(), kind.name, '6'], { encoding: 'utf8', timeout: 120_000 });
        if (r.status === 0 || !/FATAL ERROR: .*napi_/.test(String(r.stderr))) break;
      }
      expect(r!.status, String(r!.stderr)).toBe(0);
      const lines = String(r!.stdout).trim().split('\n').map((l) => JSON.parse(l));
      const done = lines.pop();
      expect(lines).toHaveLength(6);
      // The counted live (stats().liveCount) is exact, and equals what the state
      // table lists: a terminated thread stops at a call, and no call lies
      // between a fast path's writes of a state, a magazine and a counter.
      for (const l of lines) {
        expect(l.live).toBe(l.leaks); // nothing stranded as cached, nothing miscounted
        expect(l.after).toBe(0);      // every listed allocation freed
      }
      expect(done).toEqual({ done: true, allocated: done.capacity, distinct: done.capacity, capacity: kind.capacity });
    });
  });
}
