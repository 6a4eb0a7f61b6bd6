// The detection matrix of DESIGN.md section 5: every misuse kind
// against every allocator, in debug and in release mode, with the exact
// OffheapError code each cell must give. Debug mode detects every applicable
// kind; release mode detects the release guards (invalid / foreign handle,
// double free, destroyed, corrupted links) and, by design, nothing else (a
// cell with `release: UNGUARDED` pins that release mode stays silent there).
// Cells that cannot apply say why. The table is printed once per run.
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FILL_FRESH, FILL_FREED, FILL_RED_ZONE } from '../lib/guards';
import { Arena } from '../lib/arena';
import { ObjectPool } from '../lib/object-pool';
import { SlabAllocator } from '../lib/slab';
import { collect, externalBacking } from './helpers';
import { workerLib } from './worker-lib';

type Kind = 'Arena' | 'ObjectPool' | 'SlabAllocator';
type Mode = 'debug' | 'release';
type AnyAllocator = Arena | ObjectPool | SlabAllocator;

/** What a cell expects: an error code, a detached view, a leak report, or release mode's silence. */
type Outcome = `ERR_OFFHEAP_${string}` | 'detached' | 'zeros' | 'reported' | typeof UNGUARDED;
const UNGUARDED = 'not a release guard (silent)';

/** A cell: sets the misuse up on a fresh allocator and returns what detects it. */
interface Cell {
  debug: Outcome;
  release: Outcome;
  /** Sets up the misuse; returns the call that must throw `code` (or a view that must be detached). */
  provoke: (a: never, mode: Mode) => (() => unknown) | Uint8Array;
}
type Row = Partial<Record<Kind, Cell | string>>;

const SLOT = 64;
const live: AnyAllocator[] = [];

function make(kind: Kind, mode: Mode): AnyAllocator {
  const debug = mode === 'debug' ? { leaks: 'paranoid' as const } : false;
  const name = `matrix-${kind}-${mode}`;
  const a = kind === 'Arena' ? new Arena({ maxBytes: 1 << 20, debug, name })
    : kind === 'ObjectPool' ? new ObjectPool({ slotSize: SLOT, capacity: 256, debug, name })
    : new SlabAllocator({ maxBytes: 1 << 20, slabBytes: 65536, debug, name });
  live.push(a);
  return a;
}

const bytes = (a: AnyAllocator) => new Uint8Array(a.buffer);
/** Slots that no longer fit a release-mode magazine, so frees reach the native free lists. */
const MANY = 200;

const pool = (fn: (p: ObjectPool, mode: Mode) => (() => unknown) | Uint8Array) => fn as Cell['provoke'];
const slab = (fn: (s: SlabAllocator, mode: Mode) => (() => unknown) | Uint8Array) => fn as Cell['provoke'];
const arena = (fn: (a: Arena, mode: Mode) => (() => unknown) | Uint8Array) => fn as Cell['provoke'];

const NO_FREE = 'n/a: an Arena frees only by rollback / reset, never one allocation';
const NO_BUFFER_ARG = 'n/a: no Arena method takes a Buffer back';
const NO_RED_ZONE = 'n/a: slots are fixed-size with no red zone; a write past a slot lands in the next slot (caught as a write after free when that one is free)';
const NO_ROLLBACK = 'n/a: only an Arena has rollback / reset';

