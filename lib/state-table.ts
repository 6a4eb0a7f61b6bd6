/**
 * The state table shared with native code (native/core/state_table.h): one
 * byte per granule of a region, outside the region. Only the first granule
 * of a slot holds a state; a live slot's byte is its class id, so the fast
 * path's whole free check (live? which class? freed already? a slot at
 * all?) is one Uint8Array read. The table spans 2 GiB of offsets, so any
 * offset below 2^31 reads it in bounds.
 */

/** Not a slot start, never allocated, or given back to the OS. */
export const STATE_NONE = 0;
/** 1..STATE_MAX_LIVE: live, and the value is the class id. */
export const STATE_MAX_LIVE = 0xfc;
/** Live, a large allocation with a run of its own. */
export const STATE_LIVE_LARGE = 0xfd;
/** Free, held in some thread's magazine. */
export const STATE_CACHED = 0xfe;
/** Free, on its slab's free list in the native depot. */
export const STATE_FREE = 0xff;

/** True when the state byte says "freed" (in a magazine or in the depot). */
export function isFreedState(state: number): boolean {
  return state === STATE_CACHED || state === STATE_FREE;
}
