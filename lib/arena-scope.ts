/**
 * ArenaScope: per-request arenas for servers. A request borrows an arena
 * through a lease; AsyncLocalStorage holds the lease (never the arena), so
 * currentArena() finds the arena anywhere below the request while the lease
 * lasts and throws ERR_OFFHEAP_NO_SCOPE once it has ended, instead of
 * returning an arena that now serves another request.
 *
 * A lease ends exactly once, when every hold on it is dropped: run(fn)
 * holds it until fn (or what fn returns, adopted as a native promise would
 * adopt it) has settled, `until: res` also until the response has finished,
 * closed or failed, acquire() until release(). The arena then goes back to a
 * small recycled set: reset, and decommitted down to maxRetainedBytes when
 * it grew past it, never destroyed for being big (a reservation per request
 * costs an mmap, a munmap and an external backing store that V8 counts in
 * full and schedules GCs by). Only arenas beyond `keep` idle ones are
 * destroyed, so the arenas reserved are at most `keep` plus the leases in
 * flight.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ServerResponse } from 'node:http';
import { finished } from 'node:stream';
import { Arena, markNotShareable, settle } from './arena';
import { OffheapError, invalidArgType, offheapError } from './errors';
import { resolveDebug, type DebugOptions } from './guards';
import { validateFunction, validateInteger, validateKnownKeys, validateOptions, validatePowerOfTwo, validateString } from './validate';

/** Options of `new ArenaScope()`. */
export interface ArenaScopeOptions {
  /** maxBytes of each arena (1 .. 2 GiB of address space; reserving is free). */
  maxBytes: number;
  /** Idle arenas kept for reuse, 0 .. 65536 (default 16); more are destroyed when returned. */
  keep?: number;
  /** Committed bytes an idle arena keeps: a returned arena is decommitted down to this (default min(maxBytes, 1 MiB)). */
  maxRetainedBytes?: number;
  /** Default alignment of the arenas' allocations (default 16). */
  align?: number;
  /** Debug mode for every arena of the scope. */
  debug?: boolean | DebugOptions;
  /** Prefix of the arenas' names (default `ArenaScope#<n>`); arena k is `<name>/<k>`. */
  name?: string;
}

/** Options of `scope.run()`. */
export interface ArenaRunOptions {
  /**
   * A response or any stream: the lease also lasts until it has finished,
   * closed or failed (an http.ServerResponse's 'close', `stream.finished`
   * for other streams), so views passed to `res.end()` are not reused
   * before the socket has flushed them.
   */
  until?: NodeJS.ReadableStream | NodeJS.WritableStream | {
    /** An event emitter's on(): what stream.finished() listens with. */
    on(...args: never[]): unknown;
  };
}

/** A lease from `scope.acquire()`. */
export interface ArenaLease {
  /** The lent arena; throws ERR_OFFHEAP_NO_SCOPE once the lease has ended. */
  readonly arena: Arena;
  /** True once the lease has ended. */
  readonly released: boolean;
  /**
   * Gives the arena back (reset, kept or destroyed); later calls do nothing.
   * A bound function: `const { release } = scope.acquire()` works. Throws a
   * deferred cleanup's error (the arena is back all the same).
   */
  release(): void;
  /** Runs fn(arena) with currentArena() returning this lease's arena below it; does not end the lease. */
  run<T>(fn: (arena: Arena) => T): T;
}

/** What `scope.stats()` returns. */
export interface ArenaScopeStats {
  /** Arenas lent to leases that have not ended. */
  lent: number;
  /** Idle arenas kept for the next lease. */
  kept: number;
  /** Arenas whose address space is reserved: lent + kept (at most keep + lent). */
  reserved: number;
  /** Committed bytes of the lent arenas. */
  lentBytes: number;
  /** Committed bytes of the kept arenas (at most kept * maxRetainedBytes). */
  keptBytes: number;
  /** Address space reserved: reserved * maxBytes. */
  reservedBytes: number;
  /** Arenas created (reservations made) since the scope was made. */
  created: number;
  /** Arenas destroyed on return because `keep` idle ones were already kept. */
  dropped: number;
  /** Returns that decommitted an arena down to maxRetainedBytes. */
  decommitted: number;
}

const OPTION_KEYS = ['maxBytes', 'keep', 'maxRetainedBytes', 'align', 'debug', 'name'] as const;
const RUN_KEYS = ['until'] as const;
const DEFAULT_MAX_RETAINED = 1024 * 1024;
const storage = new AsyncLocalStorage<Lease>();
let nextId = 1;

/**
 * The arena lent to the request this code runs under (synchronously or after
 * any number of awaits, timers and callbacks). Throws ERR_OFFHEAP_NO_SCOPE
 * outside ArenaScope.run() and after the lease ended (a timer that outlived
 * its request).
 */
export function currentArena(): Arena {
  const lease = storage.getStore();
  if (lease === undefined) {
    throw new OffheapError('ERR_OFFHEAP_NO_SCOPE', 'currentArena() was called outside ArenaScope.run()');
  }
  return lease.arena;
}

