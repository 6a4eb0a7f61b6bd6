/**
 * One thread's magazines, in native memory shared with the depot
 * (native/core/magazine_block.h has the layout). Classes are numbered by id
 * k >= 1 (the id a live slot's state byte holds), and words[k] is the top of
 * class k's magazine: the index one past its last free handle in `words`.
 * Each class owns STRIDE words, 64-aligned, so the fast paths are
 *
 *   alloc: t = words[k]; if ((t & STRIDE_MASK) === 0) t = refill(k); words[k] = --t; h = words[t]
 *   free:  t = words[k]; if (t === words[ends + k]) t = drain(k); words[t] = h; words[k] = t + 1
 *
 * and refill / drain are one native call that moves a batch under the
 * depot's lock and returns the new top. Because the block is native memory,
 * the depot reads what each thread holds (stats) and takes it back when the
 * thread exits or is terminated.
 */

/** Words per class of a SlabAllocator's block (a power of two); a magazine is empty when top % STRIDE === 0. */
export const STRIDE = 64;
export const STRIDE_MASK = STRIDE - 1;
/** Words of an ObjectPool's one magazine (native/core/pool_depot.h kMagazineStride). */
export const POOL_STRIDE = 512;
export const POOL_STRIDE_MASK = POOL_STRIDE - 1;

/** Float64 counters after the words: handles refilled, fast-path frees, handles drained. */
export const COUNTER_REFILLED = 0;
export const COUNTER_FREES = 1;
export const COUNTER_DRAINED = 2;

/** Typed views over a magazine block's ArrayBuffer. */
export class MagazineBlockView {
  /** tops, ends, then handles: see the file comment. */
  readonly words: Int32Array;
  /** [refilled, frees, drained]; the fast path increments [COUNTER_FREES]. */
  readonly counters: Float64Array;

  /**
   * @param buffer the block (this thread's ArrayBuffer over native memory)
   * @param ends word index of ends[0] (ends[k] is class k's top when full)
   * @param countersByte byte offset of the counters
   * @param mask the stride's mask (STRIDE_MASK or POOL_STRIDE_MASK)
   */
  constructor(buffer: ArrayBuffer, readonly ends: number, countersByte: number, readonly mask: number = STRIDE_MASK) {
    this.words = new Int32Array(buffer, 0, countersByte >> 2);
    this.counters = new Float64Array(buffer, countersByte, 3);
  }

  /** Handles held for class id k (what a refill or a push left there). */
  held(k: number): number {
    return this.words[k] & this.mask;
  }
}

/**
 * What is wrong with class id k's magazine in `words` (a block's words, of
 * stride mask+1, its ends at word `ends`): its top outside the class's
 * words, or a handle it holds that the state table does not call cached.
 * Null when nothing is (verify() of both allocators).
 */
export function magazineFault(
  words: Int32Array,
  ends: number,
  k: number,
  mask: number,
  isCached: (h: number) => boolean,
): { top: number } | { handle: number } | null {
  const top = words[k];
  const end = words[ends + k];
  if (top < (end & ~mask) || top > end) return { top };
  for (let t = top & ~mask; t < top; t++) {
    const h = words[t];
    if (!isCached(h)) return { handle: h };
  }
  return null;
}
