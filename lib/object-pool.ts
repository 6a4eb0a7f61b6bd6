/**
 * ObjectPool: fixed-size slots over mmap'd memory, handed out as handles
 * (byte offsets into `pool.buffer`) or as Buffer views. The native core keeps
 * a union-slot free list (zero bytes of header per slot) and one state byte
 * per slot in a side table; this thread's magazine (a stack of free slots in
 * a native magazine block, the same mechanism as a SlabAllocator's, with one
 * class) makes allocHandle / freeHandle a few typed-array operations, with a
 * native call only once per batch. The release-mode guards read the same state table,
 * so a double free or a foreign handle throws at the call in O(1), also while
 * the slot sits in a magazine. See README.md "ObjectPool" and DESIGN.md 3-5, 7.
 */
import { AllocatorBase } from './allocator';
import { invalidArgType, offheapError, offheapErrorAt, outOfRange, type OffheapErrorCode } from './errors';
import { DebugLedger } from './debug-ledger';
import { resolveDebug, type DebugConfig, type DebugOptions, type LeakRecord } from './guards';
import { COUNTER_FREES, MagazineBlockView, POOL_STRIDE_MASK, magazineFault } from './magazine-block';
import { adoptSharedMemory, answered, nativeAs, sharedMemory, type NativeHandle } from './native';
import type { AllocatorStats } from './registry';
import { STATE_CACHED, STATE_NONE } from './state-table';
import { isUint8Array } from './view';
import { validateBoolean, validateInteger, validateKnownKeys, validateOptions, validatePowerOfTwo, validateString } from './validate';
import { layoutFromPlain, makeCursor, slotReciprocal, validateLayout, type Layout, type LayoutSpec, type PlainSpec, type RecordCursor } from './layout';
import { GenerationTable, installGenerations } from './generations';

/** Largest slot; a region (and so capacity * slotSize) is at most 2 GiB. */
export const MAX_SLOT_SIZE = 1 << 24;
const MAX_REGION = 2 ** 31;

// The state bytes (lib/state-table.ts) and the magazine block
// (lib/magazine-block.ts), as module-local literals for the JIT: a live
// slot holds the id of the pool's one class.
const LIVE = 1;
const CACHED = STATE_CACHED;
const NEVER = STATE_NONE;
const MASK = POOL_STRIDE_MASK;
const FREES = COUNTER_FREES;
const EMPTY_I32 = new Int32Array(0);

/** Options of `new ObjectPool()`. Unknown names are a TypeError. */
export interface ObjectPoolOptions<S extends LayoutSpec = LayoutSpec> {
  /** Bytes each slot must hold (1 .. 16 MiB); rounded up to hold the free-list link and the alignment. Default with a layout: its size. */
  slotSize?: number;
  /** The records the slots hold (see layout()): slotSize and align default from it, and record() makes cursors of it. */
  layout?: Layout<S>;
  /** Handles carry a generation, so a handle whose slot was freed and reused is refused (see docs/records.md). Default false. */
  generational?: boolean;
  /** Most slots ever live; capacity * slotSize at most 2 GiB. */
  capacity: number;
  /** Alignment of every slot, a power of two 1 .. 4096 (at least 4 is used). Default 8. */
  align?: number;
  /** false: every slot is committed and prefaulted at construction. Default true. */
  growable?: boolean;
  /** Slots whose pages are committed and prefaulted at construction. Default 0. */
  preheat?: number;
  /**
   * Ask the OS for 2 MiB pages under the slots (Linux transparent huge
   * pages for madvised memory; a hint, ignored where they are off): a large
   * pool filled at once takes one page fault per 2 MiB instead of per 4 KiB,
   * and random access misses the TLB less. Resident memory then grows 2 MiB
   * at a time, and a fault may wait while the kernel assembles a huge page.
   * See docs/object-pool.md. Default false.
   */
  hugePages?: boolean;
  /** Debug guards (poisoning, stale views, leak reports); default from OFFHEAP_DEBUG. */
  debug?: boolean | DebugOptions;
  /** Name used in errors and metrics. */
  name?: string;
}

