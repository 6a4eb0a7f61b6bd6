/**
 * SlabAllocator: size classes carved from slabs of pages (Linux SLUB,
 * jemalloc's spacing), for objects of mixed sizes that come and go.
 *
 * Release mode never crosses into native code per operation: alloc maps the
 * size to a class id with one table read and pops that class's magazine;
 * free reads the handle's state byte (live, and of which class? or freed, or
 * no slot at all: the O(1) double-free / foreign / interior check) and
 * pushes it. Only an empty or full magazine calls native code, which moves a
 * batch. Debug mode takes the native path on every operation instead
 * (poisoning, red zones, stale views, leak reports); its methods are chosen
 * at construction, so release mode pays nothing for it.
 */
import { AllocatorBase } from './allocator';
import { invalidArgType, offheapError, offheapErrorAt, outOfRange } from './errors';
import { resolveDebug, type DebugConfig, type DebugOptions, type LeakRecord } from './guards';
import { COUNTER_FREES, MagazineBlockView, STRIDE_MASK, magazineFault } from './magazine-block';
import { adoptSharedMemory, answered, backing, native, nativeAs, sharedMemory, type NativeHandle } from './native';
import type { AllocatorStats } from './registry';
import { DebugLedger } from './debug-ledger';
import { STATE_CACHED, STATE_LIVE_LARGE, isFreedState } from './state-table';
import { validateInteger, validateKnownKeys, validateOptions, validatePowerOfTwo, validateString } from './validate';
import { isUint8Array, WINDOW_BYTES } from './view';
import { makeCursor, validateLayout, type Layout, type LayoutSpec, type RecordCursor } from './layout';

/** Options of `new SlabAllocator()`; every one has a default. Unknown names are a TypeError. */
export interface SlabAllocatorOptions {
  /** Address space to reserve (rounded up to whole slabs; at most 2 GiB). Default 1 GiB: reserving is free. */
  maxBytes?: number;
  /** Bytes per slab, a power of two from 4 KiB to 16 MiB. Default 64 KiB. */
  slabBytes?: number;
  /** Ascending object sizes, multiples of 16, at most slabBytes, up to 250 of them. Default: 16 B steps up to 128 B, then four per doubling up to slabBytes / 8 (docs/slab.md). */
  sizeClasses?: readonly number[];
  /** Empty slabs each class keeps committed before giving them back to the OS. Default 1. */
  retainEmptySlabs?: number;
  /** Debug mode (poisoning, red zones, stale views, leaks); OFFHEAP_DEBUG=1 turns it on everywhere. */
  debug?: boolean | DebugOptions;
  /** Named in errors and metrics. */
  name?: string;
}

/** One row of stats().classes, as a line of /proc/slabinfo. */
export interface SlabClassStats {
  /** Bytes per object. */
  size: number;
  /** Slabs serving this class (partial, full and empty). */
  slabs: number;
  /** floor(slabBytes / size). */
  objectsPerSlab: number;
  /** Objects allocated to users. */
  live: number;
  /** slabs * objectsPerSlab. */
  total: number;
  /** Empty slabs kept committed (retainEmptySlabs). */
  emptySlabs: number;
  /** Free objects held in threads' magazines. */
  cached: number;
}

/** AllocatorStats, plus one row per size class and the large allocations. */
export interface SlabStats extends AllocatorStats {
  /** One row per size class, smallest first. */
  classes: SlabClassStats[];
  /** Live allocations above the largest class, each with a run of its own. */
  largeCount: number;
  /** Bytes committed for those large allocations (each rounded up to a page). */
  largeBytes: number;
  /** Native bookkeeping outside the region: slab headers and the state bytes of slabs in use. */
  metadataBytes: number;
}

/** What share() returns and attach() takes: structured-clonable. */
export interface SlabDescriptor {
  /** Always 'SlabAllocator': an ObjectPool descriptor is refused. */
  readonly kind: 'SlabAllocator';
  /** The id in the process-wide share registry. */
  readonly id: number;
  /** The shared allocator's name. */
  readonly name: string;
  /** Its debug settings: every attachment uses the same. */
  readonly debug: DebugConfig;
  /** Under the v8 backing: the allocator's SharedArrayBuffers (region, state bytes), shared by structured clone. */
  readonly memory?: SharedArrayBuffer[];
}

