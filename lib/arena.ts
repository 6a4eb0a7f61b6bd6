/**
 * Arena: bump allocation over mmap'd pages, freed all at once (nginx's
 * ngx_pool_t, Zig's ArenaAllocator, LLVM's BumpPtrAllocator).
 *
 * The fast path never crosses into C++: the cursor and the committed limit
 * live in eight native int32 words (native/core/arena.h, ArenaState) that
 * this file reads and writes through an Int32Array, and an allocation is the
 * same few lines as the C++ Arena::alloc: align, check against the limit,
 * bump, make a view. Only growth (limit reached), mark, rollback, reset,
 * verify and destroy call native code, which re-validates those words first.
 *
 * Debug mode (DESIGN.md section 5) takes the native path for every
 * allocation: fresh bytes 0xD0, a 0xDE red zone after each allocation checked
 * at rollback / reset / verify, released bytes 0xDF checked on reuse, one
 * detachable ArrayBuffer per view so rolled-back and reset views die, and
 * allocation stacks for leaks(). The methods are swapped once at
 * construction, so release mode pays nothing for it.
 */
import { inspect } from 'node:util';
import { AllocatorBase } from './allocator';
import { invalidArgType, offheapError, offheapErrorAt } from './errors';
import { SiteSampler, formatSite, type Site } from './debug-ledger';
import { resolveDebug, type DebugConfig, type DebugOptions, type LeakRecord } from './guards';
import { nativeAs, type NativeHandle } from './native';
import type { AllocatorStats } from './registry';
import { validateFunction, validateInteger, validateKnownKeys, validateOptions, validatePowerOfTwo, validateString } from './validate';
import { makeCursor, validateLayout, type Layout, type LayoutSpec, type RecordCursor } from './layout';
import { placeOnEdge } from './view';

interface ArenaNative {
  arenaCreate(maxBytes: number, name: string, debug: boolean, poison: boolean, redZone: number): NativeHandle;
  arenaState(h: NativeHandle): ArrayBuffer;
  arenaBuffer(h: NativeHandle): ArrayBuffer;
  arenaAlloc(h: NativeHandle, size: number, align: number, zeroed: boolean): number;
  arenaRewind(h: NativeHandle, cursor: number, count: number): void;
  arenaReset(h: NativeHandle, retainBytes: number | undefined): void;
  arenaVerify(h: NativeHandle): void;
  arenaStats(h: NativeHandle): AllocatorStats;
  arenaDestroy(h: NativeHandle): void;
}

const native = nativeAs<ArenaNative>();

// Indices of the shared words (ArenaState in native/core/arena.h).
const CURSOR = 0;
const LIMIT = 1; // -1 in debug mode and once destroyed: every allocation goes native
const COUNT = 2;
const COMMITTED = 3;
const PEAK = 4; // raised by JS rollbacks, published by native code
const RELEASED = 5; // allocations JS rolled back, folded into the native counters

/** Largest `maxBytes` (one region); usable bytes stop 4 KiB short of 2 GiB. */
export const MAX_ARENA_BYTES = 2 ** 31;
/** Largest alignment `alloc()` accepts. */
export const MAX_ALIGN = 4096;
/** The most an arena hands out: its cursor plus any alignment stays a positive int32 (Arena::kMaxCapacity). */
const MAX_ARENA_CAPACITY = MAX_ARENA_BYTES - MAX_ALIGN;
/** In 'sample' leak mode, one allocation in this many records its stack (one constant for every allocator). */
export { LEAK_SAMPLE_EVERY } from './debug-ledger';
/** Live marks an arena keeps at most. */
export const MAX_MARKS = 2 ** 20;

/** Options of `new Arena()`. */
export interface ArenaOptions {
  /** Bytes of address space to reserve, 1 .. 2 GiB; every allocation ends below it. */
  maxBytes: number;
  /** Default alignment of allocations, a power of two 1 .. 4096 (default 16). */
  align?: number;
  /** Debug guards (DESIGN.md section 5); OFFHEAP_DEBUG=1 turns them on everywhere. */
  debug?: boolean | DebugOptions;
  /** Used in error messages and metrics (default `Arena#<n>`). */
  name?: string;
}