/** What share() returns: plain data for postMessage / workerData. */
export interface ObjectPoolDescriptor {
  /** Always 'ObjectPool': a SlabAllocator descriptor is refused. */
  readonly kind: 'ObjectPool';
  /** The id in the process-wide share registry. */
  readonly id: number;
  /** The rounded slot size. */
  readonly slotSize: number;
  /** Most slots live at once. */
  readonly capacity: number;
  /** The pool's debug settings (false in release mode): every attachment uses them. */
  readonly debug: false | {
    /** Poison fills and checks. */
    poison: boolean;
    /** Leak tracking level. */
    leaks: 'off' | 'sample' | 'paranoid';
  };
  /** The shared pool's name. */
  readonly name: string;
  /** Under the v8 backing: the pool's SharedArrayBuffers (slots, state), shared by structured clone. */
  readonly memory?: SharedArrayBuffer[];
  /** The pool's layout as plain data, when it has one. */
  readonly layout?: PlainSpec;
  /** The generation table, in a generational pool. */
  readonly generations?: SharedArrayBuffer;
}

/** AllocatorStats, plus the pool's geometry and where its free slots are. */
export interface ObjectPoolStats extends AllocatorStats {
  /** Rounded slot size in bytes. */
  slotSize: number;
  /** Most slots live at once. */
  capacity: number;
  /** Free slots in the native depot. */
  depotSlots: number;
  /** Free slots cached in the magazines of every attached thread. */
  cachedSlots: number;
  /** Threads attached (this one included). */
  attachments: number;
}

export type { LeakRecord } from './guards';

interface NativeStats {
  reservedBytes: number;
  committedBytes: number;
  liveCount: number;
  peakLiveCount: number;
  allocCount: number;
  freeCount: number;
  failedCount: number;
  slotSize: number;
  capacity: number;
  carvedSlots: number;
  depotSlots: number;
  attachments: number;
}

interface PoolNative {
  poolCreate(slotSize: number, align: number, capacity: number, growable: boolean, preheat: number, poison: boolean, name: string, hugePages: boolean): NativeHandle;
  poolSlotSize(slotSize: number, align: number): number;
  poolShare(h: NativeHandle): number;
  poolAttach(id: number, slotSize: number, capacity: number, name: string): NativeHandle;
  poolBuffers(h: NativeHandle): [states: ArrayBuffer, magazines: ArrayBuffer];
  poolRegion(h: NativeHandle): ArrayBuffer;
  poolInfo(h: NativeHandle): { slotSize: number; capacity: number; regionBytes: number; magazineCapacity: number; endsWord: number; countersByte: number; blockBytes: number };
  poolRefill(h: NativeHandle): number;
  poolDrain(h: NativeHandle, offset: number): void;
  poolAlloc(h: NativeHandle): number;
  poolFree(h: NativeHandle, offset: number): void;
  poolLive(h: NativeHandle): number;
  poolStats(h: NativeHandle): NativeStats;
  poolVerify(h: NativeHandle): void;
  poolDestroy(h: NativeHandle): void;
  poolRename(h: NativeHandle, name: string): void;
}

const native = nativeAs<PoolNative>();

const KNOWN_OPTIONS = ['slotSize', 'capacity', 'align', 'growable', 'preheat', 'hugePages', 'debug', 'name', 'layout', 'generational'] as const;

/** Opens an existing shared pool instead of creating one (attach()). */
class Attachment {
  constructor(readonly id: number, readonly generations?: unknown) {}
}

/**
 * Fixed-size slots with O(1) alloc and free and no header per slot (a free
 * slot holds the index of the next): many objects of one size that live a
 * while. allocHandle() returns a byte offset into `buffer`, alloc() a Buffer
 * over the slot; freeHandle() / free() give it back. share() / attach() open
 * it in other threads.
 */
