// Model-based property tests (fast-check) for Arena, ObjectPool and
// SlabAllocator: random command sequences, wrong calls included (double
// free, foreign and stale handles, stale and foreign marks, out-of-range
// sizes), run against a shadow model. After every command: the exact typed
// error of each misuse, no two live allocations overlap, every live
// allocation still holds the pattern written into it, and the counts
// (live, stats().liveCount, used) match the model. Release and debug mode.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Arena } from '../lib/arena';
import { ObjectPool } from '../lib/object-pool';
import { SlabAllocator } from '../lib/slab';

/** Runs per property; each run is up to MAX_COMMANDS commands. */
const RUNS = Number(process.env.OFFHEAP_MODEL_RUNS ?? 120);
const COMMANDS = { minLength: 30, maxLength: 120, size: 'max' } as const;
const SEED = process.env.OFFHEAP_MODEL_SEED === undefined ? undefined : Number(process.env.OFFHEAP_MODEL_SEED);
/** Commands executed over all properties (reported at the end of the file). */
let executed = 0;

interface Live {
  off: number;
  size: number;
  id: number;
}

/** The byte a live allocation with this id holds at position j. */
const pattern = (id: number, j: number): number => (id * 31 + j * 7 + 1) & 255;

function writePattern(buffer: ArrayBuffer, a: Live): void {
  const bytes = new Uint8Array(buffer, a.off, a.size);
  for (let j = 0; j < a.size; j++) bytes[j] = pattern(a.id, j);
}

/** Every live allocation holds its pattern, and no two overlap. */
function checkLive(buffer: ArrayBuffer, live: Iterable<Live>, what: string, full = false): void {
  const sorted = [...live].sort((x, y) => x.off - y.off);
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i];
    if (i > 0) {
      const p = sorted[i - 1];
      if (p.off + p.size > a.off && a.size > 0) throw new Error(`${what}: [${p.off}, +${p.size}) overlaps [${a.off}, +${a.size})`);
    }
    const bytes = new Uint8Array(buffer, a.off, a.size);
    const step = a.size <= 1024 || full ? 1 : 61; // large runs: a sample each step, every byte at the end
    for (let j = 0; j < a.size; j += step) {
      if (bytes[j] !== pattern(a.id, j) || bytes[a.size - 1] !== pattern(a.id, a.size - 1)) throw new Error(`${what}: byte ${j} of allocation #${a.id} at ${a.off} was overwritten`);
    }
  }
}

/** Runs fn and returns the code of what it threw ('ok' when nothing). */
function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string') throw e; // an untyped error fails the property as is
    return code;
  }
}

function expectCode(fn: () => unknown, code: string, what: string): void {
  const got = outcome(fn);
  if (got !== code) throw new Error(`${what}: expected ${code}, got ${got}`);
}

const runOptions = (): fc.Parameters<unknown> => ({ numRuns: RUNS, seed: SEED });

/** The region offset of a view: handleOf() (the model checks it against its own bookkeeping). */
function offsetOf(allocator: { handleOf(v: Uint8Array): number }, v: Uint8Array, _known: (off: number) => boolean): number {
  return allocator.handleOf(v);
}

// ---------------------------------------------------------------- Arena

type ArenaCmd =
  | { t: 'alloc'; size: number; alignLog: number; zeroed: boolean }
  | { t: 'allocBad'; size: number }
  | { t: 'mark' }
  | { t: 'rollback'; pick: number }
  | { t: 'rollbackDead'; pick: number }
  | { t: 'rollbackForeign' }
  | { t: 'reset'; retain: number | undefined }
  | { t: 'verify' };

const arenaCmd: fc.Arbitrary<ArenaCmd> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ t: fc.constant('alloc' as const), size: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 20_000 })), alignLog: fc.integer({ min: 0, max: 7 }), zeroed: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('allocBad' as const), size: fc.constantFrom(-1, 0.5, NaN, Infinity, 2 ** 31, 64 * 1024 + 1) }) },
  { weight: 2, arbitrary: fc.constant({ t: 'mark' as const }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('rollback' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('rollbackDead' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ t: 'rollbackForeign' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('reset' as const), retain: fc.option(fc.integer({ min: 0, max: 70_000 }), { nil: undefined }) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'verify' as const }) },
);