interface SlabInfo {
  reservedBytes: number;
  slabBytes: number;
  classSizes: number[];
  objectsPerSlab: number[];
  capacities: number[];
  classIds: Uint8Array;
  retainEmptySlabs: number;
  poison: boolean;
  redZone: number;
  endsWord: number;
  countersByte: number;
  blockBytes: number;
}

interface SlabNative {
  slabCreate(maxBytes: number, slabBytes: number, sizes: number[] | null, retain: number, poison: boolean, redZone: number, name: string): NativeHandle;
  slabShare(h: NativeHandle): number;
  slabAttach(id: number, name: string): NativeHandle;
  slabInfo(h: NativeHandle): SlabInfo;
  slabBuffers(h: NativeHandle): [states: ArrayBuffer, magazines: ArrayBuffer];
  slabRegion(h: NativeHandle): ArrayBuffer;
  slabRefill(h: NativeHandle, classId: number): number;
  slabDrain(h: NativeHandle, classId: number, offset: number): void;
  slabLeaks(h: NativeHandle): Float64Array;
  slabFlush(h: NativeHandle): void;
  slabAlloc(h: NativeHandle, size: number): number;
  slabFree(h: NativeHandle, offset: number): void;
  slabCheck(h: NativeHandle, offset: number): boolean;
  slabUsableSize(h: NativeHandle, offset: number): number;
  slabStats(h: NativeHandle): SlabStats;
  slabTrim(h: NativeHandle): number;
  slabVerify(h: NativeHandle): void;
  slabDestroy(h: NativeHandle): void;
  slabRename(h: NativeHandle, name: string): void;
}

const slabNative = nativeAs<SlabNative>();

const KNOWN_OPTIONS = ['maxBytes', 'slabBytes', 'sizeClasses', 'retainEmptySlabs', 'debug', 'name'] as const;
const MAX_BYTES = 2 ** 31;
const MAX_SIZE = 2 ** 31 - 1;
// Module-local copies of the hot constants: read as literals by the JIT
// (a property load from another module's exports object each time otherwise).
const MASK = STRIDE_MASK;
const FREES = COUNTER_FREES;
const CACHED = STATE_CACHED;
const EMPTY_U8 = new Uint8Array(0);
const EMPTY_I32 = new Int32Array(0);

interface Opened {
  handle: NativeHandle;
  name: string | undefined;
  debug: DebugConfig;
}

/** Set by attach() for the constructor to pick up (one synchronous hand-over). */
let pendingAttach: Opened | null = null;

function validateSizeClasses(value: unknown, slabBytes: number): number[] {
  if (!Array.isArray(value)) throw invalidArgType('options.sizeClasses', 'an array of numbers', value);
  if (value.length === 0 || value.length > 250) throw outOfRange('options.sizeClasses.length', '>= 1 && <= 250', value.length);
  let prev = 0;
  return value.map((s: unknown, i: number) => {
    const n = validateInteger(s, `options.sizeClasses[${i}]`, 16, slabBytes);
    if (n % 16 !== 0 || n <= prev) throw outOfRange(`options.sizeClasses[${i}]`, `a multiple of 16 above ${prev}`, n);
    prev = n;
    return n;
  });
}

function create(options: unknown): Opened {
  const o = validateOptions<SlabAllocatorOptions>(options);
  validateKnownKeys(o, KNOWN_OPTIONS);
  const slabBytes = o.slabBytes === undefined ? 65536 : validatePowerOfTwo(o.slabBytes, 'options.slabBytes', 4096, 2 ** 24);
  const maxBytes = o.maxBytes === undefined ? 2 ** 30 : validateInteger(o.maxBytes, 'options.maxBytes', 1, MAX_BYTES);
  const sizes = o.sizeClasses === undefined ? null : validateSizeClasses(o.sizeClasses, slabBytes);
  const retain = o.retainEmptySlabs === undefined ? 1 : validateInteger(o.retainEmptySlabs, 'options.retainEmptySlabs', 0, 65535);
  const debug = resolveDebug(o.debug);
  const name = o.name === undefined ? undefined : validateString(o.name, 'options.name');
  const handle = slabNative.slabCreate(maxBytes, slabBytes, sizes, retain, debug.poison, debug.redZone, name ?? 'SlabAllocator');
  return { handle, name, debug };
}