export class ObjectPool<S extends LayoutSpec = LayoutSpec> extends AllocatorBase {
  readonly kind = 'ObjectPool';
  // Fields are `declare`d and assigned once, in the constructor: V8 then
  // treats them as constant and the fast paths load them for free. (A class
  // field declaration would first define each one as undefined.)
  private declare readonly slotSize_: number;
  /** log2(slotSize_) for a power-of-two slot size, else -1: see index_(). */
  private declare readonly shift_: number;
  /** slotReciprocal(slotSize_): see index_(). */
  private declare readonly inv_: number;
  private declare readonly capacity_: number;
  private declare readonly debug_: DebugConfig;
  /** This thread's magazine block (lib/magazine-block.ts): blk_[1] is the top, its free slots (handles) below it. */
  private declare readonly blk_: Int32Array;
  /** Word index of the magazine's end: blk_[1] === blk_[end_] when it is full. */
  private declare readonly end_: number;
  /** The slot-state table (native memory, shared by every thread); detached by destroy(). */
  private declare readonly states_: Uint8Array;
  /** This thread's block counters: the fast path counts its frees in [FREES]. */
  private declare readonly ctr_: Float64Array;
  private declare readonly stateBuffer_: ArrayBuffer;
  private declare readonly blockBuffer_: ArrayBuffer;
  /** Once other threads may free into the table: frees take a compare-and-swap. Tested `=== true` (a truthiness test of a field is ten instructions in V8). */
  private declare shared_: boolean;
  private declare readonly ledger_: DebugLedger | null;
  /** Buffers of slots freed by free(buf), beside their handles in the magazine. */
  private declare readonly views_: (Buffer | undefined)[];
  private declare readonly layout_: Layout<S> | null;
  private declare readonly generations_: GenerationTable | null;

  /**
   * Creates a pool. Throws TypeError / RangeError (ERR_INVALID_ARG_TYPE /
   * ERR_OUT_OF_RANGE) for a missing, unknown or out-of-range option, and
   * ERR_OFFHEAP_OS_FAILURE when the address space cannot be reserved.
   */
  constructor(options: ObjectPoolOptions<S>);
  constructor(options: ObjectPoolOptions<S>, attachment?: Attachment) {
    const o = validateOptions<ObjectPoolOptions<S>>(options);
    validateKnownKeys(o, KNOWN_OPTIONS);
    const lay = o.layout === undefined ? null : (validateLayout(o.layout, 'options.layout') as Layout<S>);
    const slotSize = o.slotSize === undefined && lay !== null ? lay.size : validateInteger(o.slotSize, 'options.slotSize', lay?.size ?? 1, MAX_SLOT_SIZE);
    const align = o.align === undefined ? Math.max(8, lay?.align ?? 1) : validatePowerOfTwo(o.align, 'options.align', lay?.align ?? 1, 4096);
    const generational = o.generational === undefined ? false : validateBoolean(o.generational, 'options.generational');
    const rounded = native.poolSlotSize(slotSize, align); // the core's one rounding
    const capacity = validateInteger(o.capacity, 'options.capacity', 1, Math.floor(MAX_REGION / rounded));
    const growable = o.growable === undefined ? true : validateBoolean(o.growable, 'options.growable');
    let preheat = o.preheat === undefined ? 0 : validateInteger(o.preheat, 'options.preheat', 0, capacity);
    if (!growable) {
      if (o.preheat !== undefined && preheat !== capacity) {
        throw outOfRange('options.preheat', `${capacity} (the capacity) or left out when growable is false`, preheat);
      }
      preheat = capacity;
    }
    const hugePages = o.hugePages === undefined ? false : validateBoolean(o.hugePages, 'options.hugePages');
    const debug = resolveDebug(o.debug);
    const name = o.name === undefined ? undefined : validateString(o.name, 'options.name');
    const handle = attachment instanceof Attachment
      ? native.poolAttach(attachment.id, rounded, capacity, name ?? 'ObjectPool')
      : native.poolCreate(slotSize, align, capacity, growable, preheat, debug.poison, name ?? 'ObjectPool', hugePages);
    const [states, block] = native.poolBuffers(handle);
    const { slotSize: slot, capacity: cap, regionBytes, endsWord, countersByte, magazineCapacity } = native.poolInfo(handle);
    // `buffer` is made when first read (handles, record cursors): V8 counts
    // its whole length as external memory, and a pool used through views
    // only is counted for the windows they sit on, whole slots each.
    super('ObjectPool', name, handle, { byteLength: regionBytes, make: () => native.poolRegion(handle) }, true, { slotSize: slot });
    if (name === undefined) native.poolRename(handle, this.name);
    this.slotSize_ = slot;
    this.shift_ = (slot & (slot - 1)) === 0 ? Math.log2(slot) : -1;
    this.inv_ = slotReciprocal(slot);
    this.capacity_ = cap;
    this.debug_ = debug;
    const mags = new MagazineBlockView(block, endsWord, countersByte, MASK);
    this.blk_ = mags.words;
    this.end_ = endsWord + 1;
    this.ctr_ = mags.counters;
    this.blockBuffer_ = block;
    this.views_ = new Array<Buffer | undefined>(magazineCapacity).fill(undefined);
    this.stateBuffer_ = states;
    this.states_ = new Uint8Array(states, 0, cap);
    this.shared_ = attachment instanceof Attachment;
    this.ledger_ = debug.enabled ? new DebugLedger(this.name, debug, this.regionViews_) : null;
    if (debug.enabled) this.useDebugPaths();
    this.layout_ = lay;
    const gens = attachment instanceof Attachment ? attachment.generations : undefined;
    this.generations_ = generational || gens !== undefined ? new GenerationTable(cap, slot, gens) : null;
    if (this.generations_ !== null) installGenerations(this as never, this.generations_);
  }