const ARENA_BYTES = 64 * 1024;

function runArena(cmds: ArenaCmd[], debug: boolean): void {
  const arena = new Arena({ maxBytes: ARENA_BYTES, debug });
  const other = new Arena({ maxBytes: 4096 });
  let live: Live[] = []; // in allocation order
  let marks: { id: number; count: number; cursor: number }[] = [];
  const dead: number[] = [];
  let cursor = 0; // the model's cursor (release mode: exact)
  let ids = 0;
  let allocs = 0;
  let frees = 0;
  try {
    for (const c of cmds) {
      executed++;
      switch (c.t) {
        case 'alloc': {
          const a = 1 << c.alignLog;
          const start = Math.ceil(cursor / a) * a;
          const fits = start + c.size <= ARENA_BYTES;
          let off = -1;
          const got = outcome(() => (off = c.zeroed ? offsetOf(arena, arena.allocZeroed(c.size, a), (o) => live.some((l) => l.off === o)) : arena.allocHandle(c.size, a)));
          if (!debug) {
            if (got !== (fits ? 'ok' : 'ERR_OFFHEAP_EXHAUSTED')) throw new Error(`alloc(${c.size}, ${a}) at ${cursor}: ${got}`);
            if (fits && off !== start) throw new Error(`alloc(${c.size}, ${a}) at ${cursor}: offset ${off}, expected ${start}`);
          } else if (got !== 'ok' && got !== 'ERR_OFFHEAP_EXHAUSTED') throw new Error(`alloc: ${got}`);
          if (got !== 'ok') break;
          if (off % a !== 0) throw new Error(`offset ${off} is not aligned to ${a}`);
          if (c.zeroed && new Uint8Array(arena.buffer, off, c.size).some((b) => b !== 0)) throw new Error('allocZeroed gave non-zero bytes');
          const entry = { off, size: c.size, id: ids++ };
          writePattern(arena.buffer, entry);
          live.push(entry);
          allocs++;
          cursor = debug ? arena.used : off + c.size;
          break;
        }
        case 'allocBad':
          expectCode(() => arena.allocHandle(c.size), c.size === ARENA_BYTES + 1 || c.size === 2 ** 31 || c.size < 0 || !Number.isFinite(c.size) || !Number.isInteger(c.size) ? 'ERR_OUT_OF_RANGE' : 'ok', `allocHandle(${c.size})`);
          break;
        case 'mark':
          marks.push({ id: arena.mark(), count: live.length, cursor });
          break;
        case 'rollback': {
          if (marks.length === 0) break;
          const i = c.pick % marks.length;
          arena.rollback(marks[i].id);
          for (const m of marks.splice(i + 1)) dead.push(m.id);
          frees += live.length - marks[i].count;
          live = live.slice(0, marks[i].count);
          cursor = debug ? arena.used : marks[i].cursor;
          if (arena.used !== marks[i].cursor) throw new Error(`used ${arena.used} after rollback, mark was at ${marks[i].cursor}`);
          break;
        }
        case 'rollbackDead':
          if (dead.length) expectCode(() => arena.rollback(dead[c.pick % dead.length]), 'ERR_OFFHEAP_INVALID_HANDLE', 'rollback(dead mark)');
          break;
        case 'rollbackForeign':
          expectCode(() => arena.rollback(other.mark()), 'ERR_OFFHEAP_INVALID_HANDLE', 'rollback(foreign mark)');
          break;
        case 'reset':
          arena.reset(c.retain === undefined ? undefined : { retainBytes: c.retain });
          for (const m of marks) dead.push(m.id);
          marks = [];
          frees += live.length;
          live = [];
          cursor = 0;
          if (c.retain !== undefined && arena.committed > Math.max(c.retain, 4096) + 4095) throw new Error(`committed ${arena.committed} after reset({ retainBytes: ${c.retain} })`);
          break;
        case 'verify':
          arena.verify();
          break;
      }
      if (!debug && arena.used !== cursor) throw new Error(`used ${arena.used}, model ${cursor}`);
      const s = arena.stats();
      if (s.liveCount !== live.length || s.allocCount !== allocs || s.freeCount !== frees || s.marks !== marks.length) {
        throw new Error(`stats ${JSON.stringify(s)}: model live ${live.length}, allocs ${allocs}, frees ${frees}, marks ${marks.length}`);
      }
      checkLive(arena.buffer, live, `after ${c.t}`);
    }
    checkLive(arena.buffer, live, 'at the end', true);
    arena.verify();
  } finally {
    arena.destroy();
    other.destroy();
  }
}