/** Options of `arena.reset()`. */
export interface ArenaResetOptions {
  /** Keep this many bytes of committed pages (rounded up to a page); give the rest back to the OS. Default: keep all. */
  retainBytes?: number;
}

/** One live arena allocation, as leaks() lists it. */
export type ArenaLeak = LeakRecord;

/** AllocatorStats, plus the number of live marks. */
export interface ArenaStats extends AllocatorStats {
  /** Marks live now (taken by mark() or scope() and not yet rolled over or reset). */
  marks: number;
}

/** Debug-mode record of one live allocation. */
interface DebugRecord {
  readonly offset: number;
  readonly size: number;
  readonly site: Site | undefined;
  /** The view's own ArrayBuffer, detached when the allocation dies. */
  slice: ArrayBuffer | undefined;
}

const OPTION_KEYS = ['maxBytes', 'align', 'debug', 'name'] as const;
const RESET_KEYS = ['retainBytes'] as const;
const fillBytes = Uint8Array.prototype.fill;
let nextId = 1;
/** Mark ids: unique in the thread (so another arena's mark is never live here), far from any offset. */
let nextMark = 2 ** 32;

/**
 * Calls `fn` and calls `done` exactly once when it has settled: at once when
 * fn throws or returns a non-thenable (or an object whose `then` getter
 * throws: that error is thrown), else when the thenable settles, adopted the
 * way a native promise adopts it (the first call of either callback wins,
 * `then` throwing is a rejection, a thenable resolved with a thenable waits
 * for that one). Returns fn's value, or a native promise of its outcome.
 * `done` may throw (a reset's error): it fails a call that succeeded and
 * never hides fn's own error.
 */
export function settle<T>(fn: () => T, done: () => void): T {
  let result: T;
  let then: unknown;
  try {
    result = fn();
    then = (typeof result === 'object' || typeof result === 'function') && result !== null
      ? (result as { then?: unknown }).then
      : undefined;
  } catch (err) {
    try {
      done();
    } catch {
      // fn's own error is the one to report
    }
    throw err;
  }
  if (typeof then !== 'function') {
    done();
    return result;
  }
  const adopted = new Promise<unknown>((resolve, reject) => {
    try {
      (then as (ok: (v: unknown) => void, fail: (e: unknown) => void) => void).call(result, resolve, reject);
    } catch (err) {
      reject(err);
    }
  });
  return adopted.then(
    (value) => {
      done();
      return value;
    },
    (err: unknown) => {
      try {
        done();
      } catch {
        // fn's own error is the one to report
      }
      throw err;
    },
  ) as T;
}

/**
 * Makes structuredClone / postMessage of `target` throw
 * ERR_OFFHEAP_NOT_SHAREABLE instead of copying it field by field: the
 * serializer reads own enumerable properties, integer keys first, so an
 * accessor at key 0 throws before it reaches the native handle or copies the
 * region's ArrayBuffer. (JSON.stringify goes through toJSON().) Named
 * properties stay in fast mode.
 */
export function markNotShareable(target: object, name: string, why: string): void {
  Object.defineProperty(target, 0, {
    enumerable: true,
    configurable: false,
    get(): never {
      throw offheapError('ERR_OFFHEAP_NOT_SHAREABLE', name, why);
    },
  });
}

const NOT_SHAREABLE =
  'an Arena belongs to the thread (and the request) that owns it: it cannot be cloned, transferred or shared ' +
  'with structuredClone() or postMessage(); give each worker its own Arena, or share an ObjectPool / SlabAllocator';

/** Throws the one error, or an AggregateError of several, naming `what`. */
function throwCollected(errors: unknown[] | undefined, name: string, what: string): void {
  if (errors === undefined || errors.length === 0) return;
  if (errors.length === 1) throw errors[0];
  throw new AggregateError(errors, `${name}: ${errors.length} errors during ${what}`);
}