/**
 * Objects of mixed sizes that come and go: size classes carved from slabs of
 * pages (Linux's SLUB, jemalloc's class spacing). alloc() returns a Buffer,
 * allocHandle() a byte offset into `buffer`; free() / freeHandle() give it
 * back, trim() returns empty slabs to the OS. share() / attach() open it in
 * other threads.
 */
export class SlabAllocator extends AllocatorBase {
  readonly kind = 'SlabAllocator';
  /** Bytes per slab. */
  readonly slabBytes: number;
  /** The object size of every class, ascending. */
  readonly sizeClasses: readonly number[];
  /** The resolved debug settings. */
  readonly debug: DebugConfig;

  // The fast path's state, read on every operation.
  /** State byte per 16-byte granule (lib/state-table.ts). */
  private states_: Uint8Array;
  /** This thread's magazines (lib/magazine-block.ts). */
  private blk_: Int32Array;
  private ctr_: Float64Array;
  /** (size + 15) >>> 4 -> class id. */
  private ids_: Uint8Array;
  /** Class id -> object size. */
  private sizes_: Int32Array;
  /** The largest class size; -1 once destroyed (every alloc takes the slow path). */
  private maxSmall_: number;
  /** Number of classes: live state bytes are 1..n_. */
  private readonly n_: number;
  /** Word index of ends[0] in blk_. */
  private readonly ends_: number;
  /** Frees use a CAS once the allocator is shared between threads. */
  private atomic_: boolean;
  private readonly views_: ArrayBuffer[];
  private readonly dbg_: DebugLedger | null;

  /**
   * Reserves the region (no memory is committed until used). Throws
   * TypeError / RangeError for bad or unknown options, ERR_OFFHEAP_OS_FAILURE
   * when the OS refuses the reservation.
   */
  constructor(options?: SlabAllocatorOptions) {
    const attached = pendingAttach !== null;
    const opened = pendingAttach ?? create(options);
    pendingAttach = null;
    const [states, block] = slabNative.slabBuffers(opened.handle);
    const info = slabNative.slabInfo(opened.handle);
    const handle = opened.handle;
    // `buffer` is made when first read (as an ObjectPool's). Objects never
    // lie across a slab's end, so slabs of at most 64 KiB never put one
    // across a window's end either.
    super('SlabAllocator', opened.name, handle, { byteLength: info.reservedBytes, make: () => slabNative.slabRegion(handle) }, true,
      info.slabBytes <= WINDOW_BYTES ? 'aligned' : 'overlapping');
    slabNative.slabRename(handle, this.name);
    this.slabBytes = info.slabBytes;
    this.sizeClasses = Object.freeze(info.classSizes.slice());
    this.debug = opened.debug;
    this.views_ = [states, block];
    this.states_ = new Uint8Array(states);
    const mags = new MagazineBlockView(block, info.endsWord, info.countersByte);
    this.blk_ = mags.words;
    this.ctr_ = mags.counters;
    this.ids_ = info.classIds;
    this.sizes_ = Int32Array.from([0, ...info.classSizes]);
    this.n_ = info.classSizes.length;
    this.maxSmall_ = info.classSizes[this.n_ - 1];
    this.ends_ = info.endsWord;
    this.atomic_ = attached;
    this.dbg_ = null;
    if (this.debug.enabled) {
      this.dbg_ = new DebugLedger(this.name, this.debug, this.regionViews_);
      installDebugMethods(this, this.dbg_);
    }
  }

  /**
   * Allocates `size` bytes (0 is allowed: the smallest class) and returns its
   * handle, a byte offset into `buffer`, valid until freeHandle(). Contents
   * are uninitialised. Throws TypeError / RangeError for a size that is not
   * a non-negative integer, ERR_OFFHEAP_EXHAUSTED when there is no room,
   * ERR_OFFHEAP_DESTROYED after destroy().
   */
  allocHandle(size: number): number {
    if (typeof size === 'number' && size >>> 0 === size && size <= this.maxSmall_) {
      const k = this.ids_[(size + 15) >>> 4];
      const blk = this.blk_;
      let t = blk[k];
      if ((t & MASK) === 0) t = this.refill_(k);
      blk[k] = --t;
      const h = blk[t];
      this.states_[h >>> 4] = k;
      return h;
    }
    return this.allocSlow_(size);
  }