// ---------------------------------------------------------------- ObjectPool

type PoolCmd =
  | { t: 'alloc'; view: boolean }
  | { t: 'free'; pick: number; view: boolean }
  | { t: 'doubleFree'; pick: number }
  | { t: 'foreign'; pick: number; delta: number }
  | { t: 'view'; pick: number }
  | { t: 'verify' };

const poolCmd: fc.Arbitrary<PoolCmd> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('alloc' as const), view: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('free' as const), pick: fc.nat(), view: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('doubleFree' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('foreign' as const), pick: fc.nat(), delta: fc.constantFrom(1, -1, 4, 1e6, -1e6, 0.5, NaN) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('view' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ t: 'verify' as const }) },
);

function runPool(cmds: PoolCmd[], debug: boolean, growable: boolean): void {
  const CAP = 40;
  const pool = new ObjectPool({ slotSize: 20, capacity: CAP, growable, debug });
  const size = pool.slotSize;
  const live = new Map<number, Live>();
  const views = new Map<number, Buffer>();
  const freed = new Set<number>(); // handed out once, free now
  let ids = 0;
  try {
    for (const c of cmds) {
      executed++;
      switch (c.t) {
        case 'alloc': {
          let h = -1;
          const got = outcome(() => (h = c.view ? offsetOf(pool, pool.alloc(), (o) => live.has(o)) : pool.allocHandle()));
          if (got !== (live.size === CAP ? 'ERR_OFFHEAP_EXHAUSTED' : 'ok')) throw new Error(`alloc with ${live.size} live: ${got}`);
          if (got !== 'ok') {
            if (pool.tryAllocHandle() !== -1) throw new Error('tryAllocHandle() on a full pool did not return -1');
            break;
          }
          if (live.has(h) || h % size !== 0 || h < 0 || h >= CAP * size) throw new Error(`alloc handed out ${h}`);
          const entry = { off: h, size, id: ids++ };
          writePattern(pool.buffer, entry);
          live.set(h, entry);
          freed.delete(h);
          break;
        }
        case 'free': {
          if (live.size === 0) break;
          const h = [...live.keys()][c.pick % live.size];
          if (c.view) pool.free(views.get(h) ?? pool.view(h));
          else pool.freeHandle(h);
          live.delete(h);
          views.delete(h);
          freed.add(h);
          break;
        }
        case 'doubleFree':
          if (freed.size) {
            const h = [...freed][c.pick % freed.size];
            expectCode(() => pool.freeHandle(h), 'ERR_OFFHEAP_DOUBLE_FREE', `freeHandle(freed ${h})`);
          }
          break;
        case 'foreign': {
          const base = live.size ? [...live.keys()][c.pick % live.size] : 0;
          const h = base + c.delta;
          const expected = Number.isNaN(h) || !live.has(base) && h === base ? 'skip' : live.has(h) ? 'skip' : freed.has(h) ? 'ERR_OFFHEAP_DOUBLE_FREE' : 'ERR_OFFHEAP_INVALID_HANDLE';
          if (expected !== 'skip') expectCode(() => pool.freeHandle(h), expected, `freeHandle(${h})`);
          else if (Number.isNaN(h)) expectCode(() => pool.freeHandle(h), 'ERR_OFFHEAP_INVALID_HANDLE', 'freeHandle(NaN)');
          expectCode(() => pool.free(Buffer.alloc(size)), 'ERR_OFFHEAP_INVALID_HANDLE', 'free(foreign Buffer)');
          break;
        }
        case 'view': {
          if (live.size === 0) break;
          const h = [...live.keys()][c.pick % live.size];
          const v = pool.view(h);
          if (v.length !== size || pool.handleOf(v) !== h) throw new Error(`view(${h}) is over the wrong bytes`);
          views.set(h, v);
          if (freed.size) expectCode(() => pool.view([...freed][0]), 'ERR_OFFHEAP_INVALID_HANDLE', 'view(freed)');
          break;
        }
        case 'verify':
          pool.verify();
          break;
      }
      if (pool.live !== live.size || pool.stats().liveCount !== live.size) throw new Error(`live ${pool.live}, stats ${pool.stats().liveCount}, model ${live.size}`);
      checkLive(pool.buffer, live.values(), `after ${c.t}`);
    }
    checkLive(pool.buffer, live.values(), 'at the end', true);
    pool.verify();
  } finally {
    pool.destroy();
  }
}

