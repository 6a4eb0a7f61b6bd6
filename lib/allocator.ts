/**
 * What every allocator of the facade shares: a name, the native handle, this
 * thread's ArrayBuffer over the region, destroy / dispose, and registration
 * for module-level stats(). Allocator logic lives in the subclasses.
 */
import { offheapError } from './errors';
import type { NativeHandle } from './native';
import { register, unregister, type AllocatorStats, type Registered } from './registry';
import { validateString } from './validate';
import { RegionViews, type LazyRegion, type WindowLayout } from './view';

let nextId = 1;

export abstract class AllocatorBase implements Registered, Disposable {
  /** The allocator's name, used in every error message and in metrics. */
  readonly name: string;
  /** 'Arena', 'ObjectPool' or 'SlabAllocator'. */
  abstract readonly kind: string;
  /** The native allocator; null once destroyed. */
  protected handle_: NativeHandle | null;
  /** This thread's views of the region (windows; see lib/view.ts). */
  protected readonly regionViews_: RegionViews;

  /**
   * `buffer`: this thread's ArrayBuffer over the whole region, or a
   * LazyRegion that makes it when `buffer` is first read. `markViews`: views
   * carry a mark for a fast free(view) (allocators that free by view).
   * `windows`: how the windows views sit on lie over the region (lib/view.ts).
   */
  protected constructor(kind: string, name: unknown, handle: NativeHandle, buffer: ArrayBuffer | LazyRegion, markViews: boolean, windows: WindowLayout) {
    this.name = name === undefined ? `${kind}#${nextId++}` : validateString(name, 'options.name');
    this.handle_ = handle;
    this.regionViews_ = new RegionViews(handle, buffer, markViews, windows);
    register(this);
  }

  /**
   * The region's ArrayBuffer: handles are byte offsets into it. Valid until
   * destroy(); afterwards an empty ArrayBuffer (byteLength 0). It spans the whole
   * reservation: structuredClone / postMessage of it copy every byte of it
   * (pass handles, or share() / attach(), to other threads instead).
   */
  get buffer(): ArrayBuffer {
    return this.regionViews_.region();
  }

  /** This thread's ArrayBuffer over the whole region (for handles; views never sit on it). */
  protected get buffer_(): ArrayBuffer {
    return this.regionViews_.region();
  }

  /**
   * The handle (byte offset into `buffer`) of the allocation a view from
   * alloc() or view() starts: views sit over windows of the region, so their
   * byteOffset is not the handle. Throws ERR_OFFHEAP_INVALID_HANDLE for any
   * other value (a foreign Buffer, an interior or empty subarray),
   * ERR_OFFHEAP_DESTROYED after destroy().
   */
  handleOf(buf: Uint8Array): number {
    this.assertAlive();
    const h = this.regionViews_.offsetOf(buf);
    if (h < 0) throw offheapError('ERR_OFFHEAP_INVALID_HANDLE', this.name, 'the value is not a view of this allocator');
    return h;
  }

  /** True once destroy() has run. */
  get destroyed(): boolean {
    return this.handle_ === null;
  }

  /** Throws ERR_OFFHEAP_DESTROYED when the allocator was destroyed. */
  protected assertAlive(): NativeHandle {
    const h = this.handle_;
    if (h === null) throw offheapError('ERR_OFFHEAP_DESTROYED', this.name, 'the allocator was destroyed');
    return h;
  }

  /**
   * Frees everything at once: the pages go back to the OS, every view this
   * thread made reads zeros from now on (views are not detached: Node's I/O
   * may still hold one), `buffer` is an empty ArrayBuffer, and every later
   * call throws ERR_OFFHEAP_DESTROYED. Calling it again does nothing. The
   * address range stays reserved until the last ArrayBuffer over it is
   * collected, so I/O still writing into a view lands in these given-back
   * pages only, never in another allocator's memory.
   */
  destroy(): void {
    const h = this.handle_;
    if (h === null) return;
    this.onDestroy(h);
    this.handle_ = null;
    // No view is detached: Node's I/O may hold one (zlib, for one, aborts
    // the process when a queued Buffer is detached under it). The pages are
    // gone (views read zeros) and the range stays reserved until the last
    // ArrayBuffer over it is collected; the allocator lets go of its own.
    this.regionViews_.forget();
    unregister(this);
  }

  /**
   * Calls destroy(), so that `using pool = new ObjectPool(...)` destroys it at
   * the end of the block. `using` is a syntax error on Node 20 and 22 without
   * a flag; there, call destroy() (or this method) in a `finally`.
   */
  [Symbol.dispose](): void {
    this.destroy();
  }

  /** Subclass hook: flush caches and destroy the native allocator. */
  protected abstract onDestroy(handle: NativeHandle): void;

  /** Plain numbers; see AllocatorStats. */
  abstract stats(): AllocatorStats;
}
