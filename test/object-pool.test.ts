// ObjectPool: semantics, a randomized model test, every misuse path,
// capacity and growth edges, slot sizes and alignments, debug detections.
import { afterEach, describe, expect, it } from 'vitest';
import { ObjectPool } from '../lib/object-pool';
import { slotReciprocal } from '../lib/layout';
import { OffheapError } from '../lib/errors';
import { LEAK_SAMPLE_EVERY } from '../lib/debug-ledger';
import { stats as moduleStats } from '../lib/registry';
import { collect, expectCode, externalBacking, HOSTILE } from './helpers';

const pools: ObjectPool[] = [];
function pool(options: ConstructorParameters<typeof ObjectPool>[0]): ObjectPool {
  const p = new ObjectPool(options);
  pools.push(p);
  return p;
}
afterEach(() => {
  for (const p of pools.splice(0)) p.destroy();
});

/** Deterministic PRNG for the model test (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('ObjectPool semantics', () => {
  it('hands out distinct, aligned handles into one buffer', () => {
    const p = pool({ slotSize: 24, capacity: 100 });
    expect(p.slotSize).toBe(24);
    expect(p.capacity).toBe(100);
    expect(p.buffer).toBeInstanceOf(externalBacking ? ArrayBuffer : SharedArrayBuffer);
    expect(p.buffer.byteLength).toBeGreaterThanOrEqual(2400);
    const seen = new Set<number>();
    for (let i = 0; i < 100; i++) {
      const h = p.allocHandle();
      expect(Number.isInteger(h)).toBe(true);
      expect(h % 8).toBe(0);
      expect(h % 24).toBe(0);
      expect(h + 24).toBeLessThanOrEqual(2400);
      seen.add(h);
    }
    expect(seen.size).toBe(100);
    expect(p.live).toBe(100);
  });

  it('handles plus a DataView make a record layer', () => {
    const p = pool({ slotSize: 16, capacity: 1000 });
    const dv = new DataView(p.buffer);
    const hs: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const h = p.allocHandle();
      dv.setUint32(h, i, true);
      dv.setFloat64(h + 8, i / 2, true);
      hs.push(h);
    }
    for (let i = 0; i < 1000; i += 2) p.freeHandle(hs[i]);
    for (let i = 0; i < 500; i++) p.allocHandle(); // reuse the freed half
    for (let i = 1; i < 1000; i += 2) {
      expect(dv.getUint32(hs[i], true)).toBe(i);
      expect(dv.getFloat64(hs[i] + 8, true)).toBe(i / 2);
    }
  });

  it('alloc() returns a real Buffer over the slot; view() another over the same bytes', () => {
    const p = pool({ slotSize: 32, capacity: 10 });
    const b = p.alloc();
    expect(Buffer.isBuffer(b)).toBe(true);
    expect(b.length).toBe(32);
    expect(Object.getPrototypeOf(b)).toBe(Buffer.prototype);
    b.write('hello');
    const v = p.view(p.handleOf(b));
    expect(v.toString('utf8', 0, 5)).toBe('hello');
    expect(new Uint8Array(p.buffer, p.handleOf(b), 5)).toEqual(new Uint8Array(Buffer.from('hello')));
    p.free(v); // a view() Buffer frees its slot too
    expect(p.live).toBe(0);
  });

  // Release mode recycles the Buffer of a slot given back with free(buf).
  it('recycles the Buffer objects of freed slots, never another slot\'s', () => {
    const p = pool({ slotSize: 64, capacity: 1000 });
    const a = p.alloc();
    p.free(a);
    const b = p.alloc();
    expect(p.handleOf(b)).toBe(p.handleOf(a));
    expect(b).toBe(a);
    const c = p.alloc();
    expect(c).not.toBe(b);
    expect(p.handleOf(c)).not.toBe(p.handleOf(b));
  });

  it('reports stats as plain numbers and in the module-level sum', () => {
    const p = pool({ slotSize: 64, capacity: 10, name: 'stats-pool' });
    const hs = [p.allocHandle(), p.allocHandle(), p.allocHandle()];
    p.freeHandle(hs[0]);
    expect(p.tryAllocHandle()).toBeGreaterThanOrEqual(0);
    const s = p.stats();
    expect(s).toMatchObject({ liveCount: 3, liveBytes: 192, allocCount: 4, freeCount: 1, failedCount: 0, slotSize: 64, capacity: 10, attachments: 1 });
    expect(s.reservedBytes).toBeGreaterThanOrEqual(640);
    expect(s.committedBytes).toBeGreaterThan(0);
    expect(s.depotSlots + s.cachedSlots + s.liveCount).toBeLessThanOrEqual(10);
    for (let i = 0; i < 7; i++) p.allocHandle();
    expect(p.tryAllocHandle()).toBe(-1);
    expect(p.stats().failedCount).toBe(1);
    expect(p.stats().peakLiveBytes).toBe(640);
    const total = moduleStats();
    expect(total.liveCount).toBeGreaterThanOrEqual(10);
    expect(p.name).toBe('stats-pool');
    expect(p.kind).toBe('ObjectPool');
  });

  // A random mix of alloc / free / write / read against a model: no handle
  // live twice, contents survive, live count exact.
  it('matches a model under 20000 random operations', () => {
    const random = rng(42);
    const p = pool({ slotSize: 12, capacity: 300, align: 4 });
    const dv = new DataView(p.buffer);
    const model = new Map<number, number>(); // handle -> tag
    let tag = 1;
    for (let op = 0; op < 20000; op++) {
      const r = random();
      if (r < 0.5) {
        const h = p.tryAllocHandle();
        if (h === -1) {
          expect(model.size).toBe(300);
          continue;
        }
        expect(model.has(h)).toBe(false);
        model.set(h, tag);
        dv.setUint32(h, tag, true);
        dv.setUint32(h + 8, ~tag, true);
        tag++;
      } else if (model.size > 0) {
        const keys = [...model.keys()];
        const h = keys[Math.floor(random() * keys.length)];
        expect(dv.getUint32(h, true)).toBe(model.get(h));
        expect(dv.getUint32(h + 8, true)).toBe(~model.get(h)! >>> 0);
        if (r < 0.9) {
          if (random() < 0.5) p.freeHandle(h);
          else p.free(p.view(h));
          model.delete(h);
        }
      }
      if (op % 2500 === 0) {
        expect(p.live).toBe(model.size);
        p.verify();
      }
    }
    expect(p.live).toBe(model.size);
    expect(p.stats().liveCount).toBe(model.size);
    p.verify();
  });

  it('destroy() empties the buffer, flushes the magazine, and is idempotent', () => {
    const p = new ObjectPool({ slotSize: 64, capacity: 100 });
    const h = p.allocHandle();
    const b = p.view(h).fill(9);
    p.destroy();
    expect(p.destroyed).toBe(true);
    if (externalBacking) {
      expect(p.buffer.byteLength).toBe(0);
      expect(b.every((x) => x === 0)).toBe(true); // pages given back; the view is not detached
    }
    p.destroy();
  });

  it('`using` disposes the pool', () => {
    let kept: ObjectPool | undefined;
    {
      using p = new ObjectPool({ slotSize: 8, capacity: 8 });
      kept = p;
      p.allocHandle();
    }
    expect(kept!.destroyed).toBe(true);
  });
});

describe('ObjectPool capacity and growth', () => {
  // The pool must hand out exactly `capacity` slots: one more is an error.
  it('exhausts at exactly capacity, also through alloc()', () => {
    for (const capacity of [1, 2, 3, 17, 1000]) {
      const p = pool({ slotSize: 16, capacity });
      for (let i = 0; i < capacity; i++) p.allocHandle();
      expect(p.tryAllocHandle()).toBe(-1);
      expectCode(() => p.allocHandle(), 'ERR_OFFHEAP_EXHAUSTED', OffheapError);
      expectCode(() => p.alloc(), 'ERR_OFFHEAP_EXHAUSTED', OffheapError);
      expect(p.live).toBe(capacity);
    }
  });

  // Freed slots cached in this thread's magazine still count as free.
  it('reuses freed slots when full, with slots cached in the magazine', () => {
    const p = pool({ slotSize: 16, capacity: 5000 });
    const hs = Array.from({ length: 5000 }, () => p.allocHandle());
    for (const h of hs) p.freeHandle(h);
    const again = new Set(Array.from({ length: 5000 }, () => p.allocHandle()));
    expect(again.size).toBe(5000);
    expect(p.tryAllocHandle()).toBe(-1);
  });

  it('grows its committed bytes chunk by chunk', () => {
    const p = pool({ slotSize: 64, capacity: 100000 });
    const start = p.stats().committedBytes;
    p.allocHandle();
    const one = p.stats().committedBytes;
    expect(one).toBeGreaterThan(start);
    expect(one).toBeLessThan(64 * 100000);
    for (let i = 0; i < 5000; i++) p.allocHandle();
    expect(p.stats().committedBytes).toBeGreaterThan(one);
  });

  it('growable:false and preheat commit up front', () => {
    const fixed = pool({ slotSize: 64, capacity: 10000, growable: false });
    expect(fixed.stats().committedBytes).toBeGreaterThanOrEqual(640000);
    const warm = pool({ slotSize: 64, capacity: 10000, preheat: 3000 });
    const committed = warm.stats().committedBytes;
    expect(committed).toBeGreaterThanOrEqual(192000);
    expect(committed).toBeLessThan(640000);
    for (let i = 0; i < 3000; i++) warm.allocHandle();
    expect(warm.stats().committedBytes).toBe(committed);
    const full = pool({ slotSize: 64, capacity: 100, growable: false, preheat: 100 });
    for (let i = 0; i < 100; i++) full.allocHandle();
    expect(full.tryAllocHandle()).toBe(-1);
  });

  // capacity * slotSize is bounded by the 2 GiB region, so handles stay small integers.
  it('bounds capacity so the region stays within 2 GiB', () => {
    const max = Math.floor(2 ** 31 / 64);
    const big = pool({ slotSize: 64, capacity: max });
    expect(big.buffer.byteLength).toBe(2 ** 31);
    expect(big.allocHandle()).toBeLessThan(2 ** 31);
    expectCode(() => new ObjectPool({ slotSize: 64, capacity: max + 1 }), 'ERR_OUT_OF_RANGE', RangeError);
    expectCode(() => new ObjectPool({ slotSize: 2 ** 24, capacity: 129 }), 'ERR_OUT_OF_RANGE', RangeError);
  });
});

describe('ObjectPool slot sizes and alignments', () => {
  // Pins: windows that let a slot lie across their end (a view then made over an ArrayBuffer of
  // its own, one per view), or overlap (V8 counting parts of the region twice).
  it.runIf(externalBacking)('puts every slot view on a window of whole slots, none overlapping', () => {
    for (const [slotSize, capacity] of [[200, 1000], [4096, 40], [24, 6000], [70_000, 5]] as const) {
      const p = new ObjectPool({ slotSize, capacity, growable: false });
      const s = p.slotSize;
      const windowBytes = s >= 64 * 1024 ? s : Math.floor((64 * 1024) / s) * s;
      const views = Array.from({ length: capacity }, () => p.alloc());
      const seen = new Map<ArrayBuffer, number>();
      for (const v of views) {
        const h = p.handleOf(v);
        expect(v.length).toBe(s);
        expect(v.byteOffset).toBe(h % windowBytes);
        const window = Math.floor(h / windowBytes);
        // The windows before the last are whole; each is one ArrayBuffer for all its slots.
        if ((window + 1) * windowBytes <= p.buffer.byteLength) expect(v.buffer.byteLength).toBe(windowBytes);
        expect(seen.get(v.buffer as ArrayBuffer) ?? window).toBe(window);
        seen.set(v.buffer as ArrayBuffer, window);
        v.fill(h % 251);
      }
      expect(seen.size).toBe(Math.ceil((capacity * s) / windowBytes));
      const bytes = new Uint8Array(p.buffer);
      for (const v of views) {
        const h = p.handleOf(v);
        expect(bytes[h]).toBe(h % 251);
        expect(bytes[h + s - 1]).toBe(h % 251);
      }
      p.destroy();
    }
  });

  // Every slot size 1..4096 rounds as Zig's item_size does and keeps neighbours apart.
  it('rounds every size 1..4096 up to hold the link and the alignment', () => {
    for (let size = 1; size <= 4096; size++) {
      const p = new ObjectPool({ slotSize: size, capacity: 3 });
      const expected = Math.ceil(Math.max(size, 4) / 8) * 8;
      expect(p.slotSize).toBe(expected);
      const a = p.view(p.allocHandle());
      const b = p.view(p.allocHandle());
      a.fill(0xaa);
      b.fill(0x55);
      expect(a.every((x) => x === 0xaa)).toBe(true);
      p.destroy();
    }
  });

  // Two threads served batches in turn must not share a cache line of state
  // bytes (64 per line): a batch is 128 fresh slots, carved from slot 0 on.
  it('refills a magazine 128 slots at a time, whole cache lines of the state table', () => {
    const p = pool({ slotSize: 16, capacity: 1 << 16 });
    const first = Array.from({ length: 128 }, () => p.allocHandle());
    expect(p.stats().cachedSlots).toBe(0);
    expect(Math.min(...first)).toBe(0);
    expect(Math.max(...first)).toBe(127 * 16);
    p.allocHandle();
    expect(p.stats().cachedSlots).toBe(127); // the next batch, slots 128 .. 255
  });

  // The hint changes where pages come from, never what the pool does.
  it('works the same with hugePages: true, growable or not', () => {
    for (const growable of [true, false]) {
      const p = pool({ slotSize: 64, capacity: 40_000, hugePages: true, growable });
      const hs = Array.from({ length: 40_000 }, () => p.allocHandle());
      expect(new Set(hs).size).toBe(40_000);
      expect(p.tryAllocHandle()).toBe(-1);
      const bytes = new Uint8Array(p.buffer);
      for (const h of hs) bytes[h + 63] = 0x5a;
      for (const h of hs) p.freeHandle(h);
      p.verify();
      expect(p.live).toBe(0);
    }
  });

  it('aligns every slot to 1..4096', () => {
    for (let align = 1; align <= 4096; align *= 2) {
      for (const size of [1, 3, 7, 24, 100, 4096]) {
        const p = new ObjectPool({ slotSize: size, capacity: 4, align });
        // Zig's rule: room for the 4-byte link, rounded up to max(align, 4).
        const a = Math.max(align, 4);
        expect(p.slotSize).toBe(Math.ceil(Math.max(size, 4) / a) * a);
        expect(p.slotSize % Math.max(align, 4)).toBe(0);
        for (let i = 0; i < 4; i++) expect(p.allocHandle() % Math.max(align, 4)).toBe(0);
        p.destroy();
      }
    }
  });
});

  // Pins: a reciprocal rounded to nearest (1 / size), whose product with some exact multiples falls just below their index.
  it('turns every multiple of every slot size below 2 GiB into its index with one multiply', () => {
    const sizes = [...Array.from({ length: 1024 }, (_, k) => 4 * (k + 1)), 4100, 12_345 * 4, 65_540, 999_996, 1 << 20, (1 << 24) - 4, 1 << 24];
    for (const size of sizes) {
      const r = slotReciprocal(size);
      const top = Math.floor((2 ** 31 - 1) / size);
      // The first and the last indices below 2^31, and a stride through the rest.
      const step = Math.max(1, Math.floor(top / 2000));
      for (let i = 0; i <= top; i += i < 2000 || i > top - 2000 ? 1 : step) {
        const h = i * size;
        if (((h * r) | 0) !== i) throw new Error(`slot size ${size}: handle ${h} gave index ${(h * r) | 0}, not ${i}`);
        // A neighbour of a multiple never passes the product check.
        for (const g of [h - 1, h + 1, h + 0.5]) {
          if (((g * r) | 0) * size === g) throw new Error(`slot size ${size}: ${g} passed as a multiple`);
        }
      }
    }
    // The same arithmetic over a live pool of an awkward size: frees and views by handle, and what is not one.
    const p = new ObjectPool({ slotSize: 100, capacity: 1000 });
    const hs = Array.from({ length: 1000 }, () => p.allocHandle());
    for (const h of hs) expect(p.view(h).byteOffset % 4).toBe(0);
    expectCode(() => p.freeHandle(hs[5] + 4), 'ERR_OFFHEAP_INVALID_HANDLE');
    for (const h of hs) p.freeHandle(h);
    expectCode(() => p.freeHandle(hs[7]), 'ERR_OFFHEAP_DOUBLE_FREE');
    p.destroy();
  });

describe('ObjectPool misuse', () => {
  // A typo or a wrong type in the options is a Node-style error, never ignored.
  it('validates every option', () => {
    const ok = { slotSize: 16, capacity: 10 };
    expectCode(() => new ObjectPool(undefined as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    expectCode(() => new ObjectPool(5 as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    expectCode(() => new ObjectPool({ ...ok, slotsize: 16 } as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    for (const key of ['slotSize', 'capacity', 'align', 'preheat'] as const) {
      for (const bad of HOSTILE) {
        let err: unknown;
        try {
          new ObjectPool({ ...ok, [key]: bad }).destroy();
        } catch (e) {
          err = e;
        }
        expect(err, `${key}: ${String(bad)}`).toBeDefined();
        expect(['ERR_INVALID_ARG_TYPE', 'ERR_OUT_OF_RANGE']).toContain((err as { code: string }).code);
      }
    }
    expectCode(() => new ObjectPool({ ...ok, slotSize: 0 }), 'ERR_OUT_OF_RANGE', RangeError);
    expectCode(() => new ObjectPool({ ...ok, slotSize: 2 ** 24 + 1 }), 'ERR_OUT_OF_RANGE', RangeError);
    expectCode(() => new ObjectPool({ ...ok, capacity: 0 }), 'ERR_OUT_OF_RANGE', RangeError);
    expectCode(() => new ObjectPool({ ...ok, align: 3 }), 'ERR_OUT_OF_RANGE', RangeError);
    expectCode(() => new ObjectPool({ ...ok, align: 8192 }), 'ERR_OUT_OF_RANGE', RangeError);
    expectCode(() => new ObjectPool({ ...ok, preheat: 11 }), 'ERR_OUT_OF_RANGE', RangeError);
    expectCode(() => new ObjectPool({ ...ok, growable: 'no' as never }), 'ERR_INVALID_ARG_TYPE', TypeError);
    expectCode(() => new ObjectPool({ ...ok, hugePages: 1 as never }), 'ERR_INVALID_ARG_TYPE', TypeError);
    expectCode(() => new ObjectPool({ ...ok, growable: false, preheat: 5 }), 'ERR_OUT_OF_RANGE', RangeError);
    expectCode(() => new ObjectPool({ ...ok, name: 5 as never }), 'ERR_INVALID_ARG_TYPE', TypeError);
    expectCode(() => new ObjectPool({ ...ok, debug: 'yes' as never }), 'ERR_INVALID_ARG_TYPE', TypeError);
  });

  // A second free must throw at the call, wherever the slot now sits.
  it('throws ERR_OFFHEAP_DOUBLE_FREE in the magazine, in the depot and after reuse', () => {
    const p = pool({ slotSize: 16, capacity: 2000 });
    const h = p.allocHandle();
    p.freeHandle(h);
    expectCode(() => p.freeHandle(h), 'ERR_OFFHEAP_DOUBLE_FREE', OffheapError); // in the magazine
    const hs = Array.from({ length: 1500 }, () => p.allocHandle());
    for (const x of hs) p.freeHandle(x); // most drained to the depot
    for (const x of hs) expectCode(() => p.freeHandle(x), 'ERR_OFFHEAP_DOUBLE_FREE');
    const b = p.alloc();
    p.free(b);
    expectCode(() => p.free(b), 'ERR_OFFHEAP_DOUBLE_FREE');
    expect(p.live).toBe(0);
    p.verify();
  });

  // Offsets that were never a live slot must not be accepted as frees.
  it('throws ERR_OFFHEAP_INVALID_HANDLE for misaligned, out-of-range and never-carved offsets', () => {
    const p = pool({ slotSize: 16, capacity: 1000 });
    const h = p.allocHandle();
    for (const bad of [h + 1, h + 8, -16, -1, 16000, 16 * 999 + 8, 2 ** 31, 2 ** 40, 1.5, NaN, Infinity, -0.5]) {
      expectCode(() => p.freeHandle(bad), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError);
    }
    // A carved slot waiting in the magazine is free, as in a SlabAllocator:
    // freeing it is a double free, whether or not it was ever handed out.
    const others = Array.from({ length: 1000 }, (_, i) => i * 16).filter((x) => x !== h);
    expectCode(() => p.freeHandle(others[0]), 'ERR_OFFHEAP_DOUBLE_FREE');
    expectCode(() => p.freeHandle(16 * 999), 'ERR_OFFHEAP_INVALID_HANDLE'); // never carved
    for (const bad of ['16', null, undefined, {}, [], 1n, true, Symbol('x')]) {
      expectCode(() => p.freeHandle(bad as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    }
    expect(p.live).toBe(1);
  });

  // Only exactly one of this pool's slots may be freed through a Buffer.
  it('refuses Buffers that are not exactly one of its slots', () => {
    const p = pool({ slotSize: 64, capacity: 100 });
    const other = pool({ slotSize: 64, capacity: 100 });
    const b = p.alloc();
    const mine = other.alloc();
    expectCode(() => p.free(Buffer.alloc(64)), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError);
    expectCode(() => p.free(mine), 'ERR_OFFHEAP_INVALID_HANDLE');
    expectCode(() => p.free(b.subarray(0, 32)), 'ERR_OFFHEAP_INVALID_HANDLE');
    expectCode(() => p.free(b.subarray(8)), 'ERR_OFFHEAP_INVALID_HANDLE');
    expectCode(() => p.free(Buffer.from(p.buffer, p.handleOf(b) + 8, 64)), 'ERR_OFFHEAP_INVALID_HANDLE');
    expectCode(() => p.free(new Uint8Array(p.buffer, 64 * 99, 64)), 'ERR_OFFHEAP_INVALID_HANDLE'); // never allocated
    for (const bad of [undefined, null, 5, 'buf', {}, new ArrayBuffer(64), new Proxy(b, {})]) {
      expectCode(() => p.free(bad as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    }
    // A view of this pool made by hand is fine when it spans exactly a live slot.
    p.free(new Uint8Array(p.buffer, p.handleOf(b), 64));
    expect(p.live).toBe(0);
    expect(other.live).toBe(1);
  });

  it('view() accepts live handles only', () => {
    const p = pool({ slotSize: 32, capacity: 100 });
    const h = p.allocHandle();
    p.freeHandle(h);
    expectCode(() => p.view(h), 'ERR_OFFHEAP_INVALID_HANDLE');
    expectCode(() => p.view(32 * 50), 'ERR_OFFHEAP_INVALID_HANDLE');
    expectCode(() => p.view(3), 'ERR_OFFHEAP_INVALID_HANDLE');
    expectCode(() => p.view('0' as never), 'ERR_INVALID_ARG_TYPE', TypeError);
  });

  // Every entry point after destroy() is ERR_OFFHEAP_DESTROYED, not a crash or stale data.
  it('throws ERR_OFFHEAP_DESTROYED from every method after destroy()', () => {
    const p = new ObjectPool({ slotSize: 32, capacity: 100 });
    const h = p.allocHandle();
    const b = p.alloc();
    p.destroy();
    const calls: (() => unknown)[] = [
      () => p.allocHandle(), () => p.tryAllocHandle(), () => p.freeHandle(h), () => p.alloc(),
      () => p.free(b), () => p.view(h), () => p.live, () => p.stats(), () => p.verify(),
      () => p.leaks(), () => p.share(),
    ];
    for (const call of calls) expectCode(call, 'ERR_OFFHEAP_DESTROYED', OffheapError);
  });

  // A free slot's link overwritten through `buffer` must be caught, never followed.
  it('reports a corrupted free-list link and keeps working', () => {
    const p = pool({ slotSize: 16, capacity: 64 });
    const dv = new DataView(p.buffer);
    const hs = Array.from({ length: 64 }, () => p.allocHandle());
    for (const h of hs) p.freeHandle(h); // most go back to the depot's list
    for (const h of hs) dv.setUint32(h, 0x7fffffff, true); // write after free
    let corrupted = 0;
    const got = new Set<number>();
    for (let i = 0; i < 200 && got.size < 64; i++) {
      try {
        got.add(p.allocHandle());
      } catch (e) {
        expect((e as OffheapError).code).toBe('ERR_OFFHEAP_CORRUPTED');
        corrupted++;
      }
    }
    expect(corrupted).toBeGreaterThan(0);
    expect(got.size).toBe(64); // every slot handed out once, none twice
    expect(p.tryAllocHandle()).toBe(-1);
    p.verify();
  });

  // A link naming a live slot would hand it to a second owner.
  it('never hands out a live slot that a forged link names', () => {
    const p = pool({ slotSize: 16, capacity: 64 });
    const dv = new DataView(p.buffer);
    const hs = Array.from({ length: 64 }, () => p.allocHandle());
    const keep = hs.slice(0, 8);
    for (const h of hs.slice(8)) p.freeHandle(h);
    for (const h of hs.slice(8)) dv.setUint32(h, keep[0] / 16, true);
    const handed = new Set<number>();
    for (let i = 0; i < 200 && handed.size < 56; i++) {
      try {
        const h = p.allocHandle();
        expect(keep).not.toContain(h);
        handed.add(h);
      } catch (e) {
        expect((e as OffheapError).code).toBe('ERR_OFFHEAP_CORRUPTED');
      }
    }
    expect(handed.size).toBe(56);
  });

  it('verify() reports and repairs a corrupted free list', () => {
    const p = pool({ slotSize: 16, capacity: 64 });
    const dv = new DataView(p.buffer);
    const hs = Array.from({ length: 64 }, () => p.allocHandle());
    for (const h of hs) p.freeHandle(h);
    for (const h of hs) dv.setUint32(h, 3, true); // every link -> slot 3: a cycle
    expectCode(() => p.verify(), 'ERR_OFFHEAP_CORRUPTED', OffheapError);
    p.verify(); // rebuilt from the state table
    expect(new Set(Array.from({ length: 64 }, () => p.allocHandle())).size).toBe(64);
  });

  // Once shared, frees take the compare-and-swap path: guards must hold there too.
  it('keeps every guard on a shared pool', () => {
    const p = pool({ slotSize: 16, capacity: 1000 });
    p.share();
    const h = p.allocHandle();
    p.freeHandle(h);
    expectCode(() => p.freeHandle(h), 'ERR_OFFHEAP_DOUBLE_FREE');
    expectCode(() => p.freeHandle(h + 4), 'ERR_OFFHEAP_INVALID_HANDLE');
    const hs = Array.from({ length: 900 }, () => p.allocHandle());
    for (const x of hs) p.freeHandle(x);
    expect(p.live).toBe(0);
    p.verify();
  });

  it('rejects what is not a descriptor in attach()', () => {
    for (const bad of [undefined, null, 1, {}, { kind: 'Arena', id: 1 }, { kind: 'ObjectPool', id: -1, slotSize: 8, capacity: 8, debug: false, name: 'x' }]) {
      let err: unknown;
      try {
        ObjectPool.attach(bad as never);
      } catch (e) {
        err = e;
      }
      expect(['ERR_INVALID_ARG_TYPE', 'ERR_OUT_OF_RANGE']).toContain((err as { code: string }).code);
    }
    expectCode(
      () => ObjectPool.attach({ kind: 'ObjectPool', id: 2 ** 40, slotSize: 8, capacity: 8, debug: false, name: 'gone' }),
      'ERR_OFFHEAP_DESTROYED',
    );
  });
});

describe('ObjectPool debug mode', () => {
  const dbg = { poison: true, leaks: 'paranoid' as const };

  // Release and debug pools take different methods, chosen at construction.
  it('picks its methods at construction', () => {
    const r = pool({ slotSize: 16, capacity: 10 });
    const d = pool({ slotSize: 16, capacity: 10, debug: true });
    expect(Object.hasOwn(r, 'allocHandle')).toBe(false);
    expect(Object.hasOwn(d, 'allocHandle')).toBe(true);
    const prev = process.env.OFFHEAP_DEBUG;
    process.env.OFFHEAP_DEBUG = '1';
    try {
      expect(Object.hasOwn(pool({ slotSize: 16, capacity: 10 }), 'freeHandle')).toBe(true);
    } finally {
      if (prev === undefined) delete process.env.OFFHEAP_DEBUG;
      else process.env.OFFHEAP_DEBUG = prev;
    }
  });

  it('fills fresh slots with 0xD0 and freed ones with 0xDF', () => {
    const p = pool({ slotSize: 32, capacity: 10, debug: dbg });
    const h = p.allocHandle();
    const bytes = new Uint8Array(p.buffer, h, 32);
    expect(bytes.every((b) => b === 0xd0)).toBe(true);
    p.freeHandle(h);
    expect(bytes.subarray(4).every((b) => b === 0xdf)).toBe(true);
  });

  // A write after free is found by verify() and on reuse, naming offset and free site.
  it('detects a write after free with ERR_OFFHEAP_USE_AFTER_FREE', () => {
    const p = pool({ slotSize: 32, capacity: 10, debug: dbg, name: 'dbg' });
    const h = p.allocHandle();
    p.freeHandle(h);
    new Uint8Array(p.buffer)[h + 20] = 1;
    let err: (OffheapError & { offset?: number; freeStack?: string }) | undefined;
    try {
      p.verify();
    } catch (e) {
      err = e as typeof err;
    }
    expect(err?.code).toBe('ERR_OFFHEAP_USE_AFTER_FREE');
    expect(err?.offset).toBe(h);
    expect(err?.message).toContain('dbg');
    expect(err?.message).toContain(`offset ${h}`);
    expect(err?.freeStack).toContain('object-pool.test');
    p.verify(); // reported once, re-poisoned
    new Uint8Array(p.buffer)[h + 9] = 2;
    expectCode(() => p.allocHandle(), 'ERR_OFFHEAP_USE_AFTER_FREE', OffheapError);
    expect(p.allocHandle()).toBe(h); // the slot itself is fine again
  });

  it.runIf(externalBacking)('detaches stale views on free and refuses them afterwards', () => {
    const p = pool({ slotSize: 32, capacity: 10, debug: dbg });
    const b = p.alloc();
    const v = p.view(p.leaks()[0].offset);
    b[0] = 7;
    expect(v[0]).toBe(7); // two views, one slot
    p.free(b);
    expect(b.byteLength).toBe(0);
    expect(v.byteLength).toBe(0);
    expectCode(() => p.free(b), 'ERR_OFFHEAP_USE_AFTER_FREE', OffheapError);
    expectCode(() => p.free(v), 'ERR_OFFHEAP_USE_AFTER_FREE');
    expectCode(() => p.free(Buffer.alloc(32)), 'ERR_OFFHEAP_INVALID_HANDLE');
  });

  it('names the first free site on a double free', () => {
    const p = pool({ slotSize: 16, capacity: 10, debug: dbg });
    const h = p.allocHandle();
    p.freeHandle(h);
    let err: (OffheapError & { freeStack?: string }) | undefined;
    try {
      p.freeHandle(h);
    } catch (e) {
      err = e as typeof err;
    }
    expect(err?.code).toBe('ERR_OFFHEAP_DOUBLE_FREE');
    expect(err?.freeStack).toContain('object-pool.test');
    expectCode(() => p.freeHandle(h + 1), 'ERR_OFFHEAP_INVALID_HANDLE');
    expectCode(() => p.freeHandle(16 * 5), 'ERR_OFFHEAP_INVALID_HANDLE');
  });

  it('lists live allocations with their stacks in leaks()', () => {
    const p = pool({ slotSize: 16, capacity: 10, debug: dbg });
    const a = p.allocHandle();
    const b = p.allocHandle();
    p.freeHandle(a);
    const leaks = p.leaks();
    expect(leaks).toHaveLength(1);
    expect(leaks[0]).toMatchObject({ offset: b, size: 16 });
    expect(leaks[0].stack).toContain('object-pool.test');
    // Release mode lists the same slots, without stacks.
    const r = pool({ slotSize: 16, capacity: 10 });
    const h = r.allocHandle();
    expect(r.leaks()).toEqual([{ offset: h, size: 16, stack: undefined }]);
  });

  it('keeps stacks for some allocations only in sample mode', () => {
    const p = pool({ slotSize: 16, capacity: 1000, debug: { leaks: 'sample' } });
    for (let i = 0; i < 640; i++) p.allocHandle();
    const withStack = p.leaks().filter((l) => l.stack !== undefined).length;
    expect(withStack).toBe(640 / LEAK_SAMPLE_EVERY);
    const off = pool({ slotSize: 16, capacity: 10, debug: { leaks: 'off' } });
    off.allocHandle();
    expect(off.leaks()[0].stack).toBeUndefined();
  });

  // A Buffer from alloc() collected while its slot is live is a leak: warn.
  it('warns with OFFHEAP_LEAK when an alloc() Buffer is collected while live', async () => {
    const p = pool({ slotSize: 16, capacity: 10, debug: dbg, name: 'leaky' });
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    const printers = process.listeners('warning'); // Node's own printer: this warning is expected
    process.removeAllListeners('warning');
    process.on('warning', onWarning);
    try {
      (() => {
        p.alloc(); // dropped on the floor
        const kept = p.alloc();
        p.free(kept); // freed: no warning for this one
      })();
      for (let i = 0; i < 10 && warnings.length === 0; i++) await collect();
      await new Promise((r) => setTimeout(r, 10));
    } finally {
      process.off('warning', onWarning);
      for (const printer of printers) process.on('warning', printer);
    }
    const leak = warnings.filter((w) => (w as { code?: string }).code === 'OFFHEAP_LEAK');
    expect(leak).toHaveLength(1);
    expect(leak[0].message).toContain('leaky');
    expect(leak[0].message).toContain('object-pool.test');
  });

  it('counts and exhausts exactly as release mode does', () => {
    const p = pool({ slotSize: 16, capacity: 3, debug: true });
    const hs = [p.allocHandle(), p.allocHandle(), p.allocHandle()];
    expect(p.tryAllocHandle()).toBe(-1);
    expectCode(() => p.allocHandle(), 'ERR_OFFHEAP_EXHAUSTED');
    for (const h of hs) p.freeHandle(h);
    expect(p.stats()).toMatchObject({ liveCount: 0, allocCount: 3, freeCount: 3, failedCount: 2 });
    p.verify();
  });
});