const MATRIX: Record<string, Row> = {
  'double free': {
    Arena: NO_FREE,
    ObjectPool: { debug: 'ERR_OFFHEAP_DOUBLE_FREE', release: 'ERR_OFFHEAP_DOUBLE_FREE', provoke: pool((p) => {
      const h = p.allocHandle();
      p.freeHandle(h);
      return () => p.freeHandle(h);
    }) },
    SlabAllocator: { debug: 'ERR_OFFHEAP_DOUBLE_FREE', release: 'ERR_OFFHEAP_DOUBLE_FREE', provoke: slab((s) => {
      const h = s.allocHandle(48);
      s.freeHandle(h);
      return () => s.freeHandle(h);
    }) },
  },
  'invalid handle: out of range': {
    Arena: { debug: 'ERR_OFFHEAP_INVALID_HANDLE', release: 'ERR_OFFHEAP_INVALID_HANDLE', provoke: arena((a) => {
      a.mark();
      return () => a.rollback(-1); // marks are the only handles an Arena takes back
    }) },
    ObjectPool: { debug: 'ERR_OFFHEAP_INVALID_HANDLE', release: 'ERR_OFFHEAP_INVALID_HANDLE', provoke: pool((p) => {
      p.allocHandle();
      return () => p.freeHandle(p.capacity * p.slotSize);
    }) },
    SlabAllocator: { debug: 'ERR_OFFHEAP_INVALID_HANDLE', release: 'ERR_OFFHEAP_INVALID_HANDLE', provoke: slab((s) => {
      s.allocHandle(48);
      return () => s.freeHandle(s.buffer.byteLength + 4096);
    }) },
  },
  'invalid handle: misaligned': {
    Arena: 'n/a: marks are opaque ids, not offsets (any non-live number is covered by the rows above and below)',
    ObjectPool: { debug: 'ERR_OFFHEAP_INVALID_HANDLE', release: 'ERR_OFFHEAP_INVALID_HANDLE', provoke: pool((p) => {
      const h = p.allocHandle();
      return () => p.freeHandle(h + 1);
    }) },
    SlabAllocator: { debug: 'ERR_OFFHEAP_INVALID_HANDLE', release: 'ERR_OFFHEAP_INVALID_HANDLE', provoke: slab((s) => {
      const h = s.allocHandle(48);
      return () => s.freeHandle(h + 1);
    }) },
  },
  'invalid handle: interior': {
    Arena: 'n/a: marks are opaque ids, not offsets',
    ObjectPool: { debug: 'ERR_OFFHEAP_INVALID_HANDLE', release: 'ERR_OFFHEAP_INVALID_HANDLE', provoke: pool((p) => {
      const h = p.allocHandle();
      return () => p.freeHandle(h + 32);
    }) },
    SlabAllocator: { debug: 'ERR_OFFHEAP_INVALID_HANDLE', release: 'ERR_OFFHEAP_INVALID_HANDLE', provoke: slab((s) => {
      const h = s.allocHandle(256);
      return () => s.freeHandle(h + 16);
    }) },
  },
  'invalid handle: never allocated': {
    Arena: { debug: 'ERR_OFFHEAP_INVALID_HANDLE', release: 'ERR_OFFHEAP_INVALID_HANDLE', provoke: arena((a) => {
      const other = new Arena({ maxBytes: 4096, debug: false });
      live.push(other);
      const foreignMark = other.mark();
      return () => a.rollback(foreignMark); // a mark, but of another arena
    }) },
    ObjectPool: { debug: 'ERR_OFFHEAP_INVALID_HANDLE', release: 'ERR_OFFHEAP_INVALID_HANDLE', provoke: pool((p) => {
      p.allocHandle();
      return () => p.freeHandle((p.capacity - 1) * p.slotSize);
    }) },
    SlabAllocator: { debug: 'ERR_OFFHEAP_INVALID_HANDLE', release: 'ERR_OFFHEAP_INVALID_HANDLE', provoke: slab((s) => {
      s.allocHandle(48);
      return () => s.freeHandle(s.buffer.byteLength - 4096); // inside the region, in no slab
    }) },
  },
  'foreign buffer': {
    Arena: NO_BUFFER_ARG,
    ObjectPool: { debug: 'ERR_OFFHEAP_INVALID_HANDLE', release: 'ERR_OFFHEAP_INVALID_HANDLE', provoke: pool((p, mode) => {
      const other = make('ObjectPool', mode) as ObjectPool;
      const theirs = other.alloc();
      return () => p.free(theirs);
    }) },
    SlabAllocator: { debug: 'ERR_OFFHEAP_INVALID_HANDLE', release: 'ERR_OFFHEAP_INVALID_HANDLE', provoke: slab((s, mode) => {
      const other = make('SlabAllocator', mode) as SlabAllocator;
      const theirs = other.alloc(48);
      return () => s.free(theirs);
    }) },
  },
  'foreign buffer: plain Buffer': {
    Arena: NO_BUFFER_ARG,
    ObjectPool: { debug: 'ERR_OFFHEAP_INVALID_HANDLE', release: 'ERR_OFFHEAP_INVALID_HANDLE', provoke: pool((p) => () => p.free(Buffer.alloc(SLOT))) },
    SlabAllocator: { debug: 'ERR_OFFHEAP_INVALID_HANDLE', release: 'ERR_OFFHEAP_INVALID_HANDLE', provoke: slab((s) => () => s.free(Buffer.alloc(48))) },
  },
  'write after free: found on reuse': {
    Arena: { debug: 'ERR_OFFHEAP_USE_AFTER_FREE', release: UNGUARDED, provoke: arena((a) => {
      const m = a.mark();
      const h = a.allocHandle(64);
      a.rollback(m);
      bytes(a)[h + 40] = 1;
      return () => a.allocHandle(64);
    }) },
    ObjectPool: { debug: 'ERR_OFFHEAP_USE_AFTER_FREE', release: UNGUARDED, provoke: pool((p) => {
      const h = p.allocHandle();
      p.freeHandle(h);
      bytes(p)[h + 40] = 1;
      return () => p.allocHandle();
    }) },
    SlabAllocator: { debug: 'ERR_OFFHEAP_USE_AFTER_FREE', release: UNGUARDED, provoke: slab((s) => {
      const h = s.allocHandle(48);
      s.freeHandle(h);
      bytes(s)[h + 40] = 1;
      return () => s.allocHandle(48);
    }) },
  },
  'write after free: found by verify()': {
    Arena: { debug: 'ERR_OFFHEAP_USE_AFTER_FREE', release: UNGUARDED, provoke: arena((a) => {
      const m = a.mark();
      const h = a.allocHandle(64);
      a.rollback(m);
      bytes(a)[h + 40] = 1;
      return () => a.verify();
    }) },
    ObjectPool: { debug: 'ERR_OFFHEAP_USE_AFTER_FREE', release: UNGUARDED, provoke: pool((p) => {
      const h = p.allocHandle();
      p.freeHandle(h);
      bytes(p)[h + 40] = 1;
      return () => p.verify();
    }) },
    SlabAllocator: { debug: 'ERR_OFFHEAP_USE_AFTER_FREE', release: UNGUARDED, provoke: slab((s) => {
      const h = s.allocHandle(48);
      s.freeHandle(h);
      bytes(s)[h + 40] = 1;
      return () => s.verify();
    }) },
  },
  'overflow into the red zone: found at free / rollback': {
    Arena: { debug: 'ERR_OFFHEAP_OVERFLOW', release: UNGUARDED, provoke: arena((a) => {
      const m = a.mark();
      const h = a.allocHandle(24);
      bytes(a)[h + 24] = 0;
      return () => a.rollback(m);
    }) },
    ObjectPool: NO_RED_ZONE,
    SlabAllocator: { debug: 'ERR_OFFHEAP_OVERFLOW', release: UNGUARDED, provoke: slab((s) => {
      const h = s.allocHandle(24);
      bytes(s)[h + 24] = 0;
      return () => s.freeHandle(h);
    }) },
  },
  'overflow into the red zone: found at reset': {
    Arena: { debug: 'ERR_OFFHEAP_OVERFLOW', release: UNGUARDED, provoke: arena((a) => {
      const h = a.allocHandle(24);
      bytes(a)[h + 24] = 0;
      return () => a.reset();
    }) },
    ObjectPool: NO_RED_ZONE,
    SlabAllocator: 'n/a: a SlabAllocator has no reset (its frees and verify() check red zones)',
  },
  'overflow into the red zone: found by verify()': {
    Arena: { debug: 'ERR_OFFHEAP_OVERFLOW', release: UNGUARDED, provoke: arena((a) => {
      const h = a.allocHandle(24);
      bytes(a)[h + 24] = 0;
      return () => a.verify();
    }) },
    ObjectPool: NO_RED_ZONE,
    SlabAllocator: { debug: 'ERR_OFFHEAP_OVERFLOW', release: UNGUARDED, provoke: slab((s) => {
      const h = s.allocHandle(24);
      bytes(s)[h + 24] = 0;
      return () => s.verify();
    }) },
  },
  'stale view after free: passed back': {
    Arena: NO_FREE,
    // Release mode cannot tell a stale view from a live one, but its double-free guard still refuses it.
    ObjectPool: { debug: 'ERR_OFFHEAP_USE_AFTER_FREE', release: 'ERR_OFFHEAP_DOUBLE_FREE', provoke: pool((p) => {
      const b = p.alloc();
      p.free(b);
      return () => p.free(b);
    }) },
    SlabAllocator: { debug: 'ERR_OFFHEAP_USE_AFTER_FREE', release: 'ERR_OFFHEAP_DOUBLE_FREE', provoke: slab((s) => {
      const b = s.alloc(48);
      s.free(b);
      return () => s.free(b);
    }) },
  },
  'stale view after free: detached': {
    Arena: NO_FREE,
    ObjectPool: { debug: 'detached', release: UNGUARDED, provoke: pool((p) => {
      const b = p.alloc();
      p.free(b);
      return b;
    }) },
    SlabAllocator: { debug: 'detached', release: UNGUARDED, provoke: slab((s) => {
      const b = s.alloc(48);
      s.free(b);
      return b;
    }) },
  },
  'stale view after rollback': {
    Arena: { debug: 'detached', release: UNGUARDED, provoke: arena((a) => {
      const m = a.mark();
      const b = a.alloc(64);
      a.rollback(m);
      return b;
    }) },
    ObjectPool: NO_ROLLBACK,
    SlabAllocator: NO_ROLLBACK,
  },
  'stale view after reset': {
    Arena: { debug: 'detached', release: UNGUARDED, provoke: arena((a) => {
      const b = a.alloc(64);
      a.reset();
      return b;
    }) },
    ObjectPool: NO_ROLLBACK,
    SlabAllocator: NO_ROLLBACK,
  },
  'stale view after destroy: reads zeros': {
    Arena: { debug: 'zeros', release: 'zeros', provoke: arena((a) => {
      const b = a.alloc(64);
      a.destroy();
      return b;
    }) },
    ObjectPool: { debug: 'zeros', release: 'zeros', provoke: pool((p) => {
      const b = p.alloc();
      p.destroy();
      return b;
    }) },
    SlabAllocator: { debug: 'zeros', release: 'zeros', provoke: slab((s) => {
      const b = s.alloc(48);
      s.destroy();
      return b;
    }) },
  },
  'stale view after destroy: passed back / any call': {
    Arena: { debug: 'ERR_OFFHEAP_DESTROYED', release: 'ERR_OFFHEAP_DESTROYED', provoke: arena((a) => {
      a.alloc(64);
      a.destroy();
      return () => a.alloc(64);
    }) },
    ObjectPool: { debug: 'ERR_OFFHEAP_DESTROYED', release: 'ERR_OFFHEAP_DESTROYED', provoke: pool((p) => {
      const b = p.alloc();
      p.destroy();
      return () => p.free(b);
    }) },
    SlabAllocator: { debug: 'ERR_OFFHEAP_DESTROYED', release: 'ERR_OFFHEAP_DESTROYED', provoke: slab((s) => {
      const b = s.alloc(48);
      s.destroy();
      return () => s.free(b);
    }) },
  },
  'corrupted free-list link': {
    Arena: { debug: 'ERR_OFFHEAP_CORRUPTED', release: 'ERR_OFFHEAP_CORRUPTED', provoke: arena((a) => {
      // An Arena has no links; its metadata JS could reach is the shared cursor word.
      a.allocHandle(64);
      (a as unknown as { state_: Int32Array }).state_[0] = a.maxBytes + 4096;
      return () => a.verify();
    }) },
    ObjectPool: { debug: 'ERR_OFFHEAP_CORRUPTED', release: 'ERR_OFFHEAP_CORRUPTED', provoke: pool((p) => {
      const hs = Array.from({ length: MANY }, () => p.allocHandle());
      for (const h of hs) p.freeHandle(h);
      const words = new Int32Array(p.buffer);
      for (const h of hs) words[h >> 2] = 0x7fffffff; // every free slot's link points out of the pool
      return () => p.verify();
    }) },
    SlabAllocator: { debug: 'ERR_OFFHEAP_CORRUPTED', release: 'ERR_OFFHEAP_CORRUPTED', provoke: slab((s) => {
      const hs = Array.from({ length: MANY }, () => s.allocHandle(48));
      s.allocHandle(48); // kept live: the slab stays partial, with its free list
      for (const h of hs) s.freeHandle(h);
      s.trim(); // this thread's magazines back to the slabs' free lists
      const words = new Int32Array(s.buffer);
      for (const h of hs) words[h >> 2] = 0x7fffffff;
      return () => s.verify();
    }) },
  },
  leak: {
    // A leak of an Arena is not a dropped Buffer: views are dropped all the time and freed by reset.
    Arena: { debug: 'reported', release: UNGUARDED, provoke: arena((a) => () => a.alloc(64)) },
    ObjectPool: { debug: 'reported', release: UNGUARDED, provoke: pool((p) => () => p.alloc()) },
    SlabAllocator: { debug: 'reported', release: UNGUARDED, provoke: slab((s) => () => s.alloc(48)) },
  },
};

