// The memory model under every allocator: reservation costs no RSS, one
// ArrayBuffer per region per thread, destroy drops pages, and the mapping
// lives exactly as long as the last ArrayBuffer over it.
import { describe, expect, it } from 'vitest';
import { native } from '../lib/native';
import { OffheapError } from '../lib/errors';
import { collect, expectCode, externalBacking, rss } from './helpers';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

describe('region', () => {
  // Reserving is free: a 1 GiB region must not cost resident memory.
  it('reserves 1 GiB for less than 1 MiB of RSS', async () => {
    await collect();
    const before = rss();
    const h = native.regionCreate(GiB);
    const ab = native.regionBuffer(h);
    expect(ab.byteLength).toBe(GiB);
    expect(rss() - before).toBeLessThan(MiB);
    native.regionDestroy(h);
  });

  // Pages are committed by first touch and all given back by destroy.
  it('commits on touch and gives pages back on destroy', async () => {
    const h = native.regionCreate(256 * MiB);
    const ab = native.regionBuffer(h);
    const before = rss();
    new Uint8Array(ab, 0, 64 * MiB).fill(1);
    expect(rss() - before).toBeGreaterThan(60 * MiB);
    native.regionDestroy(h);
    expect(rss() - before).toBeLessThan(4 * MiB);
  });

  // After destroy and GC of every buffer the mapping itself is gone.
  it.runIf(externalBacking)('unmaps once destroyed and every buffer is collected', async () => {
    await collect();
    const base = native.liveReservations();
    (() => {
      const h = native.regionCreate(16 * MiB);
      native.regionBuffer(h);
      native.regionBuffer(h);
      expect(native.liveReservations()).toBe(base + 1);
      native.regionDestroy(h);
      expect(native.liveReservations()).toBe(base + 1); // buffers still alive
    })();
    for (let i = 0; i < 20 && native.liveReservations() > base; i++) await collect();
    expect(native.liveReservations()).toBeLessThanOrEqual(base);
  });

  // A stale view after destroy reads zeros, never a fault or old bytes.
  it('leaves stale views readable as zeros after destroy', () => {
    const h = native.regionCreate(MiB);
    const ab = native.regionBuffer(h);
    const view = new Uint8Array(ab, 4096, 16);
    view.fill(0xab);
    native.regionDestroy(h);
    expect(Array.from(view)).toEqual(new Array(16).fill(0));
    view[0] = 1; // writing is harmless too
  });

  // Detaching the buffer kills every view of this thread: byteLength 0.
  it.runIf(externalBacking)('detaches a buffer so views become empty', () => {
    const h = native.regionCreate(MiB);
    const ab = native.regionBuffer(h);
    const view = new Uint8Array(ab, 0, 16);
    native.detachBuffer(ab);
    expect(ab.byteLength).toBe(0);
    expect(view.byteLength).toBe(0);
    expect(view[0]).toBeUndefined();
    native.regionDestroy(h);
  });

  // V8 sees the external backing store (its full length, once), never commits:
  // committing pages does not move process.memoryUsage().external.
  it('does not report committed bytes to V8', () => {
    const h = native.regionCreate(GiB);
    const ab = native.regionBuffer(h);
    const before = process.memoryUsage().external;
    native.regionCommit(h, 100 * MiB);
    // Other allocations may move the counter meanwhile: allow 4 MiB of slack.
    expect(Math.abs(process.memoryUsage().external - before)).toBeLessThan(4 * MiB);
    native.regionDestroy(h);
    expect(ab.byteLength).toBe(GiB);
  });

  // Detaching is not releasing: the range stays reserved while the
  // ArrayBuffer object lives (Node's threadpool may still write through a
  // view of it), and goes when the object is collected.
  it.runIf(externalBacking)('keeps the range reserved after a detach until the ArrayBuffer is collected', async () => {
    const base = native.liveReservations();
    const h = native.regionCreate(MiB);
    let ab: ArrayBuffer | undefined = native.regionBuffer(h);
    native.regionDestroy(h);
    native.detachBuffer(ab);
    expect(ab.byteLength).toBe(0);
    expect(native.liveReservations()).toBe(base + 1);
    ab = undefined;
    for (let i = 0; i < 20 && native.liveReservations() > base; i++) await collect();
    expect(native.liveReservations()).toBeLessThanOrEqual(base);
  });

  // Bad sizes are typed errors: RangeError for 0 / > 2 GiB, TypeError for non-numbers.
  it('rejects bad sizes with typed errors', () => {
    expectCode(() => native.regionCreate(0), 'ERR_OUT_OF_RANGE', RangeError);
    expectCode(() => native.regionCreate(2 * GiB + 1), 'ERR_OUT_OF_RANGE', RangeError);
    expectCode(() => native.regionCreate(-1), 'ERR_INVALID_ARG_TYPE', TypeError);
    expectCode(() => native.regionCreate('1' as never), 'ERR_INVALID_ARG_TYPE', TypeError);
  });

  // Native code never trusts a JS value as a handle: type tags are checked.
  it('rejects anything but its own tagged handle', () => {
    for (const bad of [undefined, null, 1, {}, new ArrayBuffer(8), native.regionBuffer]) {
      expectCode(() => native.regionBuffer(bad as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    }
  });

  // Native errors are OffheapErrors carrying the stable code.
  it('throws OffheapError from native code', () => {
    const h = native.regionCreate(MiB);
    native.regionDestroy(h);
    expectCode(() => native.regionBuffer(h), 'ERR_OFFHEAP_DESTROYED', OffheapError);
    native.regionDestroy(h); // idempotent
  });
});

describe('slice buffers (debug views)', () => {
  // A slice sees the region's bytes and dies alone when detached.
  it.runIf(externalBacking)('alias region memory and can be detached one by one', () => {
    const h = native.regionCreate(1 << 20);
    const ab = native.regionBuffer(h);
    const slice = native.sliceBuffer(h, 4096, 32);
    new Uint8Array(slice)[0] = 7;
    expect(new Uint8Array(ab)[4096]).toBe(7);
    native.detachBuffer(slice);
    expect(slice.byteLength).toBe(0);
    expect(new Uint8Array(ab)[4096]).toBe(7);
    expectCode(() => native.sliceBuffer(h, 1 << 20, 1), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError);
    expectCode(() => native.sliceBuffer({} as never, 0, 1), 'ERR_INVALID_ARG_TYPE', TypeError);
    native.regionDestroy(h);
    expectCode(() => native.sliceBuffer(h, 0, 1), 'ERR_OFFHEAP_DESTROYED', OffheapError);
  });
});

describe('fault injection', () => {
  // A refused reservation is a typed error, and the next one works.
  it('turns a refused reserve into ERR_OFFHEAP_OS_FAILURE', () => {
    native.injectFaults(1, 0);
    try {
      expectCode(() => native.regionCreate(1 << 20), 'ERR_OFFHEAP_OS_FAILURE', OffheapError);
      const h = native.regionCreate(1 << 20);
      native.regionDestroy(h);
    } finally {
      native.injectFaults(0, 0);
    }
  });
});