  /**
   * Frees a handle from allocHandle() or alloc() (of any thread sharing this
   * allocator); its memory may be reused at once. Throws
   * ERR_OFFHEAP_DOUBLE_FREE when it was freed already (also while it sits in
   * a magazine), ERR_OFFHEAP_INVALID_HANDLE for an offset that is not a live
   * allocation's (foreign, interior, misaligned), TypeError for a non-number.
   */
  freeHandle(h: number): void {
    if (typeof h === 'number' && (h | 0) === h && (h & 0x8000000f) === 0) {
      const i = h >>> 4;
      const k = this.states_[i];
      if (k > 0 && k <= this.n_) {
        const blk = this.blk_;
        const t = blk[k];
        // A full magazine: the drain and this free are one native call.
        if (t === blk[this.ends_ + k]) return this.drain_(k, h);
        if (this.atomic_) {
          if (Atomics.compareExchange(this.states_, i, k, CACHED) !== k) return this.raceLost_(h);
        } else this.states_[i] = CACHED;
        blk[t] = h;
        blk[k] = t + 1;
        this.ctr_[FREES]++;
        return;
      }
    }
    this.freeSlow_(h);
  }

  /**
   * Allocates `size` bytes and returns a Buffer of exactly `size` bytes over
   * them (a view of `buffer` in release mode; a detachable view in debug
   * mode). Throws as allocHandle().
   */
  alloc(size: number): Buffer {
    const h = this.allocHandle(size);
    return this.regionViews_.view(h, size);
  }

  /**
   * Frees the allocation a Buffer from alloc() or view() starts. Throws
   * ERR_OFFHEAP_INVALID_HANDLE for a Buffer over other memory or longer than
   * the allocation it starts (an empty Buffer names no allocation unless
   * alloc(0) or view(h, 0) returned it), TypeError for a non-Uint8Array, and
   * as freeHandle().
   */
  free(buf: Uint8Array): void {
    const h = this.regionViews_.markedOffsetOf(buf);
    if (h >= 0) return this.freeHandle(h);
    this.freeBufferSlow_(buf, this.regionViews_.offsetOf(buf));
  }

  /**
   * Bytes usable at a live handle: its class's size, a large allocation's
   * page-rounded size, or the requested size in debug mode with red zones.
   * Throws ERR_OFFHEAP_USE_AFTER_FREE for a freed handle (also a freed large
   * allocation, or a slot whose slab went back to the OS, until that memory
   * serves another size class), ERR_OFFHEAP_INVALID_HANDLE for any other
   * offset (foreign, interior, never allocated), TypeError for a non-number.
   */
  usableSize(h: number): number {
    if (typeof h === 'number' && (h | 0) === h && (h & 0x8000000f) === 0) {
      const k = this.states_[h >>> 4];
      if (k > 0 && k <= this.n_) return this.sizes_[k];
      if (k === STATE_LIVE_LARGE) return slabNative.slabUsableSize(this.assertAlive(), h);
    }
    return this.notLive_(h);
  }

  /**
   * A Buffer over a live allocation: `size` bytes (default usableSize(h)).
   * Valid until the allocation is freed. Throws RangeError for a size above
   * usableSize(h), and as usableSize().
   */
  view(h: number, size?: number): Buffer {
    const usable = this.usableSize(h);
    const n = size === undefined ? usable : validateInteger(size, 'size', 0, usable);
    return this.regionViews_.view(h, n);
  }

  /**
   * A cursor over records of `layout` in this allocator (one object,
   * reused): allocate with `allocHandle(layout.size)`, then `c.at(h).x = 1`.
   * at(h) takes a live handle whose allocation holds at least `layout.size`
   * bytes; a freed one is ERR_OFFHEAP_USE_AFTER_FREE, anything else
   * ERR_OFFHEAP_INVALID_HANDLE. Throws TypeError for a non-layout.
   */
  record<S extends LayoutSpec>(layout: Layout<S>): RecordCursor<S> {
    const l = validateLayout(layout, 'layout') as Layout<S>;
    this.assertAlive();
    return makeCursor(l, this);
  }