const KINDS: Kind[] = ['Arena', 'ObjectPool', 'SlabAllocator'];

afterEach(() => {
  while (live.length) live.pop()!.destroy();
});

/** Runs the call and returns the error it throws (or undefined). */
function thrown(fn: () => unknown): (Error & { code?: string }) | undefined {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  return undefined;
}

async function leakWarnings(fn: () => unknown): Promise<Error[]> {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  const printers = process.listeners('warning'); // the expected warning stays out of the output
  process.removeAllListeners('warning');
  process.on('warning', onWarning);
  try {
    fn();
    for (let i = 0; i < 10 && warnings.length === 0; i++) await collect();
    await new Promise((r) => setTimeout(r, 10));
  } finally {
    process.off('warning', onWarning);
    for (const printer of printers) process.on('warning', printer);
  }
  return warnings.filter((w) => (w as { code?: string }).code === 'OFFHEAP_LEAK');
}

/**
 * A cell's outcome under the backing in use. Under the v8 backing a debug
 * view cannot have an ArrayBuffer of its own, and a pool's or slab's
 * SharedArrayBuffer cannot be detached at destroy: the cells that rely on
 * detaching get release mode's outcome there (docs/platforms.md). An Arena's
 * own buffer is still detached at destroy.
 */
function underBacking(misuse: string, kind: Kind, cell: { debug: Outcome; release: Outcome }, mode: 'debug' | 'release'): Outcome {
  if (externalBacking) return cell[mode];
  if (misuse === 'stale view after destroy: detached') return kind === 'Arena' ? cell[mode] : UNGUARDED;
  if (/^stale view after (free|rollback|reset)/.test(misuse)) return cell.release;
  return cell[mode];
}