/**
 * A bump allocator for scratch memory with one owner and one lifetime (a
 * request, a parse, a frame): allocation is a pointer bump, nothing is freed
 * alone, and `reset()` frees everything at once.
 */
export class Arena extends AllocatorBase {
  readonly kind = 'Arena';
  /** Bytes reserved; every allocation ends at or below this. */
  readonly maxBytes: number;
  /** Default alignment of allocations. */
  readonly align: number;
  /** Resolved debug settings (enabled: false in release mode). */
  readonly debug: DebugConfig;

  // The fast paths' fields are `declare`d and assigned once in the
  // constructor, so V8 knows their types (a class field would first be
  // undefined, and every allocation would check what state_ holds).
  /** The shared words: [cursor, limit, count, committed, peak, released, ...]. */
  private declare readonly state_: Int32Array;
  /** align_ - 1 and -align_: the default alignment as allocHandle() applies it. */
  private declare readonly alignAdd_: number;
  private declare readonly alignMask_: number;
  /** Live marks, oldest first, as triples [id, cursor, count]; ids increase. */
  private readonly marks_: number[] = [];
  private declare readonly align_: number;
  private cleanups_: (() => unknown)[] = [];
  /** Bumped by every reset: a scope that sees it change has nothing left to roll back. */
  private resets_ = 0;
  /** Stats kept from the moment of destroy(). */
  private final_: ArenaStats | undefined;
  /** Debug mode: the live allocations, oldest first. */
  private readonly records_: DebugRecord[] = [];
  /** Debug mode: which allocations keep their stacks (debug.leaks). */
  private readonly sites_: SiteSampler;

  /**
   * Reserves `maxBytes` of address space (no memory is used until touched).
   * Throws TypeError / RangeError for bad or unknown options,
   * ERR_OFFHEAP_OS_FAILURE when the OS refuses the reservation.
   */
  constructor(options: ArenaOptions) {
    const o = validateOptions<ArenaOptions>(options);
    validateKnownKeys(o, OPTION_KEYS);
    const maxBytes = validateInteger(o.maxBytes, 'options.maxBytes', 1, MAX_ARENA_BYTES);
    const align = o.align === undefined ? 16 : validatePowerOfTwo(o.align, 'options.align', 1, MAX_ALIGN);
    const debug = resolveDebug(o.debug);
    const name = o.name === undefined ? `Arena#${nextId++}` : validateString(o.name, 'options.name');
    const handle = native.arenaCreate(maxBytes, name, debug.enabled, debug.poison, debug.redZone);
    // `buffer` is made when first read: V8 counts its whole length as
    // external memory, and a per-request arena whose handles nobody reads
    // never needs it (its views sit on windows).
    super('Arena', name, handle, { byteLength: regionBytes(maxBytes), make: () => native.arenaBuffer(handle) }, false, 'aligned');
    this.maxBytes = maxBytes;
    this.align = this.align_ = align;
    this.alignAdd_ = align - 1;
    this.alignMask_ = -align;
    this.debug = debug;
    this.state_ = new Int32Array(native.arenaState(handle));
    this.sites_ = new SiteSampler(debug.leaks);
    if (debug.enabled) {
      this.alloc = this.allocDebug_;
      this.allocZeroed = this.allocZeroedDebug_;
      this.allocHandle = this.allocHandleDebug_;
    }
    markNotShareable(this, name, NOT_SHAREABLE);
  }

  /**
   * Returns the byte offset in `buffer` of `size` fresh bytes aligned to
   * `align` (default: the arena's). No JS object is made. The bytes are
   * uninitialised (0xD0 in debug mode). Valid until a rollback past it,
   * reset() or destroy(). Throws ERR_OFFHEAP_EXHAUSTED when it does not fit
   * (nothing changes; smaller allocations may still fit), RangeError for a
   * size above maxBytes or a bad alignment, ERR_OFFHEAP_DESTROYED.
   */
  allocHandle(size: number, align?: number): number {
    // Integer arithmetic only: n is size as a uint32 (a size that is not one
    // fails n === size), the default alignment is two precomputed words, and
    // LIMIT is -1 in debug mode and once destroyed (both go the slow way).
    const s = this.state_;
    const n = typeof size === 'number' ? size >>> 0 : -1;
    let off: number;
    if (align === undefined) off = (s[CURSOR] + this.alignAdd_) & this.alignMask_;
    else if (typeof align === 'number' && isAlign(align)) off = (s[CURSOR] + align - 1) & -align;
    else return this.allocSlow_(size, align, false);
    const end = off + n;
    if (n === size && end <= s[LIMIT]) {
      s[CURSOR] = end;
      s[COUNT] = s[COUNT] + 1;
      return off;
    }
    return this.allocSlow_(size, align, false);
  }