  /** @internal For cursors: `h` when it is a live allocation of at least `size` bytes (slab handles are 16-byte aligned). */
  liveOffset_(h: number, size: number, _align: number): number {
    if (typeof h === 'number' && (h | 0) === h && (h & 0x8000000f) === 0 && this.dbg_ === null) {
      const k = this.states_[h >>> 4];
      if (k > 0 && k <= this.n_ && this.sizes_[k] >= size) return h;
    }
    return this.liveOffsetSlow_(h, size);
  }

  private liveOffsetSlow_(h: unknown, size: number): number {
    let usable: number;
    try {
      usable = this.usableSize(h as number);
    } catch (e) {
      // A freed large allocation: the native check calls it a double free; here it is a use after free.
      if ((e as { code?: string }).code !== 'ERR_OFFHEAP_DOUBLE_FREE') throw e;
      throw offheapErrorAt('ERR_OFFHEAP_USE_AFTER_FREE', this.name, h as number, `offset ${h} was freed`);
    }
    if (usable < size) {
      throw offheapErrorAt('ERR_OFFHEAP_INVALID_HANDLE', this.name, h as number, `offset ${h} holds ${usable} bytes, smaller than the ${size}-byte record`);
    }
    return h as number;
  }

  /**
   * Returns this thread's cached free objects to the depot and every empty
   * slab to the OS. Returns the committed bytes given back.
   */
  trim(): number {
    return slabNative.slabTrim(this.assertAlive());
  }

  /** Counters and one row per size class (see SlabStats). */
  stats(): SlabStats {
    return slabNative.slabStats(this.assertAlive());
  }

  /**
   * Walks every structure (lists, counts, free lists, state bytes; in debug
   * mode the poison of freed memory and every red zone). Throws
   * ERR_OFFHEAP_CORRUPTED, ERR_OFFHEAP_USE_AFTER_FREE or ERR_OFFHEAP_OVERFLOW
   * naming the offset of the first problem.
   */
  verify(): void {
    const handle = this.assertAlive();
    this.verifyMagazines_();
    try {
      slabNative.slabVerify(handle);
    } catch (e) {
      throw this.dbg_ ? this.dbg_.annotate(e) : e;
    }
  }

  /** This thread's magazines: each top within its class's words, each handle a cached free object. */
  private verifyMagazines_(): void {
    const cached = (h: number): boolean => (h & 0x8000000f) === 0 && this.states_[h >>> 4] === CACHED;
    for (let k = 1; k <= this.n_; k++) {
      const fault = magazineFault(this.blk_, this.ends_, k, MASK, cached);
      if (fault === null) continue;
      if ('top' in fault) {
        throw offheapError('ERR_OFFHEAP_CORRUPTED', this.name, `the top of this thread's magazine of class ${this.sizes_[k]} was overwritten (${fault.top})`);
      }
      throw offheapErrorAt('ERR_OFFHEAP_CORRUPTED', this.name, fault.handle, `offset ${fault.handle} in this thread's magazine is not a cached free object`);
    }
  }

