/**
 * What every allocator of the facade shares: a name, the native handle, this
 * thread's ArrayBuffer over the region, destroy / dispose, and registration
 * for module-level stats(). Allocator logic lives in the subclasses.
 */
import { offheapError } from './errors';
import { native, type NativeHandle } from './native';
import { register, unregister, type AllocatorStats, type Registered } from './registry';
import { validateString } from './validate';

let nextId = 1;

export abstract class AllocatorBase implements Registered, Disposable {
  /** The allocator's name, used in every error message and in metrics. */
  readonly name: string;
  /** 'Arena', 'ObjectPool' or 'SlabAllocator'. */
  abstract readonly kind: string;
  /** The native allocator; null once destroyed. */
  protected handle_: NativeHandle | null;
  /** This thread's ArrayBuffer over the whole region. */
  protected buffer_: ArrayBuffer;

  protected constructor(kind: string, name: unknown, handle: NativeHandle, buffer: ArrayBuffer) {
    this.name = name === undefined ? `${kind}#${nextId++}` : validateString(name, 'options.name');
    this.handle_ = handle;
    this.buffer_ = buffer;
    register(this);
  }

  /**
   * The region's ArrayBuffer: handles are byte offsets into it. Valid until
   * destroy(); afterwards it is detached (byteLength 0).
   */
  get buffer(): ArrayBuffer {
    return this.buffer_;
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
   * thread made is detached (byteLength 0) and every later call throws
   * ERR_OFFHEAP_DESTROYED. Calling it again does nothing.
   */
  destroy(): void {
    const h = this.handle_;
    if (h === null) return;
    this.onDestroy(h);
    this.handle_ = null;
    native.detachBuffer(this.buffer_);
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
