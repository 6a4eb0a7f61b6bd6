/**
 * The JavaScript half of every allocator's debug mode (DESIGN.md section 5),
 * in one place: which allocations keep their stacks ('sample' / 'paranoid'),
 * stack capture that starts at the caller, and, for allocators that free one
 * allocation at a time (ObjectPool, SlabAllocator), the DebugLedger: this
 * thread's live allocations, the views this thread handed out for any
 * allocation (whichever thread made it: detachable ArrayBuffers of their own,
 * one per allocation and size however often view() is called, detached when
 * this thread frees the allocation or destroys the allocator, so stale views
 * die and are recognised when passed back), free sites for use-after-free and
 * double-free reports, and an OFFHEAP_LEAK warning when the Buffer from
 * alloc() is garbage-collected while its allocation is still live. The
 * native half (fill bytes, red zones and their checks) is native/core/guards.h.
 * Only debug-mode allocators have a ledger; release mode pays nothing.
 */
import { OffheapError, offheapErrorAt } from './errors';
import type { DebugConfig, LeakLevel, LeakRecord } from './guards';
import { makeView, type RegionViews } from './view';

/** 'sample': one allocation in this many keeps its stack (and its free site). */
export const LEAK_SAMPLE_EVERY = 16;
/** Free sites kept for reports, per allocator (the oldest are forgotten first). */
export const MAX_FREE_SITES = 4096;
/** Frames kept in a stack. */
const STACK_FRAMES = 10;

/** A call site: an Error whose stack V8 formats only when it is read. */
export type Site = Error;

/** Captures the current call site (cheap: formatting waits until it is shown). */
export function captureSite(): Site {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = STACK_FRAMES + 10; // room for this package's own frames
  const site = new Error();
  Error.stackTraceLimit = limit;
  return site;
}

/** The stack of a site, starting at the caller: this package's own frames are left out. */
export function formatSite(site: Site | undefined): string | undefined {
  if (site === undefined) return undefined;
  return (site.stack ?? '')
    .split('\n')
    .slice(1)
    .filter((line) => !line.includes(__dirname))
    .slice(0, STACK_FRAMES)
    .join('\n');
}

/** Decides, per the leak level, which allocations keep their call sites. */
export class SiteSampler {
  private count_ = 0;

  constructor(private readonly level: LeakLevel) {}

  /** The call site of this allocation when the level keeps it, else undefined. */
  take(): Site | undefined {
    if (this.level === 'off') return undefined;
    if (this.level === 'sample' && this.count_++ % LEAK_SAMPLE_EVERY !== 0) return undefined;
    return captureSite();
  }
}

/** Adds "freed at" (where kept) to an error; the one wording for every allocator. */
export function addFreeSite(err: Error, site: Site | undefined): void {
  const stack = formatSite(site);
  if (stack === undefined) return;
  (err as Error & { freeStack?: string }).freeStack = stack;
  err.message += `\n  freed at:\n${stack}`;
}

interface Live {
  readonly size: number;
  readonly site: Site | undefined;
}

export class DebugLedger {
  private readonly live_ = new Map<number, Live>();
  private readonly freedAt_ = new Map<number, Site>();
  /** Offset -> the ArrayBuffers views of it stand on (one per size asked), detached on free. */
  private readonly views_ = new Map<number, ArrayBuffer[]>();
  /** A view's own ArrayBuffer -> the offset it views. */
  private readonly slices_ = new WeakMap<ArrayBuffer, number>();
  private readonly stale_ = new WeakSet<ArrayBuffer>();
  private readonly leakWatch_ = new FinalizationRegistry<{ offset: number; record: Live }>((held) => this.collected_(held));
  private readonly sampler_: SiteSampler;

  constructor(
    private readonly name: string,
    config: DebugConfig,
    private readonly regionViews_: RegionViews,
  ) {
    this.sampler_ = new SiteSampler(config.leaks);
  }

  /** A new allocation of `size` bytes at `offset` (by this thread). */
  allocated(offset: number, size: number): void {
    this.live_.set(offset, { size, site: this.sampler_.take() });
    this.freedAt_.delete(offset);
  }