  /** Rounded slot size in bytes: what every handle and view spans. */
  get slotSize(): number {
    return this.slotSize_;
  }

  /** Most slots the pool can hold. */
  get capacity(): number {
    return this.capacity_;
  }

  /** The layout given at construction, or null. */
  get layout(): Layout<S> | null {
    return this.layout_;
  }

  /** In a generational pool: handle bits for the generation (see docs/records.md); 0 otherwise. */
  get generationBits(): number {
    return this.generations_?.generationBits ?? 0;
  }

  /**
   * A cursor over this pool's records (one object, reused: `p.at(h).x`).
   * `layout` defaults to the pool's own. Throws TypeError when there is
   * neither, RangeError for a layout larger than the slots or more aligned.
   */
  record(): RecordCursor<S>;
  record<T extends LayoutSpec>(layout: Layout<T>): RecordCursor<T>;
  record(layout?: Layout): RecordCursor<LayoutSpec> {
    const l = layout === undefined && this.layout_ !== null ? this.layout_ : validateLayout(layout, 'layout');
    if (l.size > this.slotSize_) throw outOfRange('layout.size', `<= ${this.slotSize_} (the pool's slot size)`, l.size);
    if ((this.slotSize_ & (l.align - 1)) !== 0) throw outOfRange('layout.align', `a divisor of the slot size ${this.slotSize_}`, l.align);
    this.assertAlive();
    return makeCursor(l, this);
  }

  /**
   * The byte offset in `buffer` of the live slot at handle `h` (the handle
   * itself unless the pool is generational). Throws as a cursor's at().
   */
  offsetOf(h: number): number {
    return this.liveOffset_(h, 0, 1);
  }

  /** @internal For cursors: the offset of live handle `h` (the pool checked size and align in record()). */
  liveOffset_(h: number, _size: number, _align: number): number {
    const st = this.states_;
    const i = typeof h === 'number' ? this.index_(h) : -1;
    if (i * this.slotSize_ !== h || i >>> 0 >= st.length || st[i] !== LIVE) return this.notLive(h);
    return h;
  }

  /** @internal Frees by byte offset: free(buf) goes through it (a generational pool's freeHandle takes handles). */
  freeOffset_(offset: number): void {
    this.freeHandle(offset);
  }

  /** Slots held by users right now, in every attached thread. Throws ERR_OFFHEAP_DESTROYED. */
  get live(): number {
    return native.poolLive(this.assertAlive());
  }

  /**
   * Allocates a slot and returns its handle: the byte offset of the slot in
   * `buffer`. The slot holds whatever was there (uninitialised). Throws
   * ERR_OFFHEAP_EXHAUSTED when `capacity` slots are live, ERR_OFFHEAP_DESTROYED
   * after destroy(), ERR_OFFHEAP_CORRUPTED when a free slot's link was
   * overwritten through `buffer` (the pool repairs itself from its state table).
   */
  allocHandle(): number {
    return this.take(true);
  }

  /** As allocHandle(), but returns -1 instead of throwing when the pool is exhausted. */
  tryAllocHandle(): number {
    return this.take(false);
  }