  /**
   * Every allocation live right now (any thread's), in offset order, with
   * its allocation stack where debug mode kept one (`debug.leaks`). The size
   * is the requested one in debug mode, the usable one in release mode.
   * Throws ERR_OFFHEAP_DESTROYED.
   */
  leaks(): LeakRecord[] {
    const flat = slabNative.slabLeaks(this.assertAlive());
    const out: LeakRecord[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ offset: flat[i], size: flat[i + 1], stack: this.dbg_?.stackOf(flat[i]) });
    return out;
  }

  /**
   * Lets worker threads use this allocator: returns a structured-clonable
   * descriptor for SlabAllocator.attach(). From now on frees are atomic.
   */
  share(): SlabDescriptor {
    const id = slabNative.slabShare(this.assertAlive());
    this.atomic_ = true;
    const memory = sharedMemory(this.name, () => [this.buffer_, this.states_.buffer]);
    return Object.freeze({ kind: 'SlabAllocator', id, name: this.name, debug: { ...this.debug }, memory });
  }

  /**
   * Opens an allocator share()d by another thread, with this thread's own
   * buffer and magazines. Throws ERR_OFFHEAP_DESTROYED when every attachment
   * of it is gone, TypeError for anything but a descriptor.
   */
  static attach(descriptor: SlabDescriptor): SlabAllocator {
    const d = validateOptions<SlabDescriptor>(descriptor, 'descriptor');
    if (d.kind !== 'SlabAllocator' || typeof d.id !== 'number' || typeof d.name !== 'string' || typeof d.debug !== 'object') {
      throw invalidArgType('descriptor', 'a descriptor from SlabAllocator.share()', descriptor);
    }
    adoptSharedMemory(d.memory);
    const handle = slabNative.slabAttach(d.id, d.name);
    pendingAttach = { handle, name: d.name, debug: Object.freeze({ ...d.debug }) };
    try {
      return new SlabAllocator();
    } finally {
      pendingAttach = null;
    }
  }

  protected onDestroy(handle: NativeHandle): void {
    this.dbg_?.clear();
    slabNative.slabDestroy(handle);
    for (const ab of this.views_) native.detachBuffer(ab);
    // Keep no reference to the detached ArrayBuffers (they would keep their ranges reserved).
    this.views_.length = 0;
    this.maxSmall_ = -1;
    this.states_ = EMPTY_U8;
    this.blk_ = EMPTY_I32;
    this.ctr_ = new Float64Array(this.ctr_.length);
  }

  // ---- slow paths ----

  private refill_(k: number): number {
    return answered(slabNative.slabRefill(this.assertAlive(), k), this.name);
  }

  private drain_(k: number, h: number): void {
    slabNative.slabDrain(this.assertAlive(), k, h);
  }

  private allocSlow_(size: unknown): number {
    const handle = this.assertAlive();
    const n = validateInteger(size, 'size', 0, MAX_SIZE);
    return answered(slabNative.slabAlloc(handle, n), this.name);
  }

  private freeSlow_(h: unknown): void {
    const handle = this.assertAlive();
    const off = this.handleArg_(h);
    if (this.states_[off >>> 4] === STATE_LIVE_LARGE) return slabNative.slabFree(handle, off);
    slabNative.slabCheck(handle, off);  // throws DOUBLE_FREE or INVALID_HANDLE
    // It was not live when read here, and is live again now: another thread
    // has freed and reused it meanwhile. Freeing it now would free theirs.
    return this.raceLost_(off);
  }

  /** A free that lost to a concurrent free of the same handle (shared mode). */
  private raceLost_(h: number): never {
    throw offheapErrorAt('ERR_OFFHEAP_DOUBLE_FREE', this.name, h, `offset ${h} was freed twice (by two threads at once)`);
  }

  /** free(buf) of anything but a small allocation's own view: `h` is where buf starts, or -1. */
  private freeBufferSlow_(buf: unknown, h: number): void {
    this.assertAlive();
    if (!isUint8Array(buf)) throw invalidArgType('buf', 'an instance of Buffer or Uint8Array', buf);
    if (h < 0) throw offheapError('ERR_OFFHEAP_INVALID_HANDLE', this.name, 'the Buffer does not start an allocation of this allocator');
    // usableSize() throws for an offset that is not a live allocation's start.
    if (buf.byteLength > this.usableSize(h)) {
      throw offheapErrorAt('ERR_OFFHEAP_INVALID_HANDLE', this.name, h, `a Buffer of ${buf.byteLength} bytes is longer than the allocation at offset ${h}`);
    }
    this.freeHandle(h);
  }

  /** Checks a handle argument's type and shape; returns it. */
  private handleArg_(h: unknown): number {
    if (typeof h !== 'number') throw invalidArgType('handle', 'of type number', h);
    if (!Number.isInteger(h) || h < 0 || h >= MAX_BYTES || (h & 15) !== 0) {
      throw offheapError('ERR_OFFHEAP_INVALID_HANDLE', this.name, `${h} is not a handle of this allocator (a 16-byte-aligned offset into its buffer)`);
    }
    return h;
  }

  private notLive_(h: unknown): never {
    const handle = this.assertAlive();
    const off = this.handleArg_(h);
    let freed = isFreedState(this.states_[off >>> 4]);
    if (!freed) {
      try {
        slabNative.slabCheck(handle, off);
      } catch (e) {
        // Freed, and its slab (or large run) has gone back to the OS since.
        if ((e as { code?: string }).code !== 'ERR_OFFHEAP_DOUBLE_FREE') throw e;
        freed = true;
      }
    }
    if (freed) throw offheapErrorAt('ERR_OFFHEAP_USE_AFTER_FREE', this.name, off, `offset ${off} was freed`);
    throw offheapErrorAt('ERR_OFFHEAP_INVALID_HANDLE', this.name, off, `offset ${off} is not a live allocation`);
  }

  /** @internal For the debug methods: the native handle (throws DESTROYED). */
  handleForDebug_(): NativeHandle {
    return this.assertAlive();
  }
}