// ---------------------------------------------------------------- SlabAllocator

type SlabCmd =
  | { t: 'alloc'; size: number; view: boolean }
  | { t: 'allocBad'; size: number }
  | { t: 'free'; pick: number; view: boolean }
  | { t: 'doubleFree'; pick: number }
  | { t: 'interior'; pick: number; delta: number }
  | { t: 'trim' }
  | { t: 'verify' };

const SLAB_BYTES = 2 * 1024 * 1024;

const slabCmd: fc.Arbitrary<SlabCmd> = fc.oneof(
  { weight: 7, arbitrary: fc.record({ t: fc.constant('alloc' as const), size: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 600 }) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 8192 }) }, { weight: 1, arbitrary: fc.integer({ min: 8193, max: 200_000 }) }), view: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('allocBad' as const), size: fc.constantFrom(-1, 0.5, NaN, -Infinity, 2 ** 31, SLAB_BYTES + 1) }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant('free' as const), pick: fc.nat(), view: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('doubleFree' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('interior' as const), pick: fc.nat(), delta: fc.constantFrom(1, 8, 16, -16) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'trim' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'verify' as const }) },
);

function runSlab(cmds: SlabCmd[], debug: boolean): void {
  const slab = new SlabAllocator({ maxBytes: SLAB_BYTES, slabBytes: 64 * 1024, debug });
  const live = new Map<number, Live & { usable: number }>();
  const views = new Map<number, Buffer>();
  // Freed handles whose bytes no later allocation has covered: a second free is a double free.
  const freed = new Map<number, number>(); // handle -> usable size at its free
  const trimmed = new Set<number>(); // freed handles a trim() may have released the slab of
  let ids = 0;
  let allocs = 0;
  let frees = 0;
  try {
    for (const c of cmds) {
      executed++;
      switch (c.t) {
        case 'alloc': {
          let h = -1;
          let v: Buffer | undefined;
          const got = outcome(() => {
            if (c.view) {
              v = slab.alloc(c.size);
              h = offsetOf(slab, v, (o) => live.has(o));
            } else h = slab.allocHandle(c.size);
          });
          if (got === 'ERR_OFFHEAP_EXHAUSTED') break; // a 2 MiB region does fill up; checked by the counts below
          if (got !== 'ok') throw new Error(`alloc(${c.size}): ${got}`);
          const usable = slab.usableSize(h);
          if (usable < c.size || live.has(h)) throw new Error(`alloc(${c.size}) gave ${h} with usable ${usable}`);
          if (v !== undefined && v.length !== c.size) throw new Error(`alloc(${c.size}) gave a Buffer of ${v.length}`);
          const entry = { off: h, size: c.size, usable, id: ids++ };
          for (const [f, u] of freed) if (f < h + Math.max(usable, 1) && h < f + u) freed.delete(f);
          trimmed.delete(h);
          writePattern(slab.buffer, entry);
          live.set(h, entry);
          if (v !== undefined) views.set(h, v);
          allocs++;
          break;
        }
        case 'allocBad':
          // Above the region but a valid size: exhausted; not an int32 size: a RangeError.
          expectCode(() => slab.allocHandle(c.size), c.size === SLAB_BYTES + 1 ? 'ERR_OFFHEAP_EXHAUSTED' : 'ERR_OUT_OF_RANGE', `allocHandle(${c.size})`);
          break;
        case 'free': {
          if (live.size === 0) break;
          const h = [...live.keys()][c.pick % live.size];
          const v = views.get(h);
          if (c.view && v !== undefined) slab.free(v);
          else slab.freeHandle(h);
          freed.set(h, Math.max(live.get(h)!.usable, 1));
          if (live.get(h)!.usable > slab.sizeClasses.at(-1)!) trimmed.add(h);
          live.delete(h);
          views.delete(h);
          frees++;
          break;
        }
        case 'doubleFree':
          if (freed.size) {
            const h = [...freed.keys()][c.pick % freed.size];
            // A slab trim() released holds no slots any more: its old handles are invalid.
            const df = outcome(() => slab.freeHandle(h));
            if (df !== 'ERR_OFFHEAP_DOUBLE_FREE' && !(df === 'ERR_OFFHEAP_INVALID_HANDLE' && trimmed.has(h))) throw new Error(`freeHandle(freed ${h}): ${df}`);
            // Once its pages went back (a freed large run, or a slab trim() released), a freed
            // handle's usableSize() says USE_AFTER_FREE, or INVALID_HANDLE once another class took the slab.
            const got = outcome(() => slab.usableSize(h));
            if (got !== 'ERR_OFFHEAP_USE_AFTER_FREE' && !(got === 'ERR_OFFHEAP_INVALID_HANDLE' && trimmed.has(h))) throw new Error(`usableSize(freed ${h}): ${got}`);
          }
          break;
        case 'interior': {
          const big = [...live.values()].filter((a) => a.usable > 16);
          if (big.length === 0) break;
          const a = big[c.pick % big.length];
          const h = c.delta > 0 ? a.off + c.delta : a.off + a.usable + c.delta; // inside the allocation
          expectCode(() => slab.freeHandle(h), 'ERR_OFFHEAP_INVALID_HANDLE', `freeHandle(${h} inside [${a.off}, +${a.usable}))`);
          break;
        }
        case 'trim':
          for (const h of freed.keys()) trimmed.add(h);
          slab.trim();
          break;
        case 'verify':
          slab.verify();
          break;
      }
      const s = slab.stats();
      if (s.liveCount !== live.size || s.allocCount !== allocs || s.freeCount !== frees) {
        throw new Error(`stats live ${s.liveCount} allocs ${s.allocCount} frees ${s.freeCount}: model ${live.size} ${allocs} ${frees}`);
      }
      checkLive(slab.buffer, live.values(), `after ${c.t}`);
    }
    checkLive(slab.buffer, live.values(), 'at the end', true);
    slab.verify();
  } finally {
    slab.destroy();
  }
}