describe('guards detection matrix', () => {
  it('prints the matrix', () => {
    const rows = Object.entries(MATRIX).map(([kind, row]) => {
      const cells = KINDS.map((k) => {
        const c = row[k];
        if (c === undefined || typeof c === 'string') return 'n/a';
        const short = (o: Outcome) => (o === UNGUARDED ? 'silent' : o.replace('ERR_OFFHEAP_', ''));
        return `${short(c.debug)} / ${short(c.release)}`;
      });
      return `${kind.padEnd(56)} | ${cells.map((c) => c.padEnd(34)).join(' | ')}`;
    });
    console.log(`${'misuse (debug / release; silent: not a release guard)'.padEnd(56)} | ${KINDS.map((k) => k.padEnd(34)).join(' | ')}\n${rows.join('\n')}`);
    // Every misuse kind has a row, and every row covers at least one allocator.
    for (const row of Object.values(MATRIX)) expect(KINDS.some((k) => typeof row[k] === 'object')).toBe(true);
  });

  for (const [misuse, row] of Object.entries(MATRIX)) {
    for (const kind of KINDS) {
      const cell = row[kind];
      if (cell === undefined) throw new Error(`matrix row '${misuse}' has no cell for ${kind}`);
      if (typeof cell === 'string') {
        it.skip(`${misuse} × ${kind}: ${cell}`, () => {});
        continue;
      }
      for (const mode of ['debug', 'release'] as const) {
        const want = underBacking(misuse, kind, cell, mode);
        // Pins: a misuse of this kind that goes unnoticed (or gives the wrong code) in this mode.
        it(`${misuse} × ${kind} × ${mode}: ${want}`, async () => {
          const a = make(kind, mode);
          if (want === 'reported') {
            const warnings = kind === 'Arena' ? [] : await leakWarnings(cell.provoke(a as never, mode) as () => unknown);
            if (kind !== 'Arena') {
              expect(warnings).toHaveLength(1);
              expect(warnings[0].message).toContain(a.name);
              expect(warnings[0].message).toMatch(/offset \d+/);
              expect(warnings[0].message).toContain('guards-matrix.test');
            }
            (cell.provoke(a as never, mode) as () => unknown)(); // one more, kept live
            const leaks = a.leaks();
            expect(leaks.length).toBeGreaterThanOrEqual(1);
            const last = leaks[leaks.length - 1];
            expect(Object.keys(last).sort()).toEqual(['offset', 'size', 'stack']);
            expect(last.stack).toContain('guards-matrix.test');
            return;
          }
          const probe = cell.provoke(a as never, mode);
          if (probe instanceof Uint8Array) {
            if (want === 'detached') expect(probe.byteLength).toBe(0);
            else if (want === 'zeros') expect(probe.byteLength > 0 && probe.every((x) => x === 0)).toBe(true);
            else expect(probe.byteLength).toBeGreaterThan(0); // release views are plain views of `buffer`
            return;
          }
          if (want === UNGUARDED) {
            // Release mode does not look for this (DESIGN.md 5): no error, no cost.
            expect(thrown(probe)).toBeUndefined();
            return;
          }
          const err = thrown(probe);
          expect(err, `expected ${want}`).toBeDefined();
          expect(err!.code, err!.message).toBe(want);
          expect(err!.name).toBe('OffheapError');
          expect(err!.message.startsWith(`${a.name}: `), err!.message).toBe(true);
        });
      }
    }
  }
});

