// Arena: semantics, marks and scopes, cleanups, reset / retain, destroy,
// misuse, untrusted shared words, debug guards and sharing.
import { describe, expect, it } from 'vitest';
import { MessageChannel } from 'node:worker_threads';
import { Arena, MAX_MARKS } from '../lib/arena';
import { OffheapError } from '../lib/errors';
import { stats as moduleStats } from '../lib/registry';
import { native } from '../lib/native';
import { collect, expectCode, expectCodeAsync, externalBacking, HOSTILE, rss } from './helpers';

const KiB = 1024;
const MiB = 1024 * 1024;

/** The shared words, for the tests that play a hostile caller. */
const wordsOf = (a: Arena) => (a as unknown as { state_: Int32Array }).state_;

/** A deterministic PRNG, so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('Arena options', () => {
  it('applies defaults and keeps the options', () => {
    const a = new Arena({ maxBytes: MiB });
    expect(a.kind).toBe('Arena');
    expect(a.maxBytes).toBe(MiB);
    expect(a.align).toBe(16);
    expect(a.name).toMatch(/^Arena#\d+$/);
    expect(a.debug.enabled).toBe(false);
    expect(a.buffer.byteLength).toBe(MiB);
    expect(new Arena({ maxBytes: 100, name: 'scratch', align: 64 })).toMatchObject({ name: 'scratch', align: 64 });
    a.destroy();
  });

  // Every bad option is a typed error before anything is reserved.
  it('rejects bad options with TypeError / RangeError', () => {
    for (const bad of [undefined, null, 1, 'x', []]) expectCode(() => new Arena(bad as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    expectCode(() => new Arena({} as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    for (const v of HOSTILE) {
      const code = typeof v === 'number' ? 'ERR_OUT_OF_RANGE' : 'ERR_INVALID_ARG_TYPE';
      expectCode(() => new Arena({ maxBytes: v as number }), code);
    }
    expectCode(() => new Arena({ maxBytes: 0 }), 'ERR_OUT_OF_RANGE', RangeError);
    expectCode(() => new Arena({ maxBytes: 2 ** 31 + 1 }), 'ERR_OUT_OF_RANGE', RangeError);
    for (const align of [0, 3, 12, 8192, -16, 1.5]) expectCode(() => new Arena({ maxBytes: MiB, align }), 'ERR_OUT_OF_RANGE', RangeError);
    expectCode(() => new Arena({ maxBytes: MiB, align: '16' as never }), 'ERR_INVALID_ARG_TYPE', TypeError);
    expectCode(() => new Arena({ maxBytes: MiB, name: 5 as never }), 'ERR_INVALID_ARG_TYPE', TypeError);
    expectCode(() => new Arena({ maxBytes: MiB, debug: 'yes' as never }), 'ERR_INVALID_ARG_TYPE', TypeError);
    expectCode(() => new Arena({ maxBytes: MiB, debug: { leaks: 'all' } as never }), 'ERR_INVALID_ARG_TYPE', TypeError);
  });

  // A misspelt option would otherwise be silently ignored.
  it('rejects unknown option names', () => {
    expectCode(() => new Arena({ maxBytes: MiB, maxbytes: 1 } as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    expectCode(() => new Arena({ maxBytes: MiB, alignment: 8 } as never), 'ERR_INVALID_ARG_TYPE', TypeError);
  });

  // 2 GiB is accepted; the last 4 KiB stay unusable (int32 cursor + alignment).
  it('accepts the largest region', () => {
    const a = new Arena({ maxBytes: 2 ** 31 });
    expect(a.buffer.byteLength).toBe(2 ** 31);
    expect(a.allocHandle(2 ** 31 - 4096, 1)).toBe(0);
    expectCode(() => a.allocHandle(1, 1), 'ERR_OFFHEAP_EXHAUSTED', OffheapError);
    a.destroy();
  });
});

describe('Arena allocation', () => {
  it('returns real Buffers over arena.buffer, bumped and aligned', () => {
    const a = new Arena({ maxBytes: MiB });
    const x = a.alloc(10);
    const y = a.alloc(64);
    expect(Buffer.isBuffer(x)).toBe(true);
    expect(Object.getPrototypeOf(x)).toBe(Buffer.prototype);
    expect([a.handleOf(x), x.length, a.handleOf(y), y.length]).toEqual([0, 10, 16, 64]);
    expect(a.used).toBe(80);
    y.write('hello');
    expect(Buffer.from(a.buffer, 16, 5).toString()).toBe('hello');
    expect(a.allocHandle(3, 1)).toBe(80);
    expect(a.allocHandle(8)).toBe(96);
    a.destroy();
  });

  // Every power-of-two alignment up to 4096, after odd-sized allocations.
  it('honours every alignment from 1 to 4096 in alloc and allocHandle', () => {
    const a = new Arena({ maxBytes: 4 * MiB });
    for (let align = 1; align <= 4096; align *= 2) {
      a.allocHandle(3, 1);
      expect(a.handleOf(a.alloc(5, align)) % align).toBe(0);
      a.allocHandle(1, 1);
      expect(a.allocHandle(7, align) % align).toBe(0);
      a.allocHandle(1, 1);
      expect(a.handleOf(a.allocZeroed(9, align)) % align).toBe(0);
    }
    a.destroy();
  });

  // Random sizes and alignments: each allocation filled with its own byte,
  // all checked at the end, so any overlap shows.
  it('never overlaps allocations of random sizes', () => {
    const a = new Arena({ maxBytes: 8 * MiB });
    const bytes = new Uint8Array(a.buffer);
    const next = rng(42);
    const got: { off: number; size: number; fill: number }[] = [];
    for (let i = 0; i < 4000; i++) {
      const size = Math.floor(next() * 600);
      const align = 2 ** Math.floor(next() * 10);
      const fill = (i % 251) + 1;
      let off: number;
      if (i % 3 === 0) off = a.allocHandle(size, align);
      else {
        const view = i % 3 === 1 ? a.alloc(size, align) : a.allocZeroed(size, align);
        expect(view.length).toBe(size);
        off = a.handleOf(view);
      }
      expect(off % align).toBe(0);
      bytes.fill(fill, off, off + size);
      got.push({ off, size, fill });
    }
    for (const g of got) {
      for (let i = g.off; i < g.off + g.size; i++) if (bytes[i] !== g.fill) expect(bytes[i]).toBe(g.fill);
    }
    expect(a.stats().liveCount).toBe(got.length);
    a.destroy();
  });

  // Views of every size around the window edges (a window on every 64 KiB edge): a view of at
  // most 64 KiB that would cross an edge starts on it, any other keeps its place; each one is its
  // allocation's bytes over its window or over its own range (the region's buffer under the v8
  // backing), named by handleOf().
  it('places small views off the window edges and gives the others their own bytes', () => {
    const a = new Arena({ maxBytes: 8 * MiB, align: 1 });
    const bytes = new Uint8Array(a.buffer);
    const views: { v: Buffer; off: number; fill: number }[] = [];
    let moved = 0;
    let own = 0;
    for (const size of [1, 4096, 8192, 8193, 20_000, 56 * 1024, 64 * 1024, 64 * 1024 + 1]) {
      for (const edge of [64 * 1024, 128 * 1024, 192 * 1024]) {
        // Start 3 bytes before a window edge, and just past it.
        for (const start of [edge - 3, edge + 1]) {
          a.reset();
          a.allocHandle(start);
          const v = a.alloc(size);
          const off = a.handleOf(v);
          const crosses = (start % (64 * 1024)) + size > 64 * 1024;
          const expected = crosses && size <= 64 * 1024 ? (start | 0xffff) + 1 : start;
          expect(off).toBe(expected);
          expect(a.used).toBe(off + size);
          if (off !== start) moved++;
          const inWindow = (off % (64 * 1024)) + size <= 64 * 1024;
          if (!inWindow) own++;
          // The v8 backing has no windows: every view slices the region's own buffer.
          expect(v.buffer.byteLength).toBe(!externalBacking ? a.buffer.byteLength : inWindow ? 64 * 1024 : size);
          const fill = (views.length % 250) + 1;
          v.fill(fill);
          expect(bytes[off]).toBe(fill);
          expect(bytes[off + size - 1]).toBe(fill);
          expect(bytes[off + size]).toBe(0);
          if (off > 0) expect(bytes[off - 1]).toBe(0);
          bytes.fill(0, off, off + size);
          views.push({ v, off, fill });
        }
      }
    }
    expect(views.length).toBe(48);
    // From 3 bytes before an edge every size of 4096 B to 64 KiB moves; from 1 byte past it, 64 KiB does.
    expect(moved).toBe(6 * 3 + 3);
    // Only the views larger than a window have their own bytes.
    expect(own).toBe(6);
    a.destroy();
  });

  // Pins: moving a view to the edge where it then does not fit (a refusal allocHandle() would not
  // give), and moving the cursor before an allocation that is then refused.
  it('keeps a view in place where it does not fit on the edge, and changes nothing when it fits nowhere', () => {
    const a = new Arena({ maxBytes: 64 * 1024 + 3000, align: 1 });
    a.allocHandle(64 * 1024 - 1000);
    const v = a.alloc(3500);
    expect(a.handleOf(v)).toBe(64 * 1024 - 1000);
    expect(v.length).toBe(3500);
    if (externalBacking) expect(v.buffer.byteLength).toBe(3500);
    v.fill(7);
    expect(new Uint8Array(a.buffer)[64 * 1024 + 2499]).toBe(7);
    a.reset();
    a.allocHandle(64 * 1024 - 50);
    expectCode(() => a.alloc(3100), 'ERR_OFFHEAP_EXHAUSTED', OffheapError);
    expect(a.used).toBe(64 * 1024 - 50);
    expect(a.stats().liveCount).toBe(1);
    // Still usable, on the edge where a view fits there.
    a.reset();
    a.allocHandle(64 * 1024 - 50);
    expect(a.handleOf(a.alloc(2000))).toBe(64 * 1024);
    a.destroy();
  });

  // Size 0 is allowed: an empty Buffer at the aligned cursor, counted.
  it('gives an empty Buffer for size 0', () => {
    const a = new Arena({ maxBytes: MiB });
    a.alloc(3);
    const e = a.alloc(0);
    expect(e.length).toBe(0);
    expect(a.handleOf(e)).toBe(16);
    expect(a.used).toBe(16);
    expect(a.allocHandle(0, 64)).toBe(64);
    expect(a.stats().liveCount).toBe(3);
    a.destroy();
  });

  // allocZeroed must zero memory a previous user dirtied.
  it('allocZeroed zeroes reused memory; alloc leaves it uninitialised', () => {
    const a = new Arena({ maxBytes: MiB });
    a.alloc(256).fill(0xff);
    a.reset();
    expect(a.allocZeroed(256).every((b) => b === 0)).toBe(true);
    a.reset();
    expect(a.alloc(256)[0]).toBe(0); // the zeroing above, not a fill of its own
    a.destroy();
  });

  // Wrong sizes and alignments are typed errors and leave the arena untouched.
  it('rejects bad sizes and alignments without moving the cursor', () => {
    const a = new Arena({ maxBytes: MiB });
    a.alloc(8);
    for (const v of HOSTILE) {
      for (const fn of [() => a.alloc(v as number), () => a.allocHandle(v as number), () => a.allocZeroed(v as number)]) {
        let err: unknown;
        try {
          fn();
        } catch (e) {
          err = e;
        }
        expect(['ERR_INVALID_ARG_TYPE', 'ERR_OUT_OF_RANGE'], String(v)).toContain((err as { code: string }).code);
      }
    }
    expectCode(() => a.alloc(MiB + 1), 'ERR_OUT_OF_RANGE', RangeError);
    for (const align of [0, 3, 4097, 8192, -1, 1.5, NaN]) {
      expectCode(() => a.alloc(8, align), 'ERR_OUT_OF_RANGE', RangeError);
      expectCode(() => a.allocHandle(8, align), 'ERR_OUT_OF_RANGE', RangeError);
    }
    expectCode(() => a.alloc(8, '16' as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    expectCode(() => a.alloc(8, null as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    expect(a.used).toBe(8);
    expect(a.stats().liveCount).toBe(1);
    a.destroy();
  });

  // Exhaustion is ERR_OFFHEAP_EXHAUSTED, changes nothing, and the arena stays usable.
  it('throws ERR_OFFHEAP_EXHAUSTED and stays usable', () => {
    const a = new Arena({ maxBytes: 10000 });
    a.alloc(9000, 1);
    let err: unknown;
    try {
      a.alloc(1001, 1);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OffheapError);
    expect((err as OffheapError).code).toBe('ERR_OFFHEAP_EXHAUSTED');
    expect((err as OffheapError).message).toContain(a.name);
    expect(a.used).toBe(9000);
    expect(a.alloc(1000, 1).length).toBe(1000); // exactly up to maxBytes
    expectCode(() => a.allocHandle(1, 1), 'ERR_OFFHEAP_EXHAUSTED');
    expectCode(() => a.allocHandle(0, 4096), 'ERR_OFFHEAP_EXHAUSTED');
    expect(a.stats().failedCount).toBe(3);
    a.reset();
    expect(a.alloc(10000, 1).length).toBe(10000);
    a.verify();
    a.destroy();
  });

  // The limit grows a chunk at a time, and allocations straddle chunks.
  it('grows the committed limit in chunks', () => {
    const a = new Arena({ maxBytes: 16 * MiB });
    expect(a.committed).toBe(0);
    a.alloc(1);
    expect(a.committed).toBe(64 * KiB);
    const views = Array.from({ length: 100 }, (_, i) => a.alloc(5000).fill(i));
    views.forEach((v, i) => expect(v[4999]).toBe(i));
    expect(a.committed).toBeGreaterThanOrEqual(a.used);
    expect(a.committed % (64 * KiB)).toBe(0);
    a.verify();
    a.destroy();
  });

  it('reports AllocatorStats and joins the module-level stats()', () => {
    const a = new Arena({ maxBytes: MiB });
    const before = moduleStats();
    a.alloc(100);
    a.alloc(28);
    const s = a.stats();
    expect(s).toEqual({
      reservedBytes: MiB, committedBytes: 64 * KiB, liveBytes: 140, liveCount: 2, peakLiveBytes: 140,
      allocCount: 2, freeCount: 0, failedCount: 0, marks: 0,
    });
    expect(moduleStats().liveBytes - before.liveBytes).toBe(140);
    a.reset();
    a.alloc(10);
    expect(a.stats()).toMatchObject({ liveBytes: 10, liveCount: 1, peakLiveBytes: 140, allocCount: 3, freeCount: 2 });
    expect(a.peak).toBe(140);
    a.destroy();
    expect(a.stats()).toMatchObject({ reservedBytes: 0, committedBytes: 0, liveBytes: 0, allocCount: 3, freeCount: 3, peakLiveBytes: 140 });
  });
});

describe('Arena handle fast path', () => {
  // allocHandle computes in uint32s: a size that only wraps to a small uint32 must not pass as it.
  it('takes integral sizes held as doubles, and refuses sizes that would wrap', () => {
    const a = new Arena({ maxBytes: MiB });
    const sizes = new Float64Array([16, 48]);
    expect(a.allocHandle(sizes[0])).toBe(0);
    expect(a.allocHandle(sizes[1])).toBe(16);
    expect(a.allocHandle(-0)).toBe(64);
    for (const size of [2 ** 32 + 16, 2 ** 32, -(2 ** 32) + 16]) {
      expect(() => a.allocHandle(size), String(size)).toThrow(RangeError);
      expect(() => a.allocHandle(size, 8), String(size)).toThrow(RangeError);
    }
    expect(a.used).toBe(64);
    expect(a.stats().liveCount).toBe(3);
    a.destroy();
  });

  // An alignment that is no number is refused before anything reads it as one.
  it('never calls valueOf() of an alignment or a size', () => {
    const a = new Arena({ maxBytes: MiB });
    let calls = 0;
    const sneaky = { valueOf: () => { calls++; return 16; } };
    expectCode(() => a.allocHandle(8, sneaky as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    expectCode(() => a.allocHandle(sneaky as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    expect(calls).toBe(0);
    expect(a.used).toBe(0);
    a.destroy();
  });

  // reset() without options writes the shared words itself: marks, scopes and counters must see it.
  it('resets without a native call yet kills marks and ends scopes', () => {
    const a = new Arena({ maxBytes: MiB });
    a.allocHandle(100);
    const m = a.mark();
    const inner = a.scope(() => {
      a.allocHandle(10);
      a.reset();
      return a.used;
    });
    expect(inner).toBe(0);
    expectCode(() => a.rollback(m), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError);
    expect(a.stats()).toMatchObject({ liveCount: 0, allocCount: 2, freeCount: 2, peakLiveBytes: 122, marks: 0 });
    a.verify();
    a.destroy();
  });
});

describe('Arena marks', () => {
  it('rolls back exactly what came after the mark, and again', () => {
    const a = new Arena({ maxBytes: MiB });
    a.alloc(100, 1);
    const m = a.mark();
    const x = a.alloc(50, 1);
    a.rollback(m);
    expect(a.used).toBe(100);
    expect(a.stats().liveCount).toBe(1);
    expect(a.handleOf(a.alloc(50, 1))).toBe(a.handleOf(x));
    a.rollback(m); // a mark stays live after a rollback to it
    expect(a.used).toBe(100);
    a.destroy();
  });

  // LIFO: rolling back to an outer mark kills every inner one, even once the
  // cursor has moved past the inner position again.
  it('kills marks taken after the one rolled back to', () => {
    const a = new Arena({ maxBytes: MiB });
    const outer = a.mark();
    a.alloc(64);
    const inner = a.mark();
    a.alloc(64);
    a.rollback(outer);
    a.alloc(512);
    expectCode(() => a.rollback(inner), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError);
    expect(a.used).toBe(512);
    a.rollback(outer);
    expect(a.used).toBe(0);
    a.destroy();
  });

  // Marks from before a reset, of another arena, or made up are refused.
  it('refuses dead, foreign and garbage marks with typed errors', () => {
    const a = new Arena({ maxBytes: MiB });
    const b = new Arena({ maxBytes: MiB });
    const m = a.mark();
    const foreign = b.mark();
    expectCode(() => a.rollback(foreign), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError);
    for (const bad of [0, 1, 16, -1, 1.5, NaN, Infinity, 2 ** 60, m + 1]) {
      expectCode(() => a.rollback(bad), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError);
    }
    for (const bad of ['1', null, undefined, {}, 1n]) expectCode(() => a.rollback(bad as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    a.alloc(10);
    a.reset();
    a.alloc(30);
    expectCode(() => a.rollback(m), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError);
    expect(a.used).toBe(30);
    a.destroy();
    b.destroy();
  });

  it('counts live marks and bounds them', () => {
    const a = new Arena({ maxBytes: MiB });
    const first = a.mark();
    a.mark();
    expect(a.stats().marks).toBe(2);
    a.rollback(first);
    expect(a.stats().marks).toBe(1);
    a.reset();
    expect(a.stats().marks).toBe(0);
    for (let i = 0; i < MAX_MARKS; i++) a.mark();
    expectCode(() => a.mark(), 'ERR_OFFHEAP_EXHAUSTED', OffheapError);
    a.reset();
    a.mark();
    a.destroy();
  });

  // Rollbacks happen in JS without a native call; the native counters must
  // still see every allocation they freed.
  it('keeps the statistics exact across rollbacks', () => {
    const a = new Arena({ maxBytes: MiB });
    a.alloc(10);
    const m = a.mark();
    for (let i = 0; i < 5; i++) a.alloc(100);
    a.rollback(m);
    expect(a.stats()).toMatchObject({ liveBytes: 10, liveCount: 1, allocCount: 6, freeCount: 5, peakLiveBytes: 564 });
    expect(a.peak).toBe(564);
    a.alloc(10);
    a.reset();
    expect(a.stats()).toMatchObject({ liveBytes: 0, liveCount: 0, allocCount: 7, freeCount: 7, peakLiveBytes: 564 });
    a.verify();
    a.destroy();
  });
});

describe('Arena.scope', () => {
  it('returns fn’s value and rolls back after it', () => {
    const a = new Arena({ maxBytes: MiB });
    a.alloc(32);
    const got = a.scope((arena) => {
      expect(arena).toBe(a);
      arena.alloc(100);
      return 'done';
    });
    expect(got).toBe('done');
    expect(a.used).toBe(32);
    expect(a.stats().marks).toBe(0); // the scope's mark is released, not left behind
    a.destroy();
  });

  // A throwing fn still rolls back, and its error is the one thrown.
  it('rolls back when fn throws', () => {
    const a = new Arena({ maxBytes: MiB });
    const boom = new Error('boom');
    expect(() => a.scope(() => {
      a.alloc(100);
      throw boom;
    })).toThrow(boom);
    expect(a.used).toBe(0);
    a.destroy();
  });

  it('nests', () => {
    const a = new Arena({ maxBytes: MiB });
    a.scope(() => {
      a.alloc(16);
      a.scope(() => {
        a.alloc(16);
        expect(a.used).toBe(32);
      });
      expect(a.used).toBe(16);
      expect(() => a.scope(() => {
        a.alloc(64);
        throw new Error('inner');
      })).toThrow('inner');
      expect(a.used).toBe(16);
    });
    expect(a.used).toBe(0);
    a.destroy();
  });

  // Async fn: the memory lives until the promise settles, then goes, on
  // fulfilment and on rejection alike.
  it('rolls back after the promise settles, resolved or rejected', async () => {
    const a = new Arena({ maxBytes: MiB });
    let seen = 0;
    const p = a.scope(async () => {
      const v = a.alloc(64).fill(7);
      await new Promise((r) => setTimeout(r, 5));
      seen = a.used;
      return v[63];
    });
    expect(a.used).toBe(64); // still allocated while pending
    expect(await p).toBe(7);
    expect(seen).toBe(64);
    expect(a.used).toBe(0);
    await expect(a.scope(async () => {
      a.alloc(64);
      await null;
      throw new Error('rejected');
    })).rejects.toThrow('rejected');
    expect(a.used).toBe(0);
    a.destroy();
  });

  it('nests async scopes', async () => {
    const a = new Arena({ maxBytes: MiB });
    await a.scope(async () => {
      a.alloc(16);
      await a.scope(async () => {
        a.alloc(16);
        await null;
        expect(a.used).toBe(32);
      });
      expect(a.used).toBe(16);
      await expect(a.scope(async () => {
        a.alloc(16);
        throw new Error('x');
      })).rejects.toThrow('x');
      expect(a.used).toBe(16);
    });
    expect(a.used).toBe(0);
    a.destroy();
  });

  // Two async scopes interleaved on one arena break LIFO: the one that ends
  // second finds its mark dead and says so instead of freeing blindly.
  it('detects overlapping async scopes on one arena', async () => {
    const a = new Arena({ maxBytes: MiB });
    let releaseOuter!: () => void;
    const outer = a.scope(() => new Promise<void>((r) => (releaseOuter = r)));
    const inner = a.scope(() => new Promise((r) => setTimeout(r, 10)));
    releaseOuter();
    await outer;
    await expectCodeAsync(() => inner, 'ERR_OFFHEAP_INVALID_HANDLE');
    a.destroy();
  });

  // A reset or destroy inside the scope leaves nothing to roll back: no error.
  it('ends quietly when fn reset or destroyed the arena', async () => {
    const a = new Arena({ maxBytes: MiB });
    a.scope(() => {
      a.alloc(10);
      a.reset();
      a.alloc(20);
    });
    expect(a.used).toBe(20);
    await a.scope(async () => a.destroy());
    expect(a.destroyed).toBe(true);
  });

  it('rejects a non-function', () => {
    const a = new Arena({ maxBytes: MiB });
    for (const bad of [undefined, 1, {}, 'fn']) expectCode(() => a.scope(bad as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    expect(a.stats().marks).toBe(0);
    a.destroy();
  });
});

describe('Arena.scope with odd thenables', () => {
  // A thenable that calls back twice, or whose `then` throws, ends the scope once.
  it('rolls back once whatever the thenable does', async () => {
    const a = new Arena({ maxBytes: 1 << 20 });
    a.alloc(16);
    await expect(a.scope((x) => {
      x.alloc(100);
      return { then(ok: (v: number) => void) { ok(1); ok(2); } };
    })).resolves.toBe(1);
    expect(a.used).toBe(16);
    expect(() => a.scope((x) => {
      x.alloc(100);
      return { get then(): never { throw new Error('getter'); } };
    })).toThrow('getter');
    expect(a.used).toBe(16);
    expect(a.stats().marks).toBe(0);
    a.destroy();
  });
});

describe('Arena.defer', () => {
  // Cleanups run LIFO, once, before the memory is released.
  it('runs cleanups LIFO at reset, before the memory goes', () => {
    const a = new Arena({ maxBytes: MiB });
    const order: string[] = [];
    const v = a.alloc(4).fill(9);
    a.defer(() => order.push(`first saw ${v[0]}`));
    a.defer(() => order.push('second'));
    a.scope(() => a.defer(() => order.push('in scope'))); // rollback does not run them
    expect(order).toEqual([]);
    a.reset();
    expect(order).toEqual(['in scope', 'second', 'first saw 9']);
    a.reset();
    expect(order).toHaveLength(3);
    a.destroy();
  });

  it('runs cleanups at destroy, and one deferred by a cleanup too', () => {
    const a = new Arena({ maxBytes: MiB });
    const order: number[] = [];
    a.defer(() => order.push(1));
    a.defer(() => {
      order.push(2);
      a.defer(() => order.push(3));
    });
    a.destroy();
    expect(order).toEqual([2, 3, 1]);
  });

  // A throwing cleanup does not stop the others nor the reset; its error is
  // thrown afterwards (several: an AggregateError).
  it('runs every cleanup even when some throw, then throws', () => {
    const a = new Arena({ maxBytes: MiB });
    const ran: number[] = [];
    const e1 = new Error('one');
    a.defer(() => ran.push(1));
    a.defer(() => {
      throw e1;
    });
    a.defer(() => ran.push(3));
    a.alloc(64);
    expect(() => a.reset()).toThrow(e1);
    expect(ran).toEqual([3, 1]);
    expect(a.used).toBe(0);
    a.defer(() => {
      throw new Error('a');
    });
    a.defer(() => {
      throw new Error('b');
    });
    let err: unknown;
    try {
      a.destroy();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AggregateError);
    expect((err as AggregateError).errors.map((x: Error) => x.message)).toEqual(['b', 'a']);
    expect(a.destroyed).toBe(true);
  });

  it('rejects non-functions and a destroyed arena', () => {
    const a = new Arena({ maxBytes: MiB });
    expectCode(() => a.defer(42 as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    a.destroy();
    expectCode(() => a.defer(() => 1), 'ERR_OFFHEAP_DESTROYED', OffheapError);
  });
});

describe('Arena.reset', () => {
  it('frees everything, keeps pages by default, validates its options', () => {
    const a = new Arena({ maxBytes: 4 * MiB });
    for (let i = 0; i < 1000; i++) a.alloc(1000);
    const committed = a.committed;
    a.reset();
    expect(a.used).toBe(0);
    expect(a.committed).toBe(committed);
    expect(a.handleOf(a.alloc(8))).toBe(0);
    for (const bad of [null, 1, 'x']) expectCode(() => a.reset(bad as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    expectCode(() => a.reset({ retain: 0 } as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    for (const v of [-1, 1.5, 2 ** 32]) expectCode(() => a.reset({ retainBytes: v }), 'ERR_OUT_OF_RANGE', RangeError);
    expectCode(() => a.reset({ retainBytes: '0' as never }), 'ERR_INVALID_ARG_TYPE', TypeError);
    expect(a.used).toBe(8); // a rejected reset did nothing
    a.reset({ retainBytes: 100_000 });
    expect(a.committed).toBe(Math.ceil(100_000 / 4096) * 4096);
    a.reset({ retainBytes: 0 });
    expect(a.committed).toBe(0);
    a.alloc(10);
    a.verify();
    a.destroy();
  });

  // Zig's retain_with_limit(0): after touching 256 MiB, RSS returns to within
  // 16 MiB of where it started.
  it('gives 256 MiB back to the OS with retainBytes: 0', async () => {
    await collect();
    const a = new Arena({ maxBytes: 512 * MiB });
    const start = rss();
    for (let i = 0; i < 256; i++) a.alloc(MiB, 4096).fill(i);
    expect(rss() - start).toBeGreaterThan(240 * MiB);
    expect(a.committed).toBeGreaterThanOrEqual(256 * MiB);
    a.reset({ retainBytes: 0 });
    expect(a.committed).toBe(0);
    expect(rss() - start).toBeLessThan(16 * MiB);
    a.destroy();
  });
});

describe('Arena.destroy', () => {
  // Every call after destroy is ERR_OFFHEAP_DESTROYED; destroy itself is idempotent.
  it('makes every later call throw ERR_OFFHEAP_DESTROYED', () => {
    const a = new Arena({ maxBytes: MiB });
    const m = a.mark();
    a[Symbol.dispose]();
    expect(a.destroyed).toBe(true);
    const calls: (() => unknown)[] = [
      () => a.alloc(1), () => a.alloc(0), () => a.allocZeroed(1), () => a.allocHandle(0), () => a.allocHandle(16, 8),
      () => a.mark(), () => a.rollback(m), () => a.reset(), () => a.verify(), () => a.scope(() => 1), () => a.defer(() => 1),
    ];
    for (const call of calls) expectCode(call, 'ERR_OFFHEAP_DESTROYED', OffheapError);
    a.destroy();
    expect(a.used).toBe(0);
    expect(a.committed).toBe(0);
  });

  // A stale view never crashes and never shows the old bytes: destroy() gives
  // the pages back without detaching (Node's I/O may hold the view).
  it('leaves stale views reading zeros, with no old bytes', () => {
    const a = new Arena({ maxBytes: MiB });
    const v = a.alloc(64).fill(0xab);
    a.destroy();
    expect(v.length).toBe(64);
    expect(v.every((x) => x === 0)).toBe(true);
    expect(a.buffer.byteLength).toBe(0);
    v.fill(1); // lands in the destroyed arena's own range, still reserved while v lives
    expect(v[0]).toBe(1);
  });

  // An arena collected without destroy() keeps the pages its views still use.
  it('keeps memory alive for views when the arena itself is collected', async () => {
    let ref!: WeakRef<Arena>;
    const make = () => {
      const a = new Arena({ maxBytes: MiB });
      ref = new WeakRef(a);
      return a.alloc(32).fill(0x5a);
    };
    const v = make();
    for (let i = 0; i < 10 && ref.deref() !== undefined; i++) await collect();
    expect(ref.deref()).toBeUndefined();
    expect(v.length).toBe(32);
    expect(v.every((b) => b === 0x5a)).toBe(true);
  });
});

describe('Arena shared words are untrusted', () => {
  // Whatever is written into the shared words, no allocation leaves the
  // region, native code repairs the words, and verify() reports it.
  it('clamps a forged cursor or limit and reports it', () => {
    const a = new Arena({ maxBytes: 256 * KiB });
    const words = wordsOf(a);
    a.alloc(100);
    words[0] = -5;
    expectCode(() => a.alloc(70_000), 'ERR_OFFHEAP_CORRUPTED', OffheapError); // goes native: refused, repaired
    expect(words[0]).toBe(words[1]); // clamped up to the limit, never down
    a.alloc(10);
    expect(a.used).toBeLessThanOrEqual(a.maxBytes);
    words[1] = 0x7fffffff; // a forged limit lets the JS path run on ...
    expect(() => {
      for (let i = 0; i < 100; i++) a.alloc(8192);
    }).toThrow(RangeError); // ... only until the view would leave the region: V8 refuses, nothing crashes
    expectCode(() => a.verify(), 'ERR_OFFHEAP_CORRUPTED', OffheapError);
    a.verify(); // repaired
    words[0] = 0x7fffff00;
    a.reset();
    expect(a.used).toBe(0);
    a.verify();
    a.destroy();
  });
});

describe('Arena debug mode', () => {
  const debugArena = (debug: object | boolean = true) => new Arena({ maxBytes: MiB, debug: debug as never });

  // Release mode keeps the prototype's methods: the debug switch costs the
  // fast path nothing.
  it('swaps methods once at construction', () => {
    const release = new Arena({ maxBytes: MiB });
    const debug = debugArena();
    expect(Object.hasOwn(release, 'alloc')).toBe(false);
    expect(Object.hasOwn(debug, 'alloc')).toBe(true);
    expect(wordsOf(debug)[1]).toBe(-1); // no JS fast path: every allocation is checked natively
    release.destroy();
    debug.destroy();
  });

  it('poisons fresh memory 0xD0 unless zeroed', () => {
    const a = debugArena();
    const bytes = new Uint8Array(a.buffer);
    expect(a.alloc(32).every((b) => b === 0xd0)).toBe(true);
    const h = a.allocHandle(16);
    expect(bytes.subarray(h, h + 16).every((b) => b === 0xd0)).toBe(true);
    expect(a.allocZeroed(32).every((b) => b === 0)).toBe(true);
    expect(bytes.subarray(h + 16, h + 32).every((b) => b === 0xde)).toBe(true); // red zone
    a.destroy();
  });

  // A write past the end lands in the red zone and is reported, naming the
  // arena and the offset, at rollback, reset and verify.
  it('reports red-zone overflows at rollback, reset and verify', () => {
    const a = debugArena({ redZone: 8 });
    const first = a.alloc(10);
    const m = a.mark();
    const h = a.allocHandle(20);
    const bytes = new Uint8Array(a.buffer);
    bytes[h + 20] = 1;
    let err: OffheapError | undefined;
    try {
      a.verify();
    } catch (e) {
      err = e as OffheapError;
    }
    expect(err?.code).toBe('ERR_OFFHEAP_OVERFLOW');
    expect(err?.message).toContain(a.name);
    expect(err?.message).toContain(`offset ${h} `);
    expectCode(() => a.rollback(m), 'ERR_OFFHEAP_OVERFLOW', OffheapError);
    expect(a.used).toBe(10 + 8); // rolled back anyway, to the end of the first red zone
    a.verify();
    bytes[10] = 0; // first allocation's red zone
    expectCode(() => a.reset(), 'ERR_OFFHEAP_OVERFLOW', OffheapError);
    expect(a.used).toBe(0);
    if (externalBacking) expect(first.length).toBe(0); // and its view was detached all the same
    a.destroy();
  });

  // Memory written after its rollback is reported when reused and by verify().
  it('reports writes to rolled-back memory', () => {
    const a = debugArena();
    const m = a.mark();
    const h = a.allocHandle(64);
    a.rollback(m);
    const bytes = new Uint8Array(a.buffer);
    expect(bytes.subarray(h, h + 64).every((b) => b === 0xdf)).toBe(true);
    bytes[h + 3] = 1; // a stale handle writes
    expectCode(() => a.verify(), 'ERR_OFFHEAP_USE_AFTER_FREE', OffheapError);
    a.verify(); // reported once, then re-poisoned
    bytes[h + 5] = 1;
    expectCode(() => a.alloc(64), 'ERR_OFFHEAP_USE_AFTER_FREE', OffheapError);
    expect(a.handleOf(a.alloc(64))).toBe(0);
    a.destroy();
  });

  // Stale views die: rolled back or reset views are detached one by one; destroyed ones read zeros.
  it.runIf(externalBacking)('detaches stale views at rollback and reset; destroyed ones read zeros', () => {
    const a = debugArena();
    const keep = a.alloc(8);
    const m = a.mark();
    const gone = a.alloc(8);
    expect(gone.buffer).not.toBe(a.buffer); // a view of its own
    a.rollback(m);
    expect(gone.byteLength).toBe(0);
    expect(keep.byteLength).toBe(8);
    a.reset();
    expect(keep.byteLength).toBe(0);
    const last = a.alloc(8).fill(5);
    a.destroy();
    expect(last.byteLength).toBe(8); // destroy() detaches nothing (I/O may hold a view) ...
    expect(last.every((x) => x === 0)).toBe(true); // ... the pages are gone: zeros
  });

  it('lists live allocations with their stacks in leaks()', () => {
    const a = debugArena({ leaks: 'paranoid' });
    a.alloc(10);
    const h = a.allocHandle(20);
    const leaks = a.leaks();
    expect(leaks.map((l) => [l.offset, l.size])).toEqual([[0, 10], [h, 20]]);
    for (const l of leaks) expect(l.stack).toContain('arena.test');
    a.reset();
    expect(a.leaks()).toEqual([]);
    const sampled = debugArena({ leaks: 'sample' });
    for (let i = 0; i < 64; i++) sampled.allocHandle(1);
    const withStack = sampled.leaks().filter((l) => l.stack !== undefined).length;
    expect(withStack).toBeGreaterThan(0);
    expect(withStack).toBeLessThan(64);
    const off = debugArena({ leaks: 'off' });
    off.alloc(1);
    expect(off.leaks()).toEqual([{ offset: 0, size: 1, stack: undefined }]);
    expect(new Arena({ maxBytes: MiB }).leaks()).toEqual([]); // release mode tracks nothing
    for (const x of [a, sampled, off]) x.destroy();
  });

  it('turns on with OFFHEAP_DEBUG=1', () => {
    const saved = process.env.OFFHEAP_DEBUG;
    process.env.OFFHEAP_DEBUG = '1';
    try {
      const a = new Arena({ maxBytes: MiB });
      expect(a.debug.enabled).toBe(true);
      expect(a.alloc(4)[0]).toBe(0xd0);
      a.destroy();
    } finally {
      if (saved === undefined) delete process.env.OFFHEAP_DEBUG;
      else process.env.OFFHEAP_DEBUG = saved;
    }
  });
});

describe('Arena is not shareable', () => {
  // An arena belongs to one thread: cloning or posting it is a clear error.
  it('refuses structuredClone, postMessage and share()', () => {
    const a = new Arena({ maxBytes: MiB, name: 'req' });
    expectCode(() => structuredClone(a), 'ERR_OFFHEAP_NOT_SHAREABLE', OffheapError);
    const { port1, port2 } = new MessageChannel();
    try {
      expectCode(() => port1.postMessage({ arena: a }), 'ERR_OFFHEAP_NOT_SHAREABLE', OffheapError);
    } finally {
      port1.close();
      port2.close();
    }
    expectCode(() => a.share(), 'ERR_OFFHEAP_NOT_SHAREABLE', OffheapError);
    expect(JSON.parse(JSON.stringify(a))).toMatchObject({ kind: 'Arena', name: 'req' });
    a.destroy();
  });
});

describe('Arena binding', () => {
  // Native entry points never trust a JS value as an arena handle.
  it('rejects foreign handles', () => {
    const r = native.regionCreate(MiB);
    const n = native as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const fn of ['arenaAlloc', 'arenaRewind', 'arenaReset', 'arenaVerify', 'arenaStats', 'arenaState', 'arenaBuffer', 'arenaDestroy']) {
      for (const bad of [r, {}, 1, undefined]) expectCode(() => n[fn](bad, 1, 1, false), 'ERR_INVALID_ARG_TYPE', TypeError);
    }
    native.regionDestroy(r);
  });

  // Pins: an abort (FATAL ERROR Error::New) when a worker stopped while a creator coerced its
  // boolean argument: the addon reads booleans as booleans, anything else is a TypeError.
  it('reads boolean arguments as booleans, never by coercion', () => {
    const n = native as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const bad of [1, 'yes', null, undefined, {}]) {
      expectCode(() => n.poolCreate(64, 16, 64, bad, 0, false, 'p'), 'ERR_INVALID_ARG_TYPE', TypeError);
      expectCode(() => n.poolCreate(64, 16, 64, true, 0, bad, 'p'), 'ERR_INVALID_ARG_TYPE', TypeError);
      expectCode(() => n.slabCreate(MiB, 65536, null, 1, bad, 0, 's'), 'ERR_INVALID_ARG_TYPE', TypeError);
    }
    const h = n.arenaCreate(MiB, 'a', false, false, 0);
    for (const bad of [0, 'no', null]) expectCode(() => n.arenaAlloc(h, 8, 8, bad), 'ERR_INVALID_ARG_TYPE', TypeError);
    expect(n.arenaAlloc(h, 8, 8, true)).toBe(0);
    n.arenaDestroy(h);
  });
});
