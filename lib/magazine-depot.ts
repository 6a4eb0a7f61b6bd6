/**
 * The glue between a Magazine (lib/magazine.ts) and a native depot: refill,
 * drain and flush each cross into native code once and move a whole batch,
 * through an Int32Array the native side writes or reads in place (no
 * subarray, no closure per call). Shared by every allocator with magazines.
 */
import { Magazine } from './magazine';
import type { NativeHandle } from './native';

/** The two native entry points a depot offers its magazines. */
export interface NativeDepot {
  /** Writes up to `max` free handles into `into[0..)`; returns how many. */
  refill(handle: NativeHandle, into: Int32Array, max: number): number;
  /** Gives `from[start, start+n)` back to the depot. */
  drain(handle: NativeHandle, from: Int32Array, start: number, n: number): void;
}

/** Magazine size for a pool of `capacity` slots: 256 for large pools (a
 * native call costs ~250 ns here through node-addon-api, so a batch of 128
 * makes it ~2 ns per operation), less for small ones, so that a thread never
 * caches more than 1/16 of a pool. */
export function magazineCapacity(capacity: number): number {
  return Math.max(2, Math.min(256, capacity >> 4));
}

/** Refills an empty magazine by one native call; returns the new count (0: depot empty). */
export function refillMagazine(m: Magazine, depot: NativeDepot, handle: NativeHandle): number {
  m.count = depot.refill(handle, m.handles, m.batch);
  return m.count;
}

/** Drains a full magazine down to its batch size by one native call. */
export function drainMagazine(m: Magazine, depot: NativeDepot, handle: NativeHandle): void {
  const keep = m.batch;
  depot.drain(handle, m.handles, keep, m.count - keep);
  m.count = keep;
}

/** Gives every handle in the magazine back (destroy). */
export function flushMagazine(m: Magazine, depot: NativeDepot, handle: NativeHandle): void {
  const n = m.count;
  m.count = 0;
  if (n > 0) depot.drain(handle, m.handles, 0, n);
}