/**
 * Debug mode: every operation goes through the core (which poisons, fills
 * and checks red zones) and through the DebugLedger (stacks, views). Installed as
 * own properties, so release-mode instances never see them.
 */
function installDebugMethods(a: SlabAllocator, dbg: DebugLedger): void {
  const self = a as unknown as Record<string, unknown> & { buffer: ArrayBuffer; name: string };
  const call = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      throw dbg.annotate(e);
    }
  };
  const allocHandle = (size: number): number => {
    const handle = a.handleForDebug_();
    const n = validateInteger(size, 'size', 0, MAX_SIZE);
    const h = call(() => answered(slabNative.slabAlloc(handle, n), a.name));
    dbg.allocated(h, n);
    return h;
  };
  const freeHandle = (h: number): void => {
    const handle = a.handleForDebug_();
    if (typeof h !== 'number') throw invalidArgType('handle', 'of type number', h);
    if (!Number.isInteger(h) || h < 0 || h >= MAX_BYTES) {
      throw offheapError('ERR_OFFHEAP_INVALID_HANDLE', a.name, `${h} is not a handle of this allocator`);
    }
    try {
      slabNative.slabFree(handle, h);
    } catch (e) {
      // An overflow is found while freeing: the allocation is gone all the same.
      if ((e as { code?: string }).code === 'ERR_OFFHEAP_OVERFLOW') dbg.freed(h);
      throw dbg.annotate(e);
    }
    dbg.freed(h);
  };
  const usableSize = (h: number): number => {
    const handle = a.handleForDebug_();
    if (typeof h !== 'number') throw invalidArgType('handle', 'of type number', h);
    try {
      return slabNative.slabUsableSize(handle, h);
    } catch (e) {
      if ((e as { code?: string }).code !== 'ERR_OFFHEAP_DOUBLE_FREE') throw e;
      throw dbg.annotate(offheapErrorAt('ERR_OFFHEAP_USE_AFTER_FREE', a.name, h, `offset ${h} was freed`));
    }
  };
  self.allocHandle = allocHandle;
  self.freeHandle = freeHandle;
  self.usableSize = usableSize;
  self.alloc = (size: number): Buffer => {
    const h = allocHandle(size);
    a.handleForDebug_();
    return dbg.view(h, size, true);
  };
  self.free = (buf: Uint8Array): void => {
    a.handleForDebug_();
    freeHandle(debugHandleOf(a, dbg, buf));
  };
  self.view = (h: number, size?: number): Buffer => {
    const usable = usableSize(h);
    const n = size === undefined ? usable : validateInteger(size, 'size', 0, usable);
    a.handleForDebug_();
    return dbg.view(h, n, false);
  };
}

/**
 * The handle a Buffer passed to free() stands for in debug mode: a debug
 * view's offset, or its byteOffset when it views the whole region's
 * `buffer`. Throws USE_AFTER_FREE for a view of freed memory, INVALID_HANDLE
 * for a foreign one.
 */
function debugHandleOf(a: SlabAllocator, dbg: DebugLedger, buf: unknown): number {
  if (!isUint8Array(buf)) throw invalidArgType('buf', 'an instance of Buffer or Uint8Array', buf);
  const ab = buf.buffer as ArrayBuffer;
  dbg.assertNotStale(ab);
  const offset = dbg.viewOffset(ab);
  // A debug view's ArrayBuffer is its allocation: the Buffer must start it.
  if (offset !== undefined && buf.byteOffset === 0) return offset;
  // Under the v8 backing debug views are plain views (RegionViews.ownView).
  if (offset === undefined && backing === 'v8') return a.handleOf(buf);
  throw offheapError('ERR_OFFHEAP_INVALID_HANDLE', a.name, 'the Buffer does not start an allocation of this allocator');
}
