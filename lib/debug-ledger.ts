/**
 * Debug-mode bookkeeping of one allocator in one thread (DESIGN.md section 5):
 * allocation and free stacks (sampled or all), the views handed out for each
 * allocation (detached when it is freed, so stale views die), and a leak
 * warning when a view from alloc() is collected while its allocation is still
 * live. Only debug-mode allocators have a ledger; release mode pays nothing.
 */
import type { DebugConfig } from './guards';
import { native } from './native';

/** In 'sample' mode, one allocation in this many keeps its stacks. */
export const SAMPLE_EVERY = 64;

interface LiveEntry {
  /** Which allocation of this offset it is: a leak report must not outlive a free. */
  readonly gen: number;
  readonly stack: string | undefined;
}

interface LeakToken {
  readonly offset: number;
  readonly gen: number;
}

/** The stack of the caller, without this package's own frames. */
export function stackHere(): string {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 30;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  return stack
    .split('\n')
    .slice(1)
    .filter((line) => !line.includes(__dirname))
    .slice(0, 10)
    .join('\n');
}

export class DebugLedger {
  private readonly live_ = new Map<number, LiveEntry>();
  private readonly freeStacks_ = new Map<number, string>();
  private readonly views_ = new Map<number, ArrayBuffer[]>();
  private readonly viewOffsets_ = new WeakMap<ArrayBuffer, number>();
  private readonly leakWatch_ = new FinalizationRegistry<LeakToken>((t) => this.collected(t));
  private gen_ = 0;
  private allocs_ = 0;

  constructor(
    private readonly name: string,
    private readonly config: DebugConfig,
  ) {}

  /** A new allocation at `offset` (by this thread). */
  onAlloc(offset: number): void {
    const l = this.config.leaks;
    const keep = l === 'paranoid' || (l === 'sample' && this.allocs_++ % SAMPLE_EVERY === 0);
    this.live_.set(offset, { gen: ++this.gen_, stack: keep ? stackHere() : undefined });
    this.freeStacks_.delete(offset);
  }

  /** `offset` was freed: its views die; its free site is kept where its allocation site was. */
  onFree(offset: number): void {
    const entry = this.live_.get(offset);
    this.live_.delete(offset);
    this.detachViews(offset);
    if (this.config.leaks === 'paranoid' || entry?.stack !== undefined) this.freeStacks_.set(offset, stackHere());
  }

  /**
   * Records a view over its own ArrayBuffer (native.sliceBuffer), so it can
   * be detached on free and recognised when passed back. An `owner` view (from
   * alloc()) collected while its allocation lives is reported as a leak.
   */
  addView(offset: number, ab: ArrayBuffer, view: object, owner: boolean): void {
    let list = this.views_.get(offset);
    if (list === undefined) this.views_.set(offset, (list = []));
    list.push(ab);
    this.viewOffsets_.set(ab, offset);
    const entry = this.live_.get(offset);
    if (owner && entry !== undefined) this.leakWatch_.register(view, { offset, gen: entry.gen });
  }

  /** The offset a debug view's ArrayBuffer was made for, or undefined for any other buffer. */
  viewOffset(ab: ArrayBuffer): number | undefined {
    return this.viewOffsets_.get(ab);
  }

  /** The allocation stack of a live offset, where kept. */
  stackOf(offset: number): string | undefined {
    return this.live_.get(offset)?.stack;
  }

  /** Adds the free site (where kept) to a use-after-free or double-free error naming an offset. */
  explain(err: unknown): unknown {
    const e = err as { code?: string; offset?: unknown; message: string; freeStack?: string };
    if (e === null || typeof e !== 'object' || typeof e.offset !== 'number') return err;
    if (e.code !== 'ERR_OFFHEAP_USE_AFTER_FREE' && e.code !== 'ERR_OFFHEAP_DOUBLE_FREE') return err;
    const stack = this.freeStacks_.get(e.offset);
    if (stack !== undefined) {
      e.freeStack = stack;
      e.message += `\n  freed at:\n${stack}`;
    }
    return err;
  }

  /** destroy(): every view dies, nothing is reported any more. */
  clear(): void {
    for (const offset of [...this.views_.keys()]) this.detachViews(offset);
    this.live_.clear();
    this.freeStacks_.clear();
  }

  private detachViews(offset: number): void {
    const list = this.views_.get(offset);
    if (list === undefined) return;
    this.views_.delete(offset);
    for (const ab of list) native.detachBuffer(ab);
  }

  private collected(t: LeakToken): void {
    const entry = this.live_.get(t.offset);
    if (entry === undefined || entry.gen !== t.gen) return; // freed since: no leak
    const where = entry.stack === undefined ? '' : `; allocated at:\n${entry.stack}`;
    process.emitWarning(
      `${this.name}: a Buffer from alloc() at offset ${t.offset} was garbage-collected while its slot is still live (leak)${where}`,
      { code: 'OFFHEAP_LEAK', type: 'OffheapLeakWarning' },
    );
  }
}