describe('debug error messages', () => {
  afterEach(() => {
    while (live.length) live.pop()!.destroy();
  });

  // Pins: a debug report that does not say where (offset) or where it was freed (free site).
  for (const kind of ['ObjectPool', 'SlabAllocator'] as const) {
    it(`${kind}: a write after free names the allocator, the offset and the free site`, () => {
      const a = make(kind, 'debug') as ObjectPool | SlabAllocator;
      const h = kind === 'ObjectPool' ? (a as ObjectPool).allocHandle() : (a as SlabAllocator).allocHandle(48);
      a.freeHandle(h);
      bytes(a)[h + 40] = 1;
      for (const check of [() => a.verify(), () => (kind === 'ObjectPool' ? (a as ObjectPool).allocHandle() : (a as SlabAllocator).allocHandle(48))]) {
        bytes(a)[h + 40] = 1;
        const err = thrown(check)!;
        expect(err.code).toBe('ERR_OFFHEAP_USE_AFTER_FREE');
        expect(err.message).toContain(`${a.name}: `);
        expect(err.message).toContain(`offset ${h}`);
        expect((err as { offset?: number }).offset).toBe(h); // the allocation, as every allocator reports it
        expect(err.message).toContain('freed at');
        expect(err.message).toContain('guards-matrix.test');
      }
    });

    it(`${kind}: a double free names the allocator, the offset and the first free site`, () => {
      const a = make(kind, 'debug') as ObjectPool | SlabAllocator;
      const h = kind === 'ObjectPool' ? (a as ObjectPool).allocHandle() : (a as SlabAllocator).allocHandle(48);
      a.freeHandle(h);
      const err = thrown(() => a.freeHandle(h))!;
      expect(err.code).toBe('ERR_OFFHEAP_DOUBLE_FREE');
      expect(err.message).toContain(`${a.name}: `);
      expect(err.message).toContain(`offset ${h}`);
      expect(err.message).toContain('freed at');
    });
  }

  it('Arena: overflow and write after free name the allocator and the offset', () => {
    const a = make('Arena', 'debug') as Arena;
    const m = a.mark();
    const h = a.allocHandle(24);
    bytes(a)[h + 24] = 0;
    const overflow = thrown(() => a.rollback(m))!;
    expect(overflow.code).toBe('ERR_OFFHEAP_OVERFLOW');
    expect(overflow.message).toContain(`${a.name}: `);
    expect(overflow.message).toContain(`offset ${h}`);
    expect(overflow).toMatchObject({ offset: h, at: h + 24 });
    bytes(a)[h + 8] = 1;
    const uaf = thrown(() => a.verify())!;
    expect(uaf.code).toBe('ERR_OFFHEAP_USE_AFTER_FREE');
    expect(uaf.message).toContain(`${a.name}: `);
    expect(uaf.message).toContain(`offset ${h + 8}`);
    expect(uaf).toMatchObject({ at: h + 8 });
  });
});

