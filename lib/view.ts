/**
 * Views: how an allocator's memory reaches JavaScript (DESIGN.md section 2,
 * docs/memory-model.md). The one place in the facade that turns region bytes
 * into Buffers, so a different backing (a V8-backed mode) changes this file only.
 *
 * - A view is a real Node Buffer, made by Node's own FastBuffer
 *   (Object.getPrototypeOf(view) === Buffer.prototype, view.constructor ===
 *   Buffer, util.inspect prints <Buffer ..>, deepStrictEqual holds against a
 *   Buffer with the same bytes). Node does not export FastBuffer by name but
 *   publishes it as Buffer[Symbol.species] (so that subarray() and map() make
 *   Buffers): `new FastBuffer(window, off, len)` costs what a plain Uint8Array
 *   does (~17-31 ns on Node 20-24, against ~75 ns for Buffer.prototype.slice
 *   and ~530 ns for Reflect.construct with a Buffer.prototype new.target).
 * - A view never sits over the whole region: structuredClone / postMessage
 *   copy a view's whole ArrayBuffer. The region is exposed through windows,
 *   external ArrayBuffers of at most WINDOW_BYTES, made lazily once per
 *   allocator per thread, laid out one of three ways (WindowLayout):
 *   - 'aligned' (an Arena; a slab allocator whose slabs are at most 64 KiB):
 *     a window on every WINDOW_BYTES edge, none overlapping, so the windows
 *     over a whole region are counted exactly once. An Arena places a view
 *     that fits a window but would cross an edge on that edge instead
 *     (placeOnEdge()); a slab's objects never cross a slab's end.
 *   - { slotSize } (an ObjectPool, whose slots start at offset 0): windows
 *     of as many whole slots as fit WINDOW_BYTES (one slot when larger),
 *     none overlapping, so no slot lies across a window's end.
 *   - 'overlapping' (a slab allocator with larger slabs, whose objects lie
 *     where their size puts them): windows at a WINDOW_STRIDE stride share
 *     WINDOW_OVERLAP bytes, so any allocation of at most that size lies
 *     inside one (found by one division); the windows over a whole region
 *     span 8/7 of it.
 *   A view that lies in no window gets an ArrayBuffer of exactly its own
 *   range. So what travels with a cloned view is at most 64 KiB, or the
 *   view's own bytes.
 * - V8 counts every such ArrayBuffer in full as external memory: windows
 *   are few and cached; an allocator may make the region's own ArrayBuffer
 *   lazily (LazyRegion), when `buffer` is first read.
 * - Every such ArrayBuffer keeps the region mapped while it lives (see
 *   RegionSliceBuffer in native/binding/common.h). destroy() detaches none
 *   of them: a write by Node's threadpool into a view it still holds lands in
 *   the destroyed allocator's own (given back) pages, never in another's.
 * - Under the v8 backing (offheap.backing === 'v8', DESIGN.md section 11)
 *   V8 owns the region's memory and N-API cannot make an ArrayBuffer over
 *   part of it: every view is then a slice of one Buffer over the region's
 *   own (Shared)ArrayBuffer, and ownView() has no slice to give. A clone of
 *   a view carries that whole buffer (a copy for an Arena, the shared memory
 *   for a pool or slab), see docs/platforms.md.
 */
import { backing, native, type NativeHandle } from './native';

/** Bytes one window spans (what a cloned small view carries at most). */
export const WINDOW_BYTES = 64 * 1024;
/** Bytes neighbouring windows share: an allocation this size or smaller always fits one window. */
export const WINDOW_OVERLAP = 8 * 1024;
/** Distance between window starts in the 'overlapping' layout. */
export const WINDOW_STRIDE = WINDOW_BYTES - WINDOW_OVERLAP;

/**
 * How an allocator's windows lie over its region: 'aligned' (one on every
 * 64 KiB edge, for allocators whose views never cross one), { slotSize }
 * (whole slots from offset 0, for an ObjectPool) or 'overlapping' (64 KiB
 * every 56 KiB, for objects that lie anywhere).
 */
export type WindowLayout = 'aligned' | 'overlapping' | { readonly slotSize: number };

/** The bytes of one window (and the distance between window starts) of a layout that does not overlap. */
function disjointWindowBytes(layout: 'aligned' | { readonly slotSize: number }): number {
  if (layout === 'aligned') return WINDOW_BYTES;
  const s = layout.slotSize;
  return s >= WINDOW_BYTES ? s : Math.floor(WINDOW_BYTES / s) * s;
}

