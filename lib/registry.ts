/**
 * Every live allocator of this thread, held weakly, so module-level stats()
 * can sum them without keeping an abandoned allocator alive.
 */

/** Counters every allocator reports (DESIGN.md section 6). */
export interface AllocatorStats {
  /** Address space reserved for the region (mapped, not resident until used). */
  reservedBytes: number;
  /** Bytes of the region whose pages are committed (may be resident). */
  committedBytes: number;
  /** Bytes in live allocations (Arena: the cursor; pool: live slots x slot size; slab: usable sizes). */
  liveBytes: number;
  /** Allocations live now. */
  liveCount: number;
  /** The highest `liveBytes` seen (slab and shared pool: sampled at each native crossing). */
  peakLiveBytes: number;
  /** Allocations ever made. */
  allocCount: number;
  /** Allocations ever freed (an arena reset frees all its live ones at once). */
  freeCount: number;
  /** Allocations refused with ERR_OFFHEAP_EXHAUSTED (or -1 from a try... method). */
  failedCount: number;
}

/** What the registry needs of an allocator. */
export interface Registered {
  readonly name: string;
  readonly kind: string;
  stats(): AllocatorStats;
}

const live = new Set<WeakRef<Registered>>();
const refs = new WeakMap<Registered, WeakRef<Registered>>();
const cleanup = new FinalizationRegistry<WeakRef<Registered>>((ref) => live.delete(ref));

export function register(a: Registered): void {
  const ref = new WeakRef(a);
  refs.set(a, ref);
  live.add(ref);
  cleanup.register(a, ref, ref);
}

export function unregister(a: Registered): void {
  const ref = refs.get(a);
  if (!ref) return;
  live.delete(ref);
  cleanup.unregister(ref);
  refs.delete(a);
}

/** The live allocators of this thread, oldest first. */
export function liveAllocators(): Registered[] {
  const out: Registered[] = [];
  for (const ref of live) {
    const a = ref.deref();
    if (a) out.push(a);
  }
  return out;
}

export const STAT_KEYS: readonly (keyof AllocatorStats)[] = [
  'reservedBytes', 'committedBytes', 'liveBytes', 'liveCount',
  'peakLiveBytes', 'allocCount', 'freeCount', 'failedCount',
];

/**
 * Sum of the counters of every live allocator of this thread, plus
 * `allocators`: how many there are. Allocators are held weakly, so one dropped
 * without destroy() leaves the sums once it is garbage collected.
 */
export function stats(): AllocatorStats & {
  /** Live allocators of this thread counted in the sums. */
  allocators: number;
} {
  const total = { allocators: 0 } as AllocatorStats & { allocators: number };
  for (const k of STAT_KEYS) total[k] = 0;
  for (const a of liveAllocators()) {
    const s = a.stats();
    total.allocators++;
    for (const k of STAT_KEYS) total[k] += s[k];
  }
  return total;
}