/**
 * @internal One loan of one arena. Ends once, when its last hold is
 * dropped; each hold is a function that drops it at most once.
 */
export class Lease implements ArenaLease {
  private arena_: Arena | null;
  private holds_ = 0;
  /** Reset errors of a lease ended by a hold nobody can report to go to process.emitWarning. */
  warn_ = false;
  readonly release: () => void;

  constructor(private readonly scope_: ArenaScope, arena: Arena) {
    this.arena_ = arena;
    this.release = this.hold_();
  }

  get arena(): Arena {
    if (this.arena_ === null) {
      throw new OffheapError('ERR_OFFHEAP_NO_SCOPE', `the lease of this request's arena (${this.scope_.name}) has ended: ` +
        'its arena may now serve another request (a timer or callback outlived the request)');
    }
    return this.arena_;
  }

  get released(): boolean {
    return this.arena_ === null;
  }

  run<T>(fn: (arena: Arena) => T): T {
    validateFunction(fn, 'fn');
    return storage.run(this, fn, this.arena);
  }

  /** Adds a hold; the returned function drops it (once). A hold on an ended lease is a no-op. */
  hold_(): () => void {
    if (this.arena_ === null) return noop;
    this.holds_++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      if (--this.holds_ === 0) this.end_();
    };
  }

  private end_(): void {
    const arena = this.arena_;
    if (arena === null) return;
    this.arena_ = null;
    this.scope_.giveBack_(arena, this.warn_);
  }
}

function noop(): void {}

/** Lends arenas to requests, one lease each, and recycles them. */
export class ArenaScope implements Disposable {
  /** The scope's name; its arenas are named `<name>/<k>`. */
  readonly name: string;
  /** maxBytes of each arena. */
  readonly maxBytes: number;
  /** Most idle arenas kept for reuse. */
  readonly keep: number;
  /** An arena with more committed bytes than this when its run ends is destroyed, not kept. */
  readonly maxRetainedBytes: number;
  private readonly align_: number | undefined;
  private readonly debug_: boolean | DebugOptions | undefined;
  private readonly idle_: Arena[] = [];
  private readonly lent_ = new Set<Arena>();
  private created_ = 0;
  private dropped_ = 0;
  private decommitted_ = 0;
  private closed_ = false;

  /** Validates the options (TypeError / RangeError, unknown names rejected); reserves nothing yet. */
  constructor(options: ArenaScopeOptions) {
    const o = validateOptions<ArenaScopeOptions>(options);
    validateKnownKeys(o, OPTION_KEYS);
    this.maxBytes = validateInteger(o.maxBytes, 'options.maxBytes', 1, 2 ** 31);
    this.keep = o.keep === undefined ? 16 : validateInteger(o.keep, 'options.keep', 0, 65536);
    this.maxRetainedBytes = o.maxRetainedBytes === undefined
      ? Math.min(this.maxBytes, DEFAULT_MAX_RETAINED)
      : validateInteger(o.maxRetainedBytes, 'options.maxRetainedBytes', 0, 2 ** 31);
    this.align_ = o.align === undefined ? undefined : validatePowerOfTwo(o.align, 'options.align', 1, 4096);
    this.debug_ = o.debug;
    this.name = o.name === undefined ? `ArenaScope#${nextId++}` : validateString(o.name, 'options.name');
    resolveDebug(o.debug); // a bad debug option throws now, not at the first run
    markNotShareable(this, this.name, 'an ArenaScope and its arenas belong to one thread; make one per worker');
  }

  /**
   * Runs `fn(arena)` under a lease of its own (currentArena() returns the
   * arena anywhere below it) and returns what fn returns; a thenable is
   * adopted and returned as a native promise of the same outcome. The lease
   * ends, exactly once, when fn has returned or thrown, or what it returned
   * has settled (however often a thenable calls back, or when its `then`
   * throws), and, with `{ until: res }`, when `res` has also finished, closed
   * or failed. Do not keep the arena or its views past the lease: the next
   * request reuses the memory. Without `until`, fn's error wins over a
   * failing reset and a reset's error (a deferred cleanup's) is thrown when
   * fn succeeded; with `until` the lease usually ends after fn's outcome was
   * delivered, so a reset's error is reported with process.emitWarning.
   * Throws TypeError for a non-function or a non-stream `until`,
   * ERR_OFFHEAP_DESTROYED after destroy().
   */
  run<T>(fn: (arena: Arena) => T, options?: ArenaRunOptions): T {
    validateFunction(fn, 'fn');
    const until = runUntil(options);
    const lease = this.lease_();
    const fnDone = lease.release; // the lease's own hold is fn's
    if (until !== undefined) {
      lease.warn_ = true;
      const untilDone = lease.hold_();
      try {
        afterStream(until, untilDone);
      } catch (err) {
        untilDone(); // not a stream finished() accepts: hold on fn alone
        fnDone();
        throw err;
      }
    }
    return settle(() => storage.run(lease, fn, lease.arena), fnDone);
  }