/**
 * Where an 'aligned' allocator puts a view of `size` bytes that would start
 * at `offset`: on the next window edge when the view fits a window but
 * would cross that edge (the bytes skipped, fewer than `size`, stay
 * unused), else at `offset`. So no view that fits a window ever needs an
 * ArrayBuffer of its own, made per allocation and counted by V8 until
 * collected. Integer arithmetic only; `size` may be any number (a bad one
 * is refused later).
 */
export function placeOnEdge(offset: number, size: number): number {
  return (offset & (WINDOW_BYTES - 1)) + size > WINDOW_BYTES && size <= WINDOW_BYTES ? (offset | (WINDOW_BYTES - 1)) + 1 : offset;
}

// Captured at load: later changes to Buffer.prototype do not reach views.
const bufferFrom = Buffer.from as (ab: ArrayBuffer, offset: number, length: number) => Buffer;

type BufferConstructor = new (ab: ArrayBuffer, offset: number, length: number) => Buffer;
/**
 * Node's own FastBuffer, the Uint8Array subclass every Buffer is an instance
 * of (Buffer.prototype is its prototype, its constructor property is Buffer):
 * Node publishes it as Buffer[Symbol.species] so that subarray() and map()
 * make Buffers. `new FastBuffer(ab, off, len)` costs what a plain
 * `new Uint8Array(ab, off, len)` costs, without Buffer.from()'s argument
 * checks (the callers here have checked bounds). A runtime that publishes
 * something else gets Buffer.from().
 */
const species: unknown = (Buffer as unknown as Record<symbol, unknown>)[Symbol.species];
const FastBuffer: BufferConstructor =
  typeof species === 'function' && species.prototype === Buffer.prototype && species !== Buffer
    ? species as BufferConstructor
    : class { constructor(ab: ArrayBuffer, offset: number, length: number) { return bufferFrom(ab, offset, length); } } as unknown as BufferConstructor;

/** A region buffer made when first needed: its length now, the ArrayBuffer from make(). */
export interface LazyRegion {
  /** The region's length (what make()'s ArrayBuffer will have). */
  readonly byteLength: number;
  /** Makes this thread's ArrayBuffer over the whole region. */
  make(): ArrayBuffer;
}

/** A Buffer over `ab[offset, offset+length)`; the caller has checked bounds. */
export function makeView(ab: ArrayBuffer, offset: number, length: number): Buffer {
  return new FastBuffer(ab, offset, length);
}

// %TypedArray%.prototype[@@toStringTag]: a brand check that reads no
// property of its argument (a Proxy, a forged object: undefined, no throw).
const typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!
  .get as (this: unknown) => string | undefined;

/** True when `value` is a genuine Uint8Array (Buffers and offheap views included; not a Proxy of one). */
export function isUint8Array(value: unknown): value is Uint8Array {
  return typedArrayTag.call(value) === 'Uint8Array';
}

function outsideRegion(offset: number, length: number, size: number): RangeError {
  const err = new RangeError(`a view of ${length} bytes at offset ${offset} would leave the region (${size} bytes)`);
  (err as RangeError & { code: string }).code = 'ERR_OUT_OF_RANGE';
  return err;
}

/** Lets a class constructor add private fields to an object it did not create. */
class Adopt {
  constructor(o: object) {
    return o;
  }
}

/**
 * Marks an ArrayBuffer the package made over part of a region with the
 * RegionViews that owns it and the region offset of its first byte. Private
 * fields: ~1 ns to read and impossible to forge from outside this file.
 */
class RegionSlice extends Adopt {
  #owner: RegionViews;
  #base: number;

  constructor(ab: ArrayBuffer, owner: RegionViews, base: number) {
    super(ab);
    this.#owner = owner;
    this.#base = base;
  }

