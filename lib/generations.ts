/**
 * Generational handles for ObjectPool (Rust's slotmap keys): with
 * `generational: true` a handle is `generation << indexBits | slotIndex`
 * instead of a byte offset, and each slot's current generation lives in a
 * side table (one u16 per slot, in a SharedArrayBuffer so every thread that
 * attach()es the pool reads and bumps the same table).
 *
 * The generation of a slot goes up by one each time it is allocated, wrapping
 * from 2^g - 1 to 1 (never 0, so no handle with generation 0 is ever live).
 * A handle is live when its slot is live in the pool's state table and
 * carries the slot's current generation. So a handle kept after its slot was
 * freed and reused is refused (by at(), view(), freeHandle(), offsetOf())
 * unless the slot was allocated again exactly a multiple of 2^g - 1 times
 * since: g = min(16, 31 - indexBits), indexBits = ceil(log2(capacity)).
 *
 * Ordering across threads: a generation is written by the one thread that
 * just took the slot, before it hands out the handle; another thread learns
 * the handle only through a message (postMessage, or Atomics on shared
 * memory), which orders that write before its read. A stale handle used in
 * another thread at the very instant its slot is reallocated may read either
 * generation; that race is the one case besides the wrap-around that is not caught.
 *
 * The pool's own methods work on byte offsets; installGenerations() wraps the
 * handle-facing ones (own properties of that pool, as the debug paths are),
 * so the pool's fast paths and its native code never see a generation.
 */
import { invalidArgType, offheapError, offheapErrorAt, type OffheapErrorCode } from './errors';

/** The offset-based methods a generational pool wraps. */
export interface GenerationalTarget {
  readonly name: string;
  readonly destroyed: boolean;
  allocHandle(): number;
  tryAllocHandle(): number;
  freeHandle(h: number): void;
  view(h: number): Buffer;
  alloc(): Buffer;
  liveOffset_(h: number, size: number, align: number): number;
  freeOffset_(offset: number): void;
  offsetOf(h: number): number;
}

/** Bits of a handle that hold the slot index / the generation, for a pool of `capacity` slots. */
export function generationBits(capacity: number): { indexBits: number; generationBits: number } {
  const indexBits = Math.max(1, Math.ceil(Math.log2(capacity)));
  return { indexBits, generationBits: Math.min(16, 31 - indexBits) };
}

/** One u16 generation per slot. */
export class GenerationTable {
  readonly gens: Uint16Array;
  readonly indexBits: number;
  readonly generationBits: number;
  private readonly indexMask_: number;
  private readonly maxGen_: number;

  /** Over `shared` (from another thread's share()) or a new zeroed table. */
  constructor(readonly capacity: number, readonly slotSize: number, shared?: unknown) {
    const bits = generationBits(capacity);
    this.indexBits = bits.indexBits;
    this.generationBits = bits.generationBits;
    this.indexMask_ = (1 << bits.indexBits) - 1;
    this.maxGen_ = (1 << bits.generationBits) - 1;
    if (shared !== undefined && !(shared instanceof SharedArrayBuffer && shared.byteLength === capacity * 2)) {
      throw invalidArgType('descriptor.generations', `a SharedArrayBuffer of ${capacity * 2} bytes`, shared);
    }
    this.gens = new Uint16Array(shared ?? new SharedArrayBuffer(capacity * 2));
  }

  /** The SharedArrayBuffer other threads attach to. */
  get buffer(): SharedArrayBuffer {
    return this.gens.buffer as SharedArrayBuffer;
  }

  /** A freshly allocated slot (byte offset) gets its next generation; returns its handle. */
  issue(offset: number): number {
    const i = offset / this.slotSize;
    let g = this.gens[i] + 1;
    if (g > this.maxGen_) g = 1;
    this.gens[i] = g;
    return (g << this.indexBits) | i;
  }

  /**
   * The byte offset of handle `h` when it carries its slot's current
   * generation; otherwise throws ERR_OFFHEAP_DESTROYED once `pool` is
   * destroyed, else `staleCode` for a handle of an earlier generation and
   * ERR_OFFHEAP_INVALID_HANDLE for anything that is no handle of the pool.
   * (Whether the slot is live is the pool's check.)
   */
  offset(h: number, staleCode: OffheapErrorCode, pool: GenerationalTarget): number {
    if (typeof h === 'number' && (h | 0) === h && h > 0) {
      const i = h & this.indexMask_;
      if (i < this.capacity && this.gens[i] === h >>> this.indexBits) return i * this.slotSize;
    }
    return this.refuse_(h, staleCode, pool);
  }

  private refuse_(h: unknown, staleCode: OffheapErrorCode, pool: GenerationalTarget): never {
    const name = pool.name;
    if (pool.destroyed) throw offheapError('ERR_OFFHEAP_DESTROYED', name, 'the allocator was destroyed');
    if (typeof h !== 'number') throw invalidArgType('handle', 'of type number', h);
    const i = h & this.indexMask_;
    const g = h >>> this.indexBits;
    if (!Number.isInteger(h) || h <= 0 || h >= 2 ** 31 || i >= this.capacity || g === 0) {
      throw offheapErrorAt('ERR_OFFHEAP_INVALID_HANDLE', name, h, `${h} is not a handle of this generational pool`);
    }
    throw offheapErrorAt(staleCode, name, h, `handle ${h} (slot ${i}, generation ${g}) is stale: the slot was freed ` +
      `and allocated again since (now generation ${this.gens[i]})`);
  }
}

const tables = new WeakMap<object, GenerationTable>();

/** The generation table installGenerations() gave `pool`, or undefined (cursors check generations inline with it). */
export function generationTableOf(pool: object): GenerationTable | undefined {
  return tables.get(pool);
}

/**
 * Makes `pool`'s handles generational: wraps its handle-facing methods with
 * own properties that translate handles to offsets and back. Buffers from
 * alloc() carry no generation; free(buf) works by offset as before.
 */
export function installGenerations(pool: GenerationalTarget, table: GenerationTable): void {
  tables.set(pool, table);
  const take = pool.allocHandle;
  const tryTake = pool.tryAllocHandle;
  const free = pool.freeHandle;
  const view = pool.view;
  const live = pool.liveOffset_;
  pool.allocHandle = () => table.issue(take.call(pool));
  pool.tryAllocHandle = () => {
    const off = tryTake.call(pool);
    return off < 0 ? off : table.issue(off);
  };
  // free(buf) frees by offset: it must reach the pool's own free, not the wrapper.
  pool.freeOffset_ = free;
  pool.freeHandle = (h: number) => free.call(pool, table.offset(h, 'ERR_OFFHEAP_DOUBLE_FREE', pool));
  pool.view = (h: number) => view.call(pool, table.offset(h, 'ERR_OFFHEAP_INVALID_HANDLE', pool));
  pool.alloc = () => view.call(pool, table.offset(pool.allocHandle(), 'ERR_OFFHEAP_INVALID_HANDLE', pool));
  pool.liveOffset_ = (h: number, size: number, align: number) =>
    live.call(pool, table.offset(h, 'ERR_OFFHEAP_USE_AFTER_FREE', pool), size, align);
}