  /**
   * Returns a Buffer over `size` fresh, uninitialised bytes aligned to
   * `align` (default: the arena's); `size` 0 gives an empty Buffer. The view
   * is over a 64 KiB window of the region (docs/memory-model.md): a view of
   * at most 64 KiB that would cross a window's edge starts on that edge (the
   * bytes skipped, fewer than `size`, stay unused until a rollback or
   * reset()); a larger one has an ArrayBuffer of its own. It is valid until a
   * rollback past it, reset() or destroy() (after destroy it reads as
   * empty). Throws as allocHandle().
   */
  alloc(size: number, align?: number): Buffer {
    // allocHandle()'s fast path, with the view placed off the window edges.
    const s = this.state_;
    const n = typeof size === 'number' ? size >>> 0 : -1;
    let off: number;
    if (align === undefined) off = (s[CURSOR] + this.alignAdd_) & this.alignMask_;
    else if (typeof align === 'number' && isAlign(align)) off = (s[CURSOR] + align - 1) & -align;
    else return this.allocViewSlow_(size, align);
    off = placeOnEdge(off, n);
    const end = off + n;
    if (n === size && end <= s[LIMIT]) {
      s[CURSOR] = end;
      s[COUNT] = s[COUNT] + 1;
      return this.regionViews_.view(off, n);
    }
    return this.allocViewSlow_(size, align);
  }

  /**
   * alloc()'s slow path: validates, moves the cursor to the window edge
   * when the view goes there and fits, then lets native code allocate (the
   * cursor is only moved where the allocation cannot then run out, so a
   * refused allocation changes nothing; where it would not fit on the edge
   * it stays where it is and gets an ArrayBuffer of its own).
   */
  private allocViewSlow_(size: unknown, align: unknown): Buffer {
    const h = this.assertAlive();
    const n = validateInteger(size, 'size', 0, this.maxBytes);
    const a = align === undefined ? this.align_ : validatePowerOfTwo(align, 'align', 1, MAX_ALIGN);
    const s = this.state_;
    const off = (s[CURSOR] + a - 1) & -a;
    const edge = placeOnEdge(off, n);
    // The limit grows by 64 KiB chunks, so an edge past an aligned cursor is at most the limit.
    if (edge !== off && edge <= s[LIMIT] && edge + n <= Math.min(this.maxBytes, MAX_ARENA_CAPACITY)) s[CURSOR] = edge;
    return this.regionViews_.view(native.arenaAlloc(h, n, a, false), n);
  }

  /** As alloc(), with every byte set to 0. */
  allocZeroed(size: number, align?: number): Buffer {
    const view = this.alloc(size, align);
    fillBytes.call(view, 0);
    return view;
  }

  /** The slow path: validates, then lets native code grow the limit and allocate. */
  private allocSlow_(size: unknown, align: unknown, zeroed: boolean): number {
    const h = this.assertAlive();
    validateInteger(size, 'size', 0, this.maxBytes);
    const a = align === undefined ? this.align_ : validatePowerOfTwo(align, 'align', 1, MAX_ALIGN);
    return native.arenaAlloc(h, size as number, a, zeroed);
  }