  /**
   * Frees the slot at handle `h`. The handle (and every view of it) must not
   * be used again. Throws ERR_OFFHEAP_DOUBLE_FREE for a slot already free
   * (also while it waits in a magazine, in any thread), ERR_OFFHEAP_INVALID_HANDLE
   * for an offset that is misaligned, out of range or was never handed out,
   * TypeError for a non-number, ERR_OFFHEAP_DESTROYED after destroy().
   */
  freeHandle(h: number): void {
    const st = this.states_;
    const size = this.slotSize_;
    // No coercion of what is not a number; an index that does not give h back is no handle.
    const i = typeof h === 'number' ? this.index_(h) : -1;
    if (i * size !== h || i >>> 0 >= st.length || st[i] !== LIVE || this.shared_ === true) return this.freeSlow(h);
    const blk = this.blk_;
    const t = blk[1];
    // A full magazine: the drain and this free are one native call. Past
    // it, the state, the magazine and the counter are written with no call
    // between (a call is where a terminated thread stops).
    if (t === blk[this.end_]) return this.drain_(h);
    st[i] = CACHED;
    blk[t] = h;
    blk[1] = t + 1;
    this.ctr_[FREES]++;
  }

  /**
   * A Buffer over the live slot at handle `h` (slotSize bytes, no copy).
   * Throws ERR_OFFHEAP_INVALID_HANDLE unless `h` is a live slot's handle.
   * In debug mode the view is detached when the slot is freed.
   */
  view(h: number): Buffer {
    const st = this.states_;
    const size = this.slotSize_;
    const i = typeof h === 'number' ? this.index_(h) : -1;
    if (i * size !== h || i >>> 0 >= st.length || st[i] !== LIVE) return this.viewSlow(h);
    return this.newView(h);
  }

  /**
   * allocHandle() as a Buffer of slotSize bytes over the slot. Same errors.
   * In release mode the Buffer object of a slot given back with free(buf)
   * is handed out again when that slot is (so a stale Buffer kept after
   * free() may be === a new one; it aliased the slot's memory anyway).
   */
  alloc(): Buffer {
    const h = this.take(true);
    const views = this.views_;
    const k = this.blk_[1] & MASK;
    const v = views[k];
    if (v !== undefined) {
      views[k] = undefined;
      // Freed by free(v) into this very magazine place: v starts slot h unless h came back by freeHandle().
      if (this.regionViews_.markedOffsetOf(v) === h) return v;
    }
    return this.newView(h);
  }

  /**
   * Frees the slot under a Buffer from alloc() or view(). Throws
   * ERR_OFFHEAP_INVALID_HANDLE for a Buffer that is not exactly one of this
   * pool's slots (another ArrayBuffer, offset or length), TypeError for a
   * non-view, and what freeHandle() throws. In debug mode a view of a freed
   * slot (stale, detached) throws ERR_OFFHEAP_USE_AFTER_FREE.
   */
  free(buf: Uint8Array): void {
    const h = this.regionViews_.markedOffsetOf(buf);
    if (h >= 0) {
      this.freeOffset_(h);
      this.views_[(this.blk_[1] - 1) & MASK] = buf as Buffer;
      return;
    }
    this.freeViewSlow(buf);
  }

  /** Plain numbers (see AllocatorStats), summed over every attached thread. Throws ERR_OFFHEAP_DESTROYED. */
  stats(): ObjectPoolStats {
    const s = native.poolStats(this.assertAlive());
    const size = this.slotSize_;
    return {
      reservedBytes: s.reservedBytes,
      committedBytes: s.committedBytes,
      liveBytes: s.liveCount * size,
      liveCount: s.liveCount,
      peakLiveBytes: s.peakLiveCount * size,
      allocCount: s.allocCount,
      freeCount: s.freeCount,
      failedCount: s.failedCount,
      slotSize: size,
      capacity: s.capacity,
      depotSlots: s.depotSlots,
      cachedSlots: s.carvedSlots - s.depotSlots - s.liveCount,
      attachments: s.attachments,
    };
  }