  /**
   * Lends an arena until `release()` is called, for frameworks that cannot
   * wrap the handler in run(). `lease.run(fn)` makes currentArena() return it
   * below fn. Throws ERR_OFFHEAP_DESTROYED after destroy().
   */
  acquire(): ArenaLease {
    return this.lease_();
  }

  /** @internal A new lease with one hold (its `release`). */
  lease_(): Lease {
    if (this.closed_) throw offheapError('ERR_OFFHEAP_DESTROYED', this.name, 'the scope was destroyed');
    const arena = this.idle_.pop() ?? this.makeArena_();
    this.lent_.add(arena);
    return new Lease(this, arena);
  }

  private makeArena_(): Arena {
    this.created_++;
    return new Arena({ maxBytes: this.maxBytes, align: this.align_, debug: this.debug_, name: `${this.name}/${this.created_}` });
  }

  /**
   * @internal Takes an arena back from an ended lease: destroyed when the
   * scope is closed or already keeps `keep` idle arenas, else reset (its
   * cleanups run) and kept, decommitted down to maxRetainedBytes when it grew
   * past it. A reset's or destroy's error is thrown, or emitted as a warning
   * when `warn` (nobody is there to catch it); the arena is back all the same.
   */
  giveBack_(arena: Arena, warn: boolean): void {
    this.lent_.delete(arena);
    try {
      if (arena.destroyed) return;
      if (this.closed_ || this.idle_.length >= this.keep) {
        this.dropped_++;
        arena.destroy();
        return;
      }
      try {
        if (arena.committed > this.maxRetainedBytes) {
          this.decommitted_++;
          arena.reset({ retainBytes: this.maxRetainedBytes });
        } else {
          arena.reset();
        }
      } finally {
        if (!arena.destroyed) this.idle_.push(arena);
      }
    } catch (err) {
      if (!warn) throw err;
      process.emitWarning(err as Error);
    }
  }

  /** Idle arenas kept for the next lease. */
  get idle(): number {
    return this.idle_.length;
  }

  /** Arenas lent to leases that have not ended. */
  get lent(): number {
    return this.lent_.size;
  }

  /** Plain counters and byte totals (see ArenaScopeStats). */
  stats(): ArenaScopeStats {
    let lentBytes = 0;
    let keptBytes = 0;
    for (const a of this.lent_) lentBytes += a.committed;
    for (const a of this.idle_) keptBytes += a.committed;
    const reserved = this.lent_.size + this.idle_.length;
    return {
      lent: this.lent_.size, kept: this.idle_.length, reserved, lentBytes, keptBytes,
      reservedBytes: reserved * this.maxBytes, created: this.created_, dropped: this.dropped_, decommitted: this.decommitted_,
    };
  }

  /**
   * Destroys the idle arenas now and every lent one when its lease ends;
   * later run() and acquire() calls throw ERR_OFFHEAP_DESTROYED. Idempotent.
   */
  destroy(): void {
    this.closed_ = true;
    for (let a = this.idle_.pop(); a !== undefined; a = this.idle_.pop()) a.destroy();
  }

  /** Calls destroy(): `using` support (a syntax error on Node 20 and 22 without a flag; call it in a finally there). */
  [Symbol.dispose](): void {
    this.destroy();
  }

  /** A plain summary: an ArenaScope cannot be cloned or posted. */
  toJSON(): {
    /** The scope's name. */
    name: string;
    /** maxBytes of each arena. */
    maxBytes: number;
    /** Idle arenas. */
    idle: number;
    /** Lent arenas. */
    lent: number;
  } {
    return { name: this.name, maxBytes: this.maxBytes, idle: this.idle, lent: this.lent };
  }
}

/**
 * Calls done() once `stream` has finished, closed or failed, aborts
 * included (for a stream that already has, on the next tick). An
 * http.ServerResponse always emits 'close', after 'finish' or when its
 * connection goes first, and says `closed` afterwards, so it needs one
 * listener; stream.finished() gives the same answer for about 65,000 more
 * instructions per response (callgrind over a node:http server, Node 20:
 * 1.48 M against 1.41 M per request). Any other stream goes through
 * stream.finished(), which throws for what is no stream.
 */
export function afterStream(stream: unknown, done: () => void): void {
  if (stream instanceof ServerResponse) {
    if (stream.closed) process.nextTick(done);
    else stream.on('close', done);
    return;
  }
  finished(stream as NodeJS.ReadableStream, () => done());
}

/** Validates run()'s options; returns `until` or undefined. */
function runUntil(options: ArenaRunOptions | undefined): ArenaRunOptions['until'] {
  if (options === undefined) return undefined;
  const o = validateOptions<ArenaRunOptions>(options);
  validateKnownKeys(o, RUN_KEYS);
  const until = o.until;
  if (until !== undefined && (typeof until !== 'object' || until === null || typeof (until as { on?: unknown }).on !== 'function')) {
    throw invalidArgType('options.until', 'a stream (http.ServerResponse, stream.Writable, ...)', until);
  }
  return until;
}