  /**
   * A cursor over records of `layout` in this arena (one object, reused):
   * allocate a record with `allocHandle(layout.size, layout.align)`, then
   * `c.at(h).x = 1`. at(h) takes a handle whose record lies below the
   * arena's cursor, i.e. was allocated since the last reset() or rollback()
   * that went below it, aligned to `layout.align`; a record rolled back or
   * reset is ERR_OFFHEAP_USE_AFTER_FREE, anything else
   * ERR_OFFHEAP_INVALID_HANDLE. Release mode keeps no per-allocation state,
   * so a handle kept across a reset passes again once the arena has
   * allocated past it; debug mode checks that `h` starts a live allocation
   * of at least `layout.size` bytes. Throws TypeError for a non-layout.
   */
  record<S extends LayoutSpec>(layout: Layout<S>): RecordCursor<S> {
    const l = validateLayout(layout, 'layout') as Layout<S>;
    this.assertAlive();
    return makeCursor(l, this);
  }

  /** @internal For cursors: the offset of a live record of `size` bytes aligned to `align` at `h`. */
  liveOffset_(h: number, size: number, align: number): number {
    if (typeof h === 'number' && (h | 0) === h && h >= 0 && (h & (align - 1)) === 0 && h + size <= this.state_[CURSOR] && !this.debug.enabled) return h;
    return this.liveOffsetSlow_(h, size, align);
  }

  private liveOffsetSlow_(h: unknown, size: number, align: number): number {
    this.assertAlive();
    if (typeof h !== 'number') throw invalidArgType('handle', 'of type number', h);
    const s = this.state_;
    const bad = (why: string): never => {
      throw offheapErrorAt('ERR_OFFHEAP_INVALID_HANDLE', this.name, h, `offset ${h} ${why}`);
    };
    if (!Number.isInteger(h) || h < 0 || h >= this.maxBytes) bad('is outside the arena');
    if ((h & (align - 1)) !== 0) bad(`is not aligned to the layout's ${align} bytes`);
    if (h + size > s[CURSOR]) {
      if (h + size <= Math.max(s[PEAK], s[CURSOR])) {
        throw offheapErrorAt('ERR_OFFHEAP_USE_AFTER_FREE', this.name, h, `offset ${h} was rolled back or reset (the arena's cursor is at ${s[CURSOR]})`);
      }
      bad(`was never allocated (the arena's cursor is at ${s[CURSOR]})`);
    }
    if (this.debug.enabled) {
      const r = this.recordAt_(h);
      if (r === undefined) bad('is not the start of a live allocation');
      if (r!.size < size) bad(`is an allocation of ${r!.size} bytes, smaller than the ${size}-byte record`);
    }
    return h;
  }