describe('OFFHEAP_DEBUG=1', () => {
  // Pins: an allocator that ignores the environment switch (debug mode stays off).
  it('turns debug mode on for every allocator (child process)', () => {
    const lib = workerLib();
    const script = `
      const { Arena, ObjectPool, SlabAllocator } = require(${JSON.stringify(lib)});
      const out = {};
      const a = new Arena({ maxBytes: 65536 });
      const p = new ObjectPool({ slotSize: 64, capacity: 16 });
      const s = new SlabAllocator({ maxBytes: 1 << 20 });
      for (const [k, x, b] of [['Arena', a, a.alloc(32)], ['ObjectPool', p, p.alloc()], ['SlabAllocator', s, s.alloc(32)]]) {
        out[k] = { fresh: b[0], sliced: b.buffer.byteLength === b.byteLength, leaks: x.leaks().length };
      }
      console.log(JSON.stringify(out));
    `;
    for (const [env, on] of [['1', true], ['0', false]] as const) {
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, OFFHEAP_DEBUG: env } });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
      for (const k of KINDS) {
        expect(out[k].sliced, `${k} with OFFHEAP_DEBUG=${env}`).toBe(on && externalBacking);
        if (on) expect(out[k], `${k} with OFFHEAP_DEBUG=${env}`).toEqual({ fresh: 0xd0, sliced: externalBacking, leaks: 1 });
      }
    }
  });
});