  /**
   * Walks all metadata: this thread's magazine against the state table, then
   * the native free lists against the table (cycle-safe). Throws
   * ERR_OFFHEAP_CORRUPTED when they disagree (the free lists are rebuilt from
   * the table, so the pool stays usable) and, in debug mode,
   * ERR_OFFHEAP_USE_AFTER_FREE for a free slot written since its free.
   */
  verify(): void {
    const h = this.assertAlive();
    const size = this.slotSize_;
    const cached = (x: number): boolean => x >= 0 && x % size === 0 && this.states_[x / size] === CACHED;
    const fault = magazineFault(this.blk_, this.end_ - 1, 1, MASK, cached);
    if (fault !== null && 'top' in fault) {
      throw this.error('ERR_OFFHEAP_CORRUPTED', `the top of this thread's magazine was overwritten (${fault.top})`);
    }
    if (fault !== null) {
      throw this.error('ERR_OFFHEAP_CORRUPTED', `offset ${fault.handle} in this thread's magazine is not a cached free slot`, fault.handle);
    }
    try {
      native.poolVerify(h);
    } catch (e) {
      throw this.ledger_ ? this.ledger_.annotate(e) : e;
    }
  }

  /**
   * Every slot live right now (any thread), with its allocation stack where
   * debug mode kept it. O(capacity). Throws ERR_OFFHEAP_DESTROYED.
   */
  leaks(): LeakRecord[] {
    this.assertAlive();
    const st = this.states_;
    const size = this.slotSize_;
    const out: LeakRecord[] = [];
    for (let i = 0; i < st.length; i++) {
      if (st[i] === LIVE) out.push({ offset: i * size, size, stack: this.ledger_?.stackOf(i * size) });
    }
    return out;
  }

  /**
   * A structured-clonable descriptor for ObjectPool.attach() in another
   * worker thread. From now on frees in this thread take an atomic
   * compare-and-swap, so that two threads never free one slot both.
   * Throws ERR_OFFHEAP_DESTROYED.
   */
  share(): ObjectPoolDescriptor {
    const id = native.poolShare(this.assertAlive());
    this.shared_ = true;
    const d = this.debug_;
    return {
      kind: 'ObjectPool',
      id,
      slotSize: this.slotSize_,
      capacity: this.capacity_,
      debug: d.enabled ? { poison: d.poison, leaks: d.leaks } : false,
      name: this.name,
      memory: sharedMemory(this.name, () => [this.buffer_, this.stateBuffer_]),
      ...(this.layout_ !== null && { layout: this.layout_.spec }),
      ...(this.generations_ !== null && { generations: this.generations_.buffer }),
    };
  }

  /**
   * Opens the pool another thread shared, with this thread's own buffer and
   * magazine; handles are valid in every attached thread. Throws TypeError
   * for something that is not a descriptor, ERR_OFFHEAP_DESTROYED when the
   * pool is gone (every attachment destroyed).
   */
  static attach(descriptor: ObjectPoolDescriptor): ObjectPool {
    const d = validateOptions<ObjectPoolDescriptor>(descriptor, 'descriptor');
    if (d.kind !== 'ObjectPool') throw invalidArgType('descriptor.kind', "'ObjectPool'", d.kind);
    const id = validateInteger(d.id, 'descriptor.id', 1);
    const debug = d.debug === false ? false : validateOptions<DebugOptions>(d.debug, 'descriptor.debug');
    const layout = d.layout === undefined ? undefined : layoutFromPlain(d.layout);
    const options: ObjectPoolOptions = { slotSize: d.slotSize as number, capacity: d.capacity as number, align: Math.max(4, layout?.align ?? 1), debug, name: d.name, layout };
    adoptSharedMemory(d.memory);
    return new (ObjectPool as unknown as new (o: ObjectPoolOptions, a: Attachment) => ObjectPool)(options, new Attachment(id, d.generations));
  }

  /**
   * Ends this thread's use of the pool: the slots in its magazine go back,
   * `buffer` and every view made from it are detached, and every later call
   * throws ERR_OFFHEAP_DESTROYED. The pages go back to the OS when the last
   * attachment (every thread's) is destroyed or collected; until then other
   * threads keep using the pool and its live slots. Calling it again does nothing.
   */
  override destroy(): void {
    super.destroy();
  }