  /**
   * Marks `ab` unless it already is: under the v8 backing two attachments of
   * one shared allocator in one thread have the same SharedArrayBuffer, and
   * the first one's mark stays (the other's user-made views are then not
   * recognised by offsetOf(); its own views carry a ViewMark where it frees by view).
   */
  static mark(ab: ArrayBuffer, owner: RegionViews, base: number): void {
    if (!(#owner in ab)) new RegionSlice(ab, owner, base);
  }

  /** The region offset of `ab`'s first byte when `owner` made it, else -1. */
  static baseIn(ab: object, owner: RegionViews): number {
    return #owner in ab && ab.#owner === owner ? ab.#base : -1;
  }
}

/**
 * Marks a view made by RegionViews.view() with its owner and the region
 * offset it starts at: a typed array's buffer and byteOffset getters cost
 * ~25-55 ns each on Node 20, a private field ~1 ns, so free(view) of an
 * allocator's own view costs about what freeHandle() does. A subarray or any
 * other Buffer carries no mark and is checked in full.
 */
class ViewMark extends Adopt {
  #owner: RegionViews;
  #offset: number;

  constructor(view: Buffer, owner: RegionViews, offset: number) {
    super(view);
    this.#owner = owner;
    this.#offset = offset;
  }

  /** The offset `v` was made for when `owner` made it, else -1. */
  static offsetIn(v: object, owner: RegionViews): number {
    return #owner in v && v.#owner === owner ? v.#offset : -1;
  }
}

/**
 * One allocator's views on this thread: windows over the region, their
 * ArrayBuffers, and the reverse mapping from a view to the allocation it
 * starts. Allocators only ever call view() and offsetOf().
 */
export class RegionViews {
  /** One ArrayBuffer over each window made so far, by window index. */
  private readonly windows_: (ArrayBuffer | undefined)[] = [];
  /** Distance between window starts. */
  private readonly stride_: number;
  /** Bytes of one window (stride_ unless the layout overlaps). */
  private readonly span_: number;
  /** log2(stride_) for windows that do not overlap and are a power of two (the view fast path), else -1. */
  private readonly shift_: number;
  private readonly detached_ = new WeakSet<ArrayBuffer>();
  /** This thread's ArrayBuffer over the whole region, once made (an empty one after forget()). */
  private region_: ArrayBuffer | undefined;
  /** Makes region_ on first use (null once made or forgotten). */
  private makeRegion_: (() => ArrayBuffer) | null;

  /**
   * `region`: this thread's ArrayBuffer over the whole region (views a user
   * makes over it name allocations by their byteOffset), or a LazyRegion
   * that makes it when region() is first called. `mark`: views carry a
   * ViewMark (allocators whose free(view) must be fast). `layout`: how the
   * windows lie (WindowLayout).
   */
  constructor(
    private handle_: NativeHandle | null,
    region: ArrayBuffer | LazyRegion,
    private readonly mark_: boolean,
    layout: WindowLayout,
  ) {
    const disjoint = layout === 'overlapping' ? 0 : disjointWindowBytes(layout);
    this.stride_ = disjoint > 0 ? disjoint : WINDOW_STRIDE;
    this.span_ = disjoint > 0 ? disjoint : WINDOW_BYTES;
    this.shift_ = disjoint > 0 && (disjoint & (disjoint - 1)) === 0 ? 31 - Math.clz32(disjoint) : -1;
    this.size_ = region.byteLength;
    this.makeRegion_ = 'make' in region ? region.make : null;
    if (this.makeRegion_ === null) this.adoptRegion_(region as ArrayBuffer);
    else if (backing === 'v8') this.region(); // V8's own buffer: no new ArrayBuffer, and every view slices it
  }

  /** v8 backing: one Buffer over the region's own buffer, which every view slices. */
  private whole_: Buffer | undefined;

  private readonly size_: number;

  /**
   * This thread's ArrayBuffer over the whole region (allocator.buffer), made
   * on the first call: V8 counts its whole length as external memory until
   * it is collected, so an allocator whose handles nobody reads never makes
   * one. An empty ArrayBuffer after forget().
   */
  region(): ArrayBuffer {
    if (this.region_ === undefined) this.adoptRegion_(this.makeRegion_!());
    return this.region_!;
  }

  private adoptRegion_(region: ArrayBuffer): void {
    this.region_ = region;
    this.makeRegion_ = null;
    RegionSlice.mark(region, this, 0);
    this.whole_ = backing === 'v8' ? makeView(region, 0, region.byteLength) : undefined;
  }

  /** A Buffer over region[offset, offset+length); the caller owns the allocation. */
  view(offset: number, length: number): Buffer {
    const shift = this.shift_;
    if (shift >= 0) {
      // A view of a window of a power-of-two size, made already (regions are
      // below 2 GiB: the offset is a nonnegative int32). The v8 backing makes no windows.
      const w = this.windows_[offset >>> shift];
      const start = offset & (this.span_ - 1);
      if (w !== undefined && length !== 0 && start + length <= this.span_ && offset + length <= this.size_) {
        const v = new FastBuffer(w, start, length);
        if (this.mark_) new ViewMark(v, this, offset);
        return v;
      }
    }
    return this.viewSlow_(offset, length);
  }

  /** view() when the window is not made yet, for any other layout and the v8 backing, and for what lies in no window. */
  private viewSlow_(offset: number, length: number): Buffer {
    // Only forged shared words (an arena's limit overwritten through `buffer`) get here out of bounds.
    if (offset + length > this.size_) throw outsideRegion(offset, length, this.size_);
    if (this.whole_ !== undefined) {
      const v = new FastBuffer(this.whole_.buffer as ArrayBuffer, offset, length);
      if (this.mark_ || length === 0) new ViewMark(v, this, offset);
      return v;
    }
    // One division; the quotient is an exact int32 for any region below 2^46 bytes.
    const i = (offset / this.stride_) | 0;
    const start = offset - i * this.stride_;
    if (start + length <= this.span_) {
      const v = new FastBuffer(this.windows_[i] ?? this.window_(i), start, length);
      // Empty views are always marked: an empty subarray names no allocation, so handleOf() needs the mark.
      if (this.mark_ || length === 0) new ViewMark(v, this, offset);
      return v;
    }
    const v = makeView(this.slice_(offset, length), 0, length);
    if (this.mark_) new ViewMark(v, this, offset);
    return v;
  }

  /**
   * The region offset where `buf` starts when view() made it, or when it is
   * another non-empty view over memory of this allocator (an empty one names
   * no allocation), else -1. Reads no property of anything that is not a
   * genuine Uint8Array (a Proxy of a view is not one).
   */
  offsetOf(buf: unknown): number {
    const marked = this.markedOffsetOf(buf);
    return marked >= 0 ? marked : this.unmarkedOffsetOf_(buf);
  }

  /**
   * offsetOf() for views view() made (exactly one allocation's bytes, as
   * long as they were not detached by destroy()), else -1: the free(view)
   * fast path of allocators whose views are all one size.
   */
  markedOffsetOf(buf: unknown): number {
    return typeof buf === 'object' && buf !== null ? ViewMark.offsetIn(buf, this) : -1;
  }

  private unmarkedOffsetOf_(buf: unknown): number {
    if (!isUint8Array(buf)) return -1;
    const ab = buf.buffer;
    const base = RegionSlice.baseIn(ab, this);
    if (base < 0) return -1;
    if (buf.byteLength === 0) {
      // An own slice of a zero-byte allocation (view()'s empty views are marked,
      // where the allocator frees by view).
      return ab.byteLength === 0 && buf.byteOffset === 0 && !this.detached_.has(ab as ArrayBuffer) ? base : -1;
    }
    return base + buf.byteOffset;
  }

  /**
   * A debug view of region[offset, offset+length) over an ArrayBuffer of
   * exactly that range (`slice`), which detach() kills alone; views over it
   * are recognised by offsetOf(). Under the v8 backing there is no such slice: the view is
   * a plain one (stale views are then caught by the poison checks, not by
   * detaching) and `slice` is undefined.
   */
  ownView(offset: number, length: number): { view: Buffer; slice: ArrayBuffer | undefined } {
    if (this.whole_ !== undefined) return { view: this.view(offset, length), slice: undefined };
    const slice = this.slice_(offset, length);
    return { view: makeView(slice, 0, length), slice };
  }

  /** Detaches a `slice` from ownView(): every view over it reads as empty. */
  detach(ab: ArrayBuffer): void {
    this.detached_.add(ab);
    native.detachBuffer(ab);
  }

  /**
   * destroy(): lets go of every window (nothing is detached: a view Node's
   * I/O holds must stay valid); later view() calls throw.
   */
  forget(): void {
    this.windows_.length = 0;
    this.handle_ = null;
    this.region_ = new ArrayBuffer(0);
    this.makeRegion_ = null;
    // v8 backing: V8 owns the memory, and detaching its buffer would free it
    // under any I/O that still writes through a view (the allocator's own
    // reference is gone by now, so nothing else keeps it). Only let go.
    this.whole_ = undefined;
  }

  private window_(i: number): ArrayBuffer {
    const base = i * this.stride_;
    const w = this.slice_(base, Math.min(this.span_, this.size_ - base));
    this.windows_[i] = w;
    return w;
  }

  private slice_(offset: number, length: number): ArrayBuffer {
    // A destroyed allocator's handle: sliceBuffer throws ERR_OFFHEAP_DESTROYED.
    const ab = native.sliceBuffer(this.handle_ ?? (null as unknown as NativeHandle), offset, length);
    new RegionSlice(ab, this, offset);
    return ab;
  }
}