// ---------------------------------------------------------------- properties

describe('model-based: Arena', () => {
  for (const debug of [false, true]) {
    // Pins: a wrong offset, a lost byte, a miscounted stat or an untyped error under random alloc/mark/rollback/reset.
    it(`${debug ? 'debug' : 'release'}: matches the shadow model`, () => {
      fc.assert(fc.property(fc.array(arenaCmd, COMMANDS), (cmds) => runArena(cmds, debug)), runOptions());
    });
  }
});

describe('model-based: ObjectPool', () => {
  for (const debug of [false, true]) {
    for (const growable of [true, false]) {
      // Pins: a slot handed out twice, a lost byte, a wrong live count, a double free not reported as such.
      it(`${debug ? 'debug' : 'release'}, growable ${growable}: matches the shadow model`, () => {
        fc.assert(fc.property(fc.array(poolCmd, COMMANDS), (cmds) => runPool(cmds, debug, growable)), runOptions());
      });
    }
  }
});

describe('model-based: SlabAllocator', () => {
  for (const debug of [false, true]) {
    // Pins: overlapping allocations across classes and large runs, lost bytes, wrong counts, wrong error codes.
    it(`${debug ? 'debug' : 'release'}: matches the shadow model`, () => {
      fc.assert(fc.property(fc.array(slabCmd, COMMANDS), (cmds) => runSlab(cmds, debug)), runOptions());
    });
  }

  it('ran the commands it was asked to', () => {
    // Pins: a property that silently ran nothing.
    expect(executed).toBeGreaterThan(RUNS * 8 * 30);
    console.log(`model-based: ${executed} commands over ${RUNS * 8} runs`);
  });
});