describe('fill bytes', () => {
  afterEach(() => {
    while (live.length) live.pop()!.destroy();
  });

  // Pins: the facade's fill bytes drifting from the core's (native/core/guards.h is the one source).
  it('lib/guards.ts uses the bytes of native/core/guards.h', () => {
    const header = readFileSync(join(__dirname, '../native/core/guards.h'), 'utf8');
    const byte = (name: string) => Number(new RegExp(`${name} = (0x[0-9A-Fa-f]+)`).exec(header)![1]);
    expect([FILL_FRESH, FILL_FREED, FILL_RED_ZONE]).toEqual([byte('kFillFresh'), byte('kFillFreed'), byte('kFillRedZone')]);
  });

  // Pins: an allocator whose debug mode fills with bytes of its own (every one uses 0xD0 / 0xDF / 0xDE).
  for (const kind of KINDS) {
    it(`${kind}: fresh 0xD0, freed 0xDF${kind === 'ObjectPool' ? '' : ', red zone 0xDE'} in debug mode`, () => {
      const a = make(kind, 'debug');
      const mem = bytes(a);
      const size = kind === 'ObjectPool' ? SLOT : 48;
      let h: number;
      let release: () => void;
      if (a instanceof Arena) {
        const m = a.mark();
        h = a.allocHandle(size);
        release = () => a.rollback(m);
      } else if (a instanceof ObjectPool) {
        h = a.allocHandle();
        release = () => a.freeHandle(h);
      } else {
        h = a.allocHandle(size);
        release = () => a.freeHandle(h);
      }
      expect([...mem.subarray(h, h + size)].every((b) => b === FILL_FRESH)).toBe(true);
      if (!(a instanceof ObjectPool)) expect([...mem.subarray(h + size, h + size + 16)].every((b) => b === FILL_RED_ZONE)).toBe(true);
      release();
      // A free slot starts with its 4-byte free-list link (pool and slab); the rest is poison.
      const from = a instanceof Arena ? h : h + 4;
      expect([...mem.subarray(from, h + size)].every((b) => b === FILL_FREED)).toBe(true);
    });
  }
});

