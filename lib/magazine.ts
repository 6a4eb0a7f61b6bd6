/**
 * A magazine (Bonwick's slab magazines, SLUB's per-CPU freelists): a small
 * per-thread stack of free handles for an ObjectPool. Alloc pops, free
 * pushes; only an empty magazine (refill) or a full one (drain) crosses into
 * native code, once, moving a whole batch through an Int32Array the native
 * side writes or reads in place (no subarray, no closure per call).
 *
 * Callers inline the hot path:
 *   if (m.count !== 0) return m.handles[--m.count];   // alloc
 *   if (m.count !== m.capacity) { m.handles[m.count++] = h; return; }  // free
 * and call refill() / drain() on a miss.
 */
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

export class Magazine {
  /** The handles; [0, count) are free and owned by this thread. */
  readonly handles: Int32Array;
  /** How many handles are in the magazine. */
  count = 0;
  /** Handles moved per native call: half the capacity, so a refill after a
   * drain (or the reverse) never thrashes at the boundary. */
  readonly batch: number;

  constructor(readonly capacity: number) {
    this.handles = new Int32Array(capacity);
    this.batch = Math.max(1, capacity >> 1);
  }

  /** Refills an empty magazine by one native call; returns the new count (0: depot empty), or what a call that did not run answered (see answered() in native.ts). */
  refill(depot: NativeDepot, handle: NativeHandle): unknown {
    const n: unknown = depot.refill(handle, this.handles, this.batch);
    if (typeof n === 'number') this.count = n;
    return n;
  }

  /** Drains a full magazine down to its batch size by one native call. */
  drain(depot: NativeDepot, handle: NativeHandle): void {
    const keep = this.batch;
    depot.drain(handle, this.handles, keep, this.count - keep);
    this.count = keep;
  }

  /** Gives every handle back (destroy). */
  flush(depot: NativeDepot, handle: NativeHandle): void {
    const n = this.count;
    this.count = 0;
    if (n > 0) depot.drain(handle, this.handles, 0, n);
  }
}
