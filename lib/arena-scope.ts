/**
 * ArenaScope: per-request arenas for servers. Each run(fn) lends fn an arena
 * from a small recycled set, binds it to AsyncLocalStorage so currentArena()
 * finds it anywhere below (callbacks and awaits included), and resets it in a
 * finally once fn, or the promise fn returns, is done. Arenas that grew past
 * maxRetainedBytes are destroyed instead of kept, so one large request does
 * not pin its memory for ever (protobuf's lesson about reused arenas).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Arena, isThenable, markNotShareable } from './arena';
import { OffheapError, offheapError } from './errors';
import { resolveDebug, type DebugOptions } from './guards';
import { validateFunction, validateInteger, validateKnownKeys, validateOptions, validatePowerOfTwo, validateString } from './validate';

/** Options of `new ArenaScope()`. */
export interface ArenaScopeOptions {
  /** maxBytes of each arena (1 .. 2 GiB of address space; reserving is free). */
  maxBytes: number;
  /** Idle arenas kept for reuse, 0 .. 65536 (default 16); more are destroyed when returned. */
  keep?: number;
  /** An arena whose committed bytes exceed this when returned is destroyed, not kept (default min(maxBytes, 1 MiB)). */
  maxRetainedBytes?: number;
  /** Default alignment of the arenas' allocations (default 16). */
  align?: number;
  /** Debug mode for every arena of the scope. */
  debug?: boolean | DebugOptions;
  /** Prefix of the arenas' names (default `ArenaScope#<n>`); arena k is `<name>/<k>`. */
  name?: string;
}

const OPTION_KEYS = ['maxBytes', 'keep', 'maxRetainedBytes', 'align', 'debug', 'name'] as const;
const DEFAULT_MAX_RETAINED = 1024 * 1024;
const storage = new AsyncLocalStorage<Arena>();
let nextId = 1;

/**
 * The arena of the ArenaScope.run() this code runs under (synchronously or
 * after any number of awaits). Throws ERR_OFFHEAP_NO_SCOPE outside one.
 */
export function currentArena(): Arena {
  const arena = storage.getStore();
  if (arena === undefined) {
    throw new OffheapError('ERR_OFFHEAP_NO_SCOPE', 'currentArena() was called outside ArenaScope.run()');
  }
  return arena;
}

/** Lends arenas to requests, one per run(), and recycles them. */
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
  private lent_ = 0;
  private created_ = 0;
  private dropped_ = 0;
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
   * Runs `fn(arena)` with an arena of its own, which currentArena() returns
   * anywhere below, and returns what fn returns. When fn is done (it
   * returned, threw, or its promise settled) the arena is reset (its
   * deferred cleanups run) and kept for the next run, or destroyed when the
   * scope already keeps `keep` idle arenas or it grew past maxRetainedBytes.
   * Do not keep the arena or its views past fn: the next request reuses it.
   * fn's error wins over a failing reset; a reset's error (e.g. a cleanup's)
   * is thrown when fn succeeded. Throws TypeError for a non-function,
   * ERR_OFFHEAP_DESTROYED after destroy().
   */
  run<T>(fn: (arena: Arena) => T): T {
    validateFunction(fn, 'fn');
    if (this.closed_) throw offheapError('ERR_OFFHEAP_DESTROYED', this.name, 'the scope was destroyed');
    const arena = this.idle_.pop() ?? this.makeArena_();
    this.lent_++;
    let result: T;
    try {
      result = storage.run(arena, fn, arena);
    } catch (err) {
      this.giveBack_(arena, true);
      throw err;
    }
    if (!isThenable(result)) {
      this.giveBack_(arena, false);
      return result;
    }
    return result.then(
      (value) => {
        this.giveBack_(arena, false);
        return value;
      },
      (err: unknown) => {
        this.giveBack_(arena, true);
        throw err;
      },
    ) as T;
  }

  private makeArena_(): Arena {
    this.created_++;
    return new Arena({ maxBytes: this.maxBytes, align: this.align_, debug: this.debug_, name: `${this.name}/${this.created_}` });
  }

  /** Resets the arena and keeps it, or destroys it; throws the reset's error unless `quiet`. */
  private giveBack_(arena: Arena, quiet: boolean): void {
    this.lent_--;
    let failed = false;
    let error: unknown;
    const fail = (err: unknown) => {
      if (!failed) error = err;
      failed = true;
    };
    if (!arena.destroyed) {
      try {
        arena.reset();
      } catch (err) {
        fail(err);
      }
    }
    if (!arena.destroyed) {
      if (this.closed_ || this.idle_.length >= this.keep || arena.committed > this.maxRetainedBytes) {
        this.dropped_++;
        try {
          arena.destroy();
        } catch (err) {
          fail(err);
        }
      } else {
        this.idle_.push(arena);
      }
    }
    if (failed && !quiet) throw error;
  }

  /** Arenas waiting for the next run(). */
  get idle(): number {
    return this.idle_.length;
  }

  /** Arenas lent to runs that have not finished. */
  get lent(): number {
    return this.lent_;
  }

  /** Counters: arenas created, destroyed on return (too big or too many), idle, lent. */
  stats(): {
    /** Arenas made since the scope was. */
    created: number;
    /** Arenas destroyed when they came back (too many idle, or too much committed). */
    dropped: number;
    /** Arenas waiting for the next run(). */
    idle: number;
    /** Arenas lent to runs that have not finished. */
    lent: number;
  } {
    return { created: this.created_, dropped: this.dropped_, idle: this.idle_.length, lent: this.lent_ };
  }

  /**
   * Destroys the idle arenas now and every lent one when its run ends;
   * later run() calls throw ERR_OFFHEAP_DESTROYED. Idempotent.
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