  protected onDestroy(handle: NativeHandle): void {
    this.ledger_?.clear();
    // The native side gives this thread's magazine back (as at thread exit).
    native.poolDestroy(handle);
    // Detached, the state table and the block read as empty: every fast path
    // now falls through to a slow path, which throws ERR_OFFHEAP_DESTROYED.
    native.detachBuffer(this.stateBuffer_);
    native.detachBuffer(this.blockBuffer_);
    // Keep no reference to the detached ArrayBuffers (they would keep their ranges reserved).
    const self = this as unknown as { stateBuffer_: ArrayBuffer; blockBuffer_: ArrayBuffer; states_: Uint8Array; blk_: Int32Array; ctr_: Float64Array };
    self.stateBuffer_ = new ArrayBuffer(0);
    self.blockBuffer_ = new ArrayBuffer(0);
    self.states_ = new Uint8Array(0);
    self.blk_ = EMPTY_I32;
    self.ctr_ = new Float64Array(3);
  }

  // --- release paths ---

  private take(orThrow: boolean): number {
    const blk = this.blk_;
    let t = blk[1];
    // Empty exactly when the top is a multiple of the stride; a refill that
    // leaves it so found every slot live.
    if ((t & MASK) === 0 && ((t = this.refill_()) & MASK) === 0) return this.exhausted(orThrow);
    // Handles, not indices, in the magazine: the index (a multiply) stays off
    // the chain from one free to the next alloc of the same slot. It is
    // computed before the first write: a call (index_ when not inlined) is
    // where a terminated thread stops, and none may lie between the top's
    // write (which counts the allocation) and the state's.
    const h = blk[--t];
    const i = this.index_(h);
    blk[1] = t;
    this.states_[i] = LIVE;
    return h;
  }

  /**
   * The slot index of handle `h` when it is a multiple of the slot size
   * below 2^31, else some number whose product with the slot size is not h
   * (callers check that product): a shift for a power-of-two size, else a
   * multiply by slotReciprocal() and a truncation, never a division. The
   * shift matters beyond its own cost: alloc's state-byte store waits for
   * this address, and later loads wait for that store (18 -> 13 ns per
   * allocHandle() in a loop of fresh allocations of 64-byte slots).
   */
  private index_(h: number): number {
    const shift = this.shift_;
    return shift >= 0 ? h >>> shift : (h * this.inv_) | 0;
  }

  /** One native call: the magazine's new top, a batch of free slots below it. */
  private refill_(): number {
    return answered(native.poolRefill(this.assertAlive()), this.name);
  }

  private exhausted(orThrow: boolean): number {
    if (orThrow) throw this.error('ERR_OFFHEAP_EXHAUSTED', `all ${this.capacity_} slots are live`);
    return -1;
  }

  /** A free into a full magazine: half of it goes back and `h` takes its place, in one native call. */
  private drain_(h: number): void {
    native.poolDrain(this.assertAlive(), h);
  }

  private freeSlow(h: unknown): void {
    this.assertAlive();
    const i = this.slotIndex(h);
    const st = this.states_;
    const blk = this.blk_;
    const t = blk[1];
    if (t === blk[this.end_]) return this.drain_(h as number);
    // Shared: another thread may free the same slot at this instant; the
    // compare-and-swap lets exactly one of them have it.
    const seen = this.shared_ ? Atomics.compareExchange(st, i, LIVE, CACHED) : st[i];
    if (seen !== LIVE) throw this.refusal(h as number, seen);
    st[i] = CACHED;
    blk[t] = h as number;
    blk[1] = t + 1;
    this.ctr_[FREES]++;
  }

  /** The index of a well-formed handle, or a typed error for anything else. */
  private slotIndex(h: unknown): number {
    if (typeof h !== 'number') throw invalidArgType('handle', 'of type number', h);
    const size = this.slotSize_;
    if (!Number.isInteger(h) || h < 0 || h >= this.capacity_ * size) {
      throw this.error('ERR_OFFHEAP_INVALID_HANDLE', `offset ${h} is outside the pool (0 .. ${this.capacity_ * size - size})`, h);
    }
    if (h % size !== 0) throw this.error('ERR_OFFHEAP_INVALID_HANDLE', `offset ${h} is not a multiple of the slot size ${size}`, h);
    return h / size;
  }

  private refusal(h: number, state: number): Error {
    if (state === NEVER) return this.error('ERR_OFFHEAP_INVALID_HANDLE', `offset ${h} was never allocated`, h);
    return this.error('ERR_OFFHEAP_DOUBLE_FREE', `offset ${h} was already freed (double free)`, h);
  }

