/**
 * A magazine (Bonwick's slab magazines, SLUB's per-CPU freelists): a small
 * per-thread stack of free handles for one pool or size class. Alloc pops,
 * free pushes; only an empty magazine (refill) or a full one (drain) crosses
 * into native code, moving a whole batch in one call.
 *
 * Callers inline the hot path:
 *   if (m.count !== 0) return m.handles[--m.count];   // alloc
 *   if (m.count !== m.capacity) { m.handles[m.count++] = h; return; }  // free
 * and call refill() / drain() on a miss.
 */
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

  /**
   * Refills an empty magazine: `pop(into, max)` moves up to `max` free
   * handles from the depot into `into[0..)` and returns how many it moved.
   * Returns the count now in the magazine (0 when the depot is empty).
   */
  refill(pop: (into: Int32Array, max: number) => number): number {
    this.count = pop(this.handles, this.batch);
    return this.count;
  }

  /**
   * Drains a full magazine down to half: `push(from, n)` returns the first n
   * handles of `from` to the depot. The kept half moves to the bottom.
   */
  drain(push: (from: Int32Array, n: number) => void): void {
    const n = this.count - this.batch;
    push(this.handles.subarray(this.batch, this.count), n);
    this.count = this.batch;
  }

  /** Returns every handle to the depot (destroy, thread exit). */
  flush(push: (from: Int32Array, n: number) => void): void {
    if (this.count > 0) push(this.handles, this.count);
    this.count = 0;
  }
}