  /** Debug mode: the live allocation that starts at `offset` (records_ is in offset order). */
  private recordAt_(offset: number): DebugRecord | undefined {
    const r = this.records_;
    let lo = 0;
    let hi = r.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const o = r[mid].offset;
      if (o === offset) return r[mid];
      if (o < offset) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  /**
   * Returns a mark: the current position. rollback(mark) frees everything
   * allocated after it. Marks are LIFO: rolling back to a mark kills every
   * mark taken after it, and reset() kills them all. A mark is a number,
   * valid only in this arena. Costs no native call. Throws
   * ERR_OFFHEAP_DESTROYED, or ERR_OFFHEAP_EXHAUSTED past MAX_MARKS live marks.
   */
  mark(): number {
    this.assertAlive();
    const marks = this.marks_;
    if (marks.length >= MAX_MARKS * 3) {
      throw offheapError('ERR_OFFHEAP_EXHAUSTED', this.name, `too many live marks (${MAX_MARKS}): roll back or reset`);
    }
    const s = this.state_;
    const id = nextMark++;
    marks.push(id, s[CURSOR], s[COUNT]);
    return id;
  }

  /**
   * Frees everything allocated since `mark` (views of it are detached in
   * debug mode). The mark stays live, so a loop can roll back to it again;
   * marks taken after it die. Throws ERR_OFFHEAP_INVALID_HANDLE for a mark
   * that is not live (from before a reset, rolled over by an earlier mark,
   * from another arena, or any other number), TypeError for a non-number,
   * ERR_OFFHEAP_OVERFLOW in debug mode when a freed allocation's red zone
   * was written (the rollback is done all the same).
   */
  rollback(mark: number): void {
    this.rollbackTo_(mark, false);
  }

  private rollbackTo_(mark: unknown, release: boolean): void {
    const h = this.assertAlive();
    if (typeof mark !== 'number') throw invalidArgType('mark', 'of type number', mark);
    const marks = this.marks_;
    const i = findMark(marks, mark);
    const s = this.state_;
    if (i < 0 || marks[i + 1] > s[CURSOR]) {
      throw offheapError('ERR_OFFHEAP_INVALID_HANDLE', this.name, `${String(mark)} is not a live mark of this arena ` +
        '(marks die at reset and when an earlier mark is rolled back; a mark of another arena is never valid)');
    }
    const cursor = marks[i + 1];
    const count = marks[i + 2];
    for (let keep = release ? i : i + 3; marks.length > keep; ) marks.pop();
    this.rewind_(h, cursor, count);
  }

  /**
   * Frees everything above `cursor`, leaving `count` allocations. Release
   * mode writes the words C++ Arena::rewind writes (cursor and count down,
   * peak up, the freed allocations added to `released` for the native
   * counters) without a native call; debug mode lets native code check red
   * zones and poison, then detaches the dead views.
   */
  private rewind_(h: NativeHandle, cursor: number, count: number): void {
    const s = this.state_;
    if (this.debug.enabled) {
      try {
        native.arenaRewind(h, cursor, count);
      } finally {
        this.dropRecords_(s[COUNT]);
      }
      return;
    }
    this.rewindRelease_(cursor, count);
  }

  /** Release mode's rewind: the words C++ Arena::rewind writes. */
  private rewindRelease_(cursor: number, count: number): void {
    const s = this.state_;
    const c = s[CURSOR];
    if (c > s[PEAK]) s[PEAK] = c;
    s[RELEASED] = s[RELEASED] + s[COUNT] - count;
    s[CURSOR] = cursor;
    s[COUNT] = count;
  }

  /**
   * Runs `fn(arena)` and then frees everything it allocated here; returns
   * what fn returns. When fn returns a promise, the memory is freed once it
   * settles (fulfilled or rejected) and a promise of the same outcome is
   * returned. Scopes nest; concurrent async scopes on one arena must nest too
   * (an inner one outliving its outer one throws ERR_OFFHEAP_INVALID_HANDLE
   * when it ends). fn's own error wins over a failing rollback. Nothing is
   * rolled back when the arena was reset or destroyed inside fn.
   */
  scope<T>(fn: (arena: this) => T): T {
    validateFunction(fn, 'fn');
    const mark = this.mark();
    const resets = this.resets_;
    return settle(() => fn(this), () => this.endScope_(mark, resets));
  }

  private endScope_(mark: number, resets: number): void {
    if (this.handle_ === null || this.resets_ !== resets) return;
    this.rollbackTo_(mark, true);
  }

  /**
   * Registers `fn` to run at the next reset() or destroy(), before the
   * memory is released (nginx's pool cleanups). Cleanups run LIFO, each
   * once; rollback() does not run them. A throwing cleanup does not stop the
   * others or the reset: once all have run and the memory is released, its
   * error is thrown from reset()/destroy() (several: an AggregateError).
   * Throws TypeError for a non-function, ERR_OFFHEAP_DESTROYED.
   */
  defer(fn: () => unknown): void {
    validateFunction(fn, 'fn');
    this.assertAlive();
    this.cleanups_.push(fn);
  }

  private runCleanups_(errors: unknown[]): void {
    for (let fn = this.cleanups_.pop(); fn !== undefined; fn = this.cleanups_.pop()) {
      try {
        fn();
      } catch (err) {
        errors.push(err);
      }
    }
  }

  /**
   * Frees every allocation at once, in O(1) whatever their number, after
   * running the deferred cleanups. Every mark dies; every view now aliases
   * memory the next allocations reuse (in debug mode they are detached).
   * Committed pages are kept for reuse unless `retainBytes` says how many to
   * keep: the rest go back to the OS. Throws TypeError / RangeError for bad
   * options (nothing happens), ERR_OFFHEAP_DESTROYED, a cleanup's error,
   * ERR_OFFHEAP_OVERFLOW in debug mode (the reset is done all the same).
   */
  reset(options?: ArenaResetOptions): void {
    const s = this.state_;
    // Release mode, alive (LIMIT >= 0), nothing deferred, no pages to give back:
    // the words C++ Arena::reset would write, written here, no native call.
    if (options === undefined && s[LIMIT] >= 0 && this.cleanups_.length === 0) {
      this.resets_ = (this.resets_ + 1) | 0;
      if (this.marks_.length !== 0) this.marks_.length = 0;
      this.rewindRelease_(0, 0);
      return;
    }
    this.resetSlow_(options);
  }

  private resetSlow_(options: ArenaResetOptions | undefined): void {
    const h = this.assertAlive();
    let retain: number | undefined;
    if (options !== undefined) {
      const o = validateOptions<ArenaResetOptions>(options);
      validateKnownKeys(o, RESET_KEYS);
      if (o.retainBytes !== undefined) retain = validateInteger(o.retainBytes, 'options.retainBytes', 0, MAX_ARENA_BYTES);
    }
    let errors: unknown[] | undefined;
    if (this.cleanups_.length !== 0) this.runCleanups_((errors = []));
    this.resets_ = (this.resets_ + 1) | 0;
    if (this.marks_.length !== 0) this.marks_.length = 0;
    try {
      if (retain === undefined && !this.debug.enabled) this.rewind_(h, 0, 0); // no pages to return: no native call
      else native.arenaReset(h, retain);
    } catch (err) {
      (errors ??= []).push(err);
    } finally {
      if (this.debug.enabled) this.dropRecords_(0);
    }
    throwCollected(errors, this.name, 'reset');
  }

  /**
   * Runs the deferred cleanups, then gives every page back at once: old
   * views read zeros, never old bytes (they are not detached, so I/O that
   * Node's threadpool still runs into one stays safe), and every later call
   * throws ERR_OFFHEAP_DESTROYED. Calling it again does nothing. A cleanup's
   * error is thrown after the arena is destroyed.
   */
  override destroy(): void {
    if (this.handle_ === null) return;
    let errors: unknown[] | undefined;
    if (this.cleanups_.length !== 0) this.runCleanups_((errors = []));
    super.destroy();
    throwCollected(errors, this.name, 'destroy');
  }

  protected onDestroy(handle: NativeHandle): void {
    native.arenaDestroy(handle);
    this.marks_.length = 0;
    this.final_ = { ...native.arenaStats(handle), marks: 0 };
    // Views are not detached at destroy (I/O may hold one): they read zeros.
    this.records_.length = 0;
  }

  /**
   * Walks every invariant natively (cursor <= limit <= maxBytes, committed
   * accounting, marks, the shared words; in debug mode every red zone and the
   * poison of released memory). Returns nothing; throws ERR_OFFHEAP_OVERFLOW,
   * ERR_OFFHEAP_USE_AFTER_FREE (each reported once) or ERR_OFFHEAP_CORRUPTED,
   * naming the offset; ERR_OFFHEAP_DESTROYED.
   */
  verify(): void {
    native.arenaVerify(this.assertAlive());
    if (this.debug.enabled && this.records_.length !== this.state_[COUNT]) {
      throw offheapError('ERR_OFFHEAP_CORRUPTED', this.name,
        `${this.records_.length} tracked allocations, the native arena has ${this.state_[COUNT]}`);
    }
  }

  /**
   * Debug mode: one entry per live allocation (offset, size, allocation
   * stack when recorded), oldest first. An arena frees by reset, so this is
   * what a reset or destroy would free now. Release mode tracks nothing and
   * returns [].
   */
  leaks(): ArenaLeak[] {
    return this.records_.map((r) => ({ offset: r.offset, size: r.size, stack: formatSite(r.site) }));
  }

  /** Bytes in use: the cursor (alignment padding and, in debug mode, red zones included). */
  get used(): number {
    return this.state_[CURSOR];
  }

  /** Bytes of pages the arena has handed out and keeps (0 after destroy). */
  get committed(): number {
    return this.state_[COMMITTED];
  }

  /** The highest `used` ever reached. */
  get peak(): number {
    if (this.final_ !== undefined) return this.final_.peakLiveBytes;
    return Math.max(this.state_[PEAK], this.state_[CURSOR]);
  }

  /**
   * Plain counters: liveBytes = used, liveCount = allocations since the last
   * reset still live (rolled-back ones excluded), allocCount / freeCount ever
   * (a reset frees liveCount at once), failedCount = exhausted allocations,
   * marks = live marks. After destroy: the counters at destroy time.
   */
  stats(): ArenaStats {
    if (this.handle_ === null) return { ...this.final_! };
    return { ...native.arenaStats(this.handle_), marks: this.marks_.length / 3 };
  }

  /** An Arena is one thread's: always throws ERR_OFFHEAP_NOT_SHAREABLE. */
  share(): never {
    throw offheapError('ERR_OFFHEAP_NOT_SHAREABLE', this.name, NOT_SHAREABLE);
  }

  /** A plain summary (JSON.stringify would otherwise hit the unshareable marker). */
  toJSON(): {
    /** Always 'Arena'. */
    kind: string;
    /** The arena's name. */
    name: string;
    /** Bytes reserved. */
    maxBytes: number;
    /** The cursor: bytes allocated since the last reset. */
    used: number;
    /** Bytes of committed pages. */
    committed: number;
    /** True once destroy() has run. */
    destroyed: boolean;
  } {
    return { kind: this.kind, name: this.name, maxBytes: this.maxBytes, used: this.used, committed: this.committed, destroyed: this.destroyed };
  }

  /** What console.log and util.inspect print: `Arena { kind, name, maxBytes, used, committed, destroyed }`. */
  [inspect.custom](_depth: number, options: object): string {
    return `Arena ${inspect(this.toJSON(), options)}`;
  }

  // ---- debug mode: installed over alloc / allocZeroed / allocHandle ----

  private allocHandleDebug_(size: number, align?: number): number {
    return this.allocDebug2_(size, align, false).offset;
  }

  private allocDebug_(size: number, align?: number): Buffer {
    return this.viewDebug_(this.allocDebug2_(size, align, false));
  }

  private allocZeroedDebug_(size: number, align?: number): Buffer {
    return this.viewDebug_(this.allocDebug2_(size, align, true));
  }

  private allocDebug2_(size: number, align: number | undefined, zeroed: boolean): DebugRecord {
    const offset = this.allocSlow_(size, align, zeroed);
    const record: DebugRecord = { offset, size, site: this.sites_.take(), slice: undefined };
    this.records_.push(record);
    return record;
  }

  /** A view over an ArrayBuffer of its own, so it can die alone. */
  private viewDebug_(record: DebugRecord): Buffer {
    const { view, slice } = this.regionViews_.ownView(record.offset, record.size);
    record.slice = slice;
    return view;
  }

  /** Forgets (and detaches the views of) every allocation above the first `keep`. */
  private dropRecords_(keep: number): void {
    const records = this.records_;
    while (records.length > keep) {
      const r = records.pop()!;
      if (r.slice !== undefined) this.regionViews_.detach(r.slice);
    }
  }
}

/** The length of an arena's region: maxBytes rounded up to whole pages, as the native Region reserves it. */
function regionBytes(maxBytes: number): number {
  const page = native.pageSize();
  return Math.ceil(maxBytes / page) * page;
}

/** Index in `marks` (triples, ids increasing) of the mark `id`, or -1. */
function findMark(marks: number[], id: number): number {
  const top = marks.length - 3;
  if (top >= 0 && marks[top] === id) return top; // the usual case: the newest
  let lo = 0;
  let hi = top / 3 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = marks[mid * 3];
    if (v === id) return mid * 3;
    if (v < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** A power of two from 1 to 4096 (anything else takes the slow path, which throws). */
function isAlign(a: number): boolean {
  return ((a - 1) >>> 12) === 0 && (a & (a - 1)) === 0 && (a >>> 0) === a;
}

