/**
 * The JavaScript half of the slab allocator's debug mode (the native half
 * poisons, fills red zones and checks both): this thread's live allocations
 * with their stacks (leaks()), the views handed out (detached on free, so a
 * stale view reads as empty and is refused when passed back), free sites for
 * use-after-free reports, and a warning when the Buffer returned by alloc()
 * is garbage-collected while its allocation is still live.
 */
import { OffheapError, invalidArgType, offheapError } from './errors';
import type { DebugConfig, LeakRecord } from './guards';
import { native, type NativeHandle } from './native';
import { makeView } from './view';

/** One entry of leaks(). */
export type { LeakRecord } from './guards';

interface Live {
  size: number;
  stack: string | undefined;
  /** Every ArrayBuffer made for views of it, detached on free. */
  views: WeakRef<ArrayBuffer>[];
}

/** Free sites kept for use-after-free reports. */
const MAX_FREE_SITES = 4096;
/** A stack frame inside this package's slab files (lib/*.ts or dist/cjs/*.js). */
const OWN_FRAME = /[\\/](?:lib|dist[\\/]cjs)[\\/]slab(?:-debug)?\.(?:ts|js):/;
/** 'sample': one allocation in this many keeps its stack. */
const SAMPLE_EVERY = 16;

export class SlabDebug {
  private readonly live = new Map<number, Live>();
  private readonly freedAt = new Map<number, string>();
  /** Slice ArrayBuffer -> the offset it views. */
  private readonly slices = new WeakMap<ArrayBuffer, number>();
  private readonly stale = new WeakSet<ArrayBuffer>();
  private readonly collected = new FinalizationRegistry<{ offset: number; record: Live }>((held) => this.onCollected(held));
  private allocations = 0;

  constructor(
    private readonly name: string,
    private readonly config: DebugConfig,
  ) {}

  /** A stack for this allocation or free, as the leak level says. */
  private stack(): string | undefined {
    const level = this.config.leaks;
    if (level === 'off' || (level === 'sample' && this.allocations % SAMPLE_EVERY !== 1)) return undefined;
    const lines = (new Error().stack ?? '').split('\n').slice(1);
    let first = 0;  // skip offheap's own frames: the stack starts at the caller
    while (first < lines.length - 1 && OWN_FRAME.test(lines[first])) first++;
    return lines.slice(first).join('\n');
  }

  /** Records a new allocation at `offset` of `size` bytes. */
  allocated(offset: number, size: number): void {
    this.allocations++;
    this.live.set(offset, { size, stack: this.stack(), views: [] });
    this.freedAt.delete(offset);
  }

  /**
   * A Buffer over [offset, offset+size) with an ArrayBuffer of its own, so
   * free() can detach it. `owner`: the Buffer alloc() returns, watched for
   * being collected while the allocation lives.
   */
  view(handle: NativeHandle, offset: number, size: number, owner: boolean): Buffer {
    const ab = native.sliceBuffer(handle, offset, size);
    this.slices.set(ab, offset);
    const record = this.live.get(offset);
    if (record) {
      record.views.push(new WeakRef(ab));
      if (owner) this.collected.register(ab, { offset, record });
    }
    return makeView(ab, 0, size);
  }

  /** Forgets a freed allocation: detaches its views, keeps its free site. */
  freed(offset: number): void {
    const record = this.live.get(offset);
    if (record) {
      for (const ref of record.views) {
        const ab = ref.deref();
        if (ab) {
          this.stale.add(ab);
          native.detachBuffer(ab);
        }
      }
      this.live.delete(offset);
    }
    const site = this.stack();
    if (site !== undefined) {
      if (this.freedAt.size >= MAX_FREE_SITES) this.freedAt.delete(this.freedAt.keys().next().value as number);
      this.freedAt.set(offset, site);
    }
  }

  /**
   * The handle a Buffer passed to free() stands for: a debug view's offset,
   * or its byteOffset when it views the whole region's `buffer`. Throws
   * USE_AFTER_FREE for a view of freed memory, INVALID_HANDLE for a foreign one.
   */
  handleOf(buf: unknown, region: ArrayBuffer): number {
    if (!(buf instanceof Uint8Array)) throw invalidArgType('buf', 'an instance of Buffer or Uint8Array', buf);
    const ab = buf.buffer as ArrayBuffer;
    if (this.stale.has(ab)) {
      throw offheapError('ERR_OFFHEAP_USE_AFTER_FREE', this.name, `a view of freed memory (offset ${this.slices.get(ab)}) was passed back`);
    }
    const offset = this.slices.get(ab);
    if (offset !== undefined) return offset + buf.byteOffset;
    if (ab === region) return buf.byteOffset;
    throw offheapError('ERR_OFFHEAP_INVALID_HANDLE', this.name, 'the Buffer was not allocated by this allocator');
  }

  /** Appends the free site of the allocation an error names, when kept. */
  annotate(err: unknown): unknown {
    if (!(err instanceof OffheapError)) return err;
    const at = err as OffheapError & { slot?: number; offset?: number };
    const site = this.freedAt.get(at.slot ?? at.offset ?? -1);
    if (site !== undefined) at.message += `\n    freed at:\n${site}`;
    return err;
  }

  /** This thread's live allocations that are still live (`isLive` asks the state table). */
  leaks(isLive: (offset: number) => boolean): LeakRecord[] {
    const out: LeakRecord[] = [];
    for (const [offset, r] of this.live) if (isLive(offset)) out.push({ offset, size: r.size, stack: r.stack });
    return out;
  }

  /** Detaches every view still alive (destroy). */
  detachAll(): void {
    for (const offset of [...this.live.keys()]) this.freed(offset);
  }

  private onCollected(held: { offset: number; record: Live }): void {
    if (this.live.get(held.offset) !== held.record) return;
    const where = held.record.stack ? `\n    allocated at:\n${held.record.stack}` : '';
    process.emitWarning(
      `${this.name}: the Buffer of ${held.record.size} bytes at offset ${held.offset} was garbage-collected while still allocated (a leak: free() was never called)${where}`,
      { code: 'OFFHEAP_LEAK' },
    );
  }
}