  /** Why `h` is no live handle, for a cursor: freed is USE_AFTER_FREE, anything else INVALID_HANDLE. */
  private notLive(h: unknown): never {
    this.assertAlive();
    const i = this.slotIndex(h);
    const st = this.states_[i];
    if (st === NEVER) throw this.error('ERR_OFFHEAP_INVALID_HANDLE', `offset ${h} was never allocated`, h as number);
    throw this.error('ERR_OFFHEAP_USE_AFTER_FREE', `offset ${h} was freed`, h as number);
  }

  private viewSlow(h: unknown): Buffer {
    this.assertAlive();
    const i = this.slotIndex(h);
    const st = this.states_[i];
    if (st !== LIVE) {
      throw this.error('ERR_OFFHEAP_INVALID_HANDLE', `offset ${h} is not live (${st === NEVER ? 'never allocated' : 'free'})`, h as number);
    }
    return this.makeDebugView(h as number, false);
  }

  private freeViewSlow(buf: unknown): void {
    this.assertAlive();
    if (!isUint8Array(buf)) throw invalidArgType('buffer', 'an instance of Buffer or Uint8Array', buf);
    const ab = buf.buffer;
    const offset = this.ledger_?.viewOffset(ab as ArrayBuffer);
    if (offset !== undefined) {
      // A debug view over its own ArrayBuffer: detached once its slot was freed.
      this.ledger_!.assertNotStale(ab as ArrayBuffer);
      if (buf.byteOffset !== 0 || buf.byteLength !== this.slotSize_) {
        throw this.error('ERR_OFFHEAP_INVALID_HANDLE', `a view of part of the slot at offset ${offset}`, offset);
      }
      return this.freeOffset_(offset);
    }
    const h = this.regionViews_.offsetOf(buf);
    if (h < 0) throw this.error('ERR_OFFHEAP_INVALID_HANDLE', 'the Buffer is not a view of this pool');
    if (buf.byteLength !== this.slotSize_) {
      throw this.error('ERR_OFFHEAP_INVALID_HANDLE', `a view of ${buf.byteLength} bytes; this pool's slots are ${this.slotSize_}`);
    }
    this.freeOffset_(h);
  }

  /** A release-mode Buffer over slot `h`. */
  private newView(h: number): Buffer {
    return this.regionViews_.view(h, this.slotSize_);
  }

  private error(code: OffheapErrorCode, detail: string, offset?: number): Error {
    return offset === undefined ? offheapError(code, this.name, detail) : offheapErrorAt(code, this.name, offset, detail);
  }

  // --- debug paths: installed as own properties by useDebugPaths() ---

  private useDebugPaths(): void {
    this.allocHandle = () => this.debugTake(true);
    this.tryAllocHandle = () => this.debugTake(false);
    this.freeHandle = (h: number) => this.debugFree(h);
    this.alloc = () => this.makeDebugView(this.debugTake(true), true);
    this.view = (h: number) => this.viewSlow(h);
    this.free = (buf: Uint8Array) => this.freeViewSlow(buf);
  }

  /** Every allocation through the native depot: poison checked, stack kept. */
  private debugTake(orThrow: boolean): number {
    const h = this.assertAlive();
    let offset: number;
    try {
      offset = answered(native.poolAlloc(h), this.name);
    } catch (e) {
      throw this.ledger_!.annotate(e);
    }
    if (offset < 0) {
      if (orThrow) throw this.error('ERR_OFFHEAP_EXHAUSTED', `all ${this.capacity_} slots are live`);
      return -1;
    }
    this.ledger_!.allocated(offset, this.slotSize_);
    return offset;
  }

  private debugFree(h: number): void {
    const nh = this.assertAlive();
    this.slotIndex(h);
    try {
      native.poolFree(nh, h);
    } catch (e) {
      throw this.ledger_!.annotate(e);
    }
    this.ledger_!.freed(h);
  }

  /** In debug mode a view has an ArrayBuffer of its own, detached on free; else a view of `buffer`. */
  private makeDebugView(offset: number, owner: boolean): Buffer {
    if (this.ledger_ === null) return this.newView(offset);
    return this.ledger_.view(offset, this.slotSize_, owner);
  }
}