describe('verify() walks this thread\'s magazines (release mode)', () => {
  afterEach(() => {
    while (live.length) live.pop()!.destroy();
  });

  // Pins: a magazine entry overwritten through JS-visible memory that verify() does not notice.
  it('ObjectPool: a magazine handle that is not cached is ERR_OFFHEAP_CORRUPTED', () => {
    const p = make('ObjectPool', 'release') as ObjectPool;
    const kept = p.allocHandle();
    p.freeHandle(p.allocHandle()); // one handle cached in this thread's magazine
    const blk = (p as unknown as { blk_: Int32Array }).blk_;
    const cached = blk[blk[1] - 1];
    blk[blk[1] - 1] = kept;
    const err = thrown(() => p.verify())!;
    expect(err.code).toBe('ERR_OFFHEAP_CORRUPTED');
    expect(err.message).toContain(`offset ${kept}`);
    blk[blk[1] - 1] = cached; // repaired, so destroy() can flush the magazine
  });

  it('SlabAllocator: a magazine handle that is not cached is ERR_OFFHEAP_CORRUPTED', () => {
    const s = make('SlabAllocator', 'release') as SlabAllocator;
    const kept = s.allocHandle(48);
    s.freeHandle(s.allocHandle(48));
    const blk = (s as unknown as { blk_: Int32Array }).blk_;
    let k = 1;
    while ((blk[k] & 63) === 0) k++; // the class whose magazine holds the freed handle
    blk[blk[k] - 1] = kept;
    const err = thrown(() => s.verify())!;
    expect(err.code).toBe('ERR_OFFHEAP_CORRUPTED');
    expect(err.message).toContain(`offset ${kept}`);
    blk[k] = blk[k] + 100; // a top outside its class's words
    expect(thrown(() => s.verify())?.code).toBe('ERR_OFFHEAP_CORRUPTED');
  });
});
