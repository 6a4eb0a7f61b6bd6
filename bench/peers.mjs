// The pure-JS peers every suite compares against, written the way a careful
// JS programmer would: typed arrays, no per-allocation objects.
import { MemPool } from '@thi.ng/malloc';

/** A bump allocator over one ArrayBuffer: offsets, reset frees everything. */
export class JsBump {
  constructor(bytes) {
    this.buffer = new ArrayBuffer(bytes);
    this.cursor = 0;
    this.limit = bytes;
  }
  /** Returns the offset of `size` bytes aligned to `align` (a power of two), or -1. */
  alloc(size, align = 16) {
    const off = (this.cursor + align - 1) & -align;
    const end = off + size;
    if (end > this.limit) return -1;
    this.cursor = end;
    return off;
  }
  reset() {
    this.cursor = 0;
  }
}

/** Node's Buffer class for views over an ArrayBuffer (Buffer[Symbol.species]): what Buffer.allocUnsafe and offheap's views construct. */
export const FastBuffer = Buffer[Symbol.species];

/** A fixed-size pool: an Int32Array stack of free slot offsets over one ArrayBuffer. */
export class JsFreeList {
  constructor(slotSize, capacity) {
    this.slotSize = slotSize;
    this.buffer = new ArrayBuffer(slotSize * capacity);
    this.free = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.free[i] = (capacity - 1 - i) * slotSize;
    this.top = capacity;
  }
  /** Returns a slot offset, or -1 when empty. */
  alloc() {
    return this.top === 0 ? -1 : this.free[--this.top];
  }
  freeSlot(off) {
    this.free[this.top++] = off;
  }
}

/** @thi.ng/malloc's MemPool (a JS malloc over one ArrayBuffer), as a peer. */
export function thingPool(bytes) {
  return new MemPool({ size: bytes, align: 8, compact: true, split: true });
}
