// Fault injection: the system page source refuses reservations and
// madvise(MADV_DONTNEED) calls on demand (native.injectFaults). A refused
// reservation is ERR_OFFHEAP_OS_FAILURE and leaks nothing; a refused
// decommit during Arena reset({ retainBytes }), slab empty-slab release,
// trim(), large frees and pool destroy is either ERR_OFFHEAP_OS_FAILURE or
// tolerated (the pages stay committed and counted), and the allocator stays
// usable afterwards: allocations succeed, bytes stay intact, verify() is clean.
import { afterEach, describe, expect, it } from 'vitest';
import { native } from '../lib/native';
import { Arena } from '../lib/arena';
import { ObjectPool } from '../lib/object-pool';
import { SlabAllocator } from '../lib/slab';
import { OffheapError } from '../lib/errors';
import { expectCode } from './helpers';

const KiB = 1024;
const MiB = 1024 * KiB;

afterEach(() => native.injectFaults(0, 0));

/** 'ok', or the code of the error fn threw (which must be an OffheapError). */
function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    expect(e).toBeInstanceOf(OffheapError);
    return (e as OffheapError).code;
  }
}

const makers: [string, () => { destroy(): void }][] = [
  ['Arena', () => new Arena({ maxBytes: 1 * MiB })],
  ['ObjectPool', () => new ObjectPool({ slotSize: 32, capacity: 1000 })],
  ['SlabAllocator', () => new SlabAllocator({ maxBytes: 4 * MiB })],
];

describe('refused reservations', () => {
  for (const [kind, make] of makers) {
    // Pins: a refused mmap at construction crashing, giving an untyped error or leaking a reservation.
    it(`${kind}: ERR_OFFHEAP_OS_FAILURE, no reservation leaked, the next one works`, () => {
      const before = native.liveReservations();
      for (const n of [1, 2]) {
        native.injectFaults(n, 0);
        expectCode(make, 'ERR_OFFHEAP_OS_FAILURE', OffheapError);
        native.injectFaults(0, 0);
        expect(native.liveReservations()).toBe(before);
      }
      make().destroy(); // (its region stays mapped until its ArrayBuffers are collected: not counted here)
    });
  }
});

describe('refused decommits', () => {
  // Pins: an Arena left inconsistent (or a crash) when madvise fails during reset({ retainBytes }).
  it('Arena reset({ retainBytes }): typed error or tolerated; pages stay counted; the arena stays usable', () => {
    using a = new Arena({ maxBytes: 4 * MiB });
    const b = a.alloc(1 * MiB);
    b.fill(7);
    native.injectFaults(0, 4);
    const got = outcome(() => a.reset({ retainBytes: 0 }));
    native.injectFaults(0, 0);
    expect(['ok', 'ERR_OFFHEAP_OS_FAILURE']).toContain(got);
    console.log(`faults: Arena reset({ retainBytes: 0 }) with madvise refused -> ${got}`);
    expect(a.used).toBe(0); // the reset itself happened
    expect(a.stats().committedBytes).toBe(a.committed);
    expect(a.committed).toBeGreaterThanOrEqual(got === 'ok' ? 0 : 1 * MiB); // refused pages stay counted
    a.verify();
    const c = a.alloc(2 * MiB);
    c.fill(9);
    expect(c.every((x) => x === 9)).toBe(true);
    a.reset({ retainBytes: 0 }); // with the OS cooperating again, the pages go back
    expect(a.committed).toBeLessThanOrEqual(64 * KiB);
    a.verify();
  });

  // Pins: a slab whose empty-slab release or trim() fails being lost, double-listed or crashing.
  it('SlabAllocator empty-slab release and trim(): typed error or tolerated; usable after', () => {
    using s = new SlabAllocator({ maxBytes: 16 * MiB, retainEmptySlabs: 0 });
    const hs: number[] = [];
    for (let i = 0; i < 4000; i++) hs.push(s.allocHandle(256)); // ~16 slabs of one class
    const large = s.allocHandle(100 * KiB);
    native.injectFaults(0, 1000);
    const frees = hs.map((h) => outcome(() => s.freeHandle(h)));
    const largeFree = outcome(() => s.freeHandle(large));
    const trimmed = outcome(() => s.trim());
    native.injectFaults(0, 0);
    console.log(`faults: slab frees -> ${[...new Set(frees)].join(', ')}; large free -> ${largeFree}; trim() -> ${trimmed}`);
    for (const f of [...frees, largeFree, trimmed]) expect(['ok', 'ERR_OFFHEAP_OS_FAILURE']).toContain(f);
    expect(s.stats().liveCount).toBe(0);
    s.verify();
    expect(s.trim()).toBeGreaterThanOrEqual(0); // the OS cooperates again: what stayed empty goes back
    expect(s.stats().committedBytes).toBeLessThanOrEqual(s.stats().metadataBytes + 64 * KiB);
    // Usable: every size class and a large run, bytes intact.
    const again = s.sizeClasses.map((size, i) => ({ h: s.allocHandle(size), size, v: i & 255 }));
    const big = s.allocHandle(200 * KiB);
    const bytes = new Uint8Array(s.buffer);
    for (const x of again) bytes.fill(x.v, x.h, x.h + x.size);
    bytes.fill(0xab, big, big + 200 * KiB);
    for (const x of again) expect(bytes.subarray(x.h, x.h + x.size).every((b) => b === x.v)).toBe(true);
    s.verify();
    for (const x of again) s.freeHandle(x.h);
    s.freeHandle(big);
    expect(s.stats().liveCount).toBe(0);
  });

  // Pins: a pool destroy that crashes or throws untyped when its pages cannot be given back.
  it('ObjectPool destroy(): typed error or tolerated; later calls say ERR_OFFHEAP_DESTROYED; new pools work', () => {
    const p = new ObjectPool({ slotSize: 64, capacity: 10_000, preheat: 5000 });
    for (let i = 0; i < 3000; i++) p.allocHandle();
    native.injectFaults(0, 100);
    const got = outcome(() => p.destroy());
    native.injectFaults(0, 0);
    expect(['ok', 'ERR_OFFHEAP_OS_FAILURE']).toContain(got);
    console.log(`faults: ObjectPool destroy() with madvise refused -> ${got}`);
    expect(p.destroyed).toBe(true);
    expectCode(() => p.allocHandle(), 'ERR_OFFHEAP_DESTROYED', OffheapError);
    using q = new ObjectPool({ slotSize: 64, capacity: 100 });
    const h = q.allocHandle();
    q.view(h).fill(1);
    q.freeHandle(h);
    q.verify();
  });
});