  /** `offset` was freed: its views die; its free site is kept where its allocation site was. */
  freed(offset: number): void {
    const abs = this.views_.get(offset);
    if (abs !== undefined) {
      this.views_.delete(offset);
      for (const ab of abs) {
        this.stale_.add(ab);
        this.regionViews_.detach(ab);
      }
    }
    const record = this.live_.get(offset);
    if (record === undefined) return;
    this.live_.delete(offset);
    if (record.site === undefined) return;
    if (this.freedAt_.size >= MAX_FREE_SITES) this.freedAt_.delete(this.freedAt_.keys().next().value as number);
    this.freedAt_.set(offset, captureSite());
  }

  /**
   * A Buffer over [offset, offset+size) with an ArrayBuffer of its own
   * (RegionViews.ownView), so freed() can detach it. `owner`: the Buffer
   * alloc() returns, watched for being collected while the allocation lives.
   */
  view(offset: number, size: number, owner: boolean): Buffer {
    let abs = this.views_.get(offset);
    let ab = abs?.find((b) => b.byteLength === size);
    let view: Buffer;
    if (ab !== undefined) {
      view = makeView(ab, 0, size);
    } else {
      const own = this.regionViews_.ownView(offset, size);
      view = own.view;
      ab = own.slice; // undefined under the v8 backing: a plain view, never detached
      if (ab !== undefined) {
        if (abs === undefined) this.views_.set(offset, (abs = []));
        this.slices_.set(ab, offset);
        abs.push(ab);
      }
    }
    const record = this.live_.get(offset);
    if (record !== undefined && owner) this.leakWatch_.register(view, { offset, record });
    return view;
  }

  /** The offset a debug view's ArrayBuffer was made for, or undefined for any other buffer. */
  viewOffset(ab: ArrayBuffer): number | undefined {
    return this.slices_.get(ab);
  }

  /**
   * Throws ERR_OFFHEAP_USE_AFTER_FREE (with the free site, where kept) when
   * `ab` is the ArrayBuffer of a view whose allocation was freed: a stale
   * view passed back to the allocator.
   */
  assertNotStale(ab: ArrayBuffer): void {
    if (!this.stale_.has(ab)) return;
    const offset = this.slices_.get(ab) ?? -1;
    throw this.annotate(offheapErrorAt('ERR_OFFHEAP_USE_AFTER_FREE', this.name, offset,
      `a stale view of offset ${offset} (freed; the view was detached) was passed back`));
  }

  /** The allocation stack of a live offset, where kept. */
  stackOf(offset: number): string | undefined {
    return formatSite(this.live_.get(offset)?.site);
  }

  /** This thread's live allocations that `isLive` (the allocator's own table) still confirms. */
  leaks(isLive: (offset: number) => boolean): LeakRecord[] {
    const out: LeakRecord[] = [];
    for (const [offset, r] of this.live_) if (isLive(offset)) out.push({ offset, size: r.size, stack: formatSite(r.site) });
    return out;
  }

  /** Adds the free site (where kept) to a use-after-free or double-free error about an allocation's `offset`. */
  annotate(err: unknown): unknown {
    if (!(err instanceof OffheapError)) return err;
    if (err.code !== 'ERR_OFFHEAP_USE_AFTER_FREE' && err.code !== 'ERR_OFFHEAP_DOUBLE_FREE') return err;
    const offset = (err as { offset?: unknown }).offset;
    if (typeof offset === 'number') addFreeSite(err, this.freedAt_.get(offset));
    return err;
  }

  /**
   * destroy(): nothing is reported any more. Views are not detached (Node's
   * I/O may hold one); the allocator's pages are gone, so they read zeros.
   */
  clear(): void {
    this.views_.clear();
    this.live_.clear();
    this.freedAt_.clear();
  }

  private collected_(held: { offset: number; record: Live }): void {
    if (this.live_.get(held.offset) !== held.record) return; // freed since: no leak
    const stack = formatSite(held.record.site);
    process.emitWarning(
      `${this.name}: the Buffer from alloc() of ${held.record.size} bytes at offset ${held.offset} was garbage-collected ` +
        `while still allocated (a leak: free() was never called)${stack === undefined ? '' : `\n  allocated at:\n${stack}`}`,
      { code: 'OFFHEAP_LEAK', type: 'OffheapLeakWarning' },
    );
  }
}
