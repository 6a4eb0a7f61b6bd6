// SlabAllocator: mixed-size churn with a live set (handles and Buffer views)
// against Buffer.allocUnsafe and @thi.ng/malloc, debug mode's cost, two
// workers sharing one allocator, the RSS of a live set against its payload
// and RSS after freeing and trimming. The native core's instruction counts
// against glibc, jemalloc and mimalloc are in the native suite.
import { readFileSync } from 'node:fs';
import { SlabAllocator } from 'offheap';
import { compare, consume, QUICK } from '../harness.mjs';
import { thingPool } from '../peers.mjs';
import { threadGroups } from '../threads.mjs';

const MiB = 1024 * 1024;
const LIVE = 1024;

/** The churn's random choices, made up front: slot index | size << 10, sizes 16..1024. */
const OPS = (() => {
  const ops = new Uint32Array(1 << 16);
  let s = 2463534242;
  for (let i = 0; i < ops.length; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    ops[i] = (s & (LIVE - 1)) | ((16 + ((s >>> 10) % 1009)) << 10);
  }
  return ops;
})();

/** Resident set size from /proc (bytes). */
function rss() {
  return Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096;
}

function gc() {
  globalThis.gc?.();
  globalThis.gc?.();
}

/** Handles: each op frees one member of the live set and allocates a new size in its place. */
function handleChurn(name, make, alloc, free, peer = false, ops = undefined) {
  let a, live;
  return {
    name,
    peer,
    ops,
    setup() {
      a = make();
      live = new Int32Array(LIVE);
      for (let i = 0; i < LIVE; i++) live[i] = alloc(a, OPS[i] >>> 10);
    },
    run(n) {
      for (let i = 0; i < n; i++) {
        const o = OPS[i & 0xffff];
        const j = o & (LIVE - 1);
        free(a, live[j]);
        live[j] = alloc(a, o >>> 10);
      }
      consume(live[0]);
    },
    teardown() {
      for (let i = 0; i < LIVE; i++) free(a, live[i]);
      a.destroy?.();
    },
  };
}

/** The same with objects (Buffers / typed-array views) in the live set. */
function viewChurn(name, make, alloc, free, peer = false, ops = undefined) {
  let a, live;
  return {
    name,
    peer,
    ops,
    setup() {
      a = make();
      live = new Array(LIVE);
      for (let i = 0; i < LIVE; i++) live[i] = alloc(a, OPS[i] >>> 10);
    },
    run(n) {
      for (let i = 0; i < n; i++) {
        const o = OPS[i & 0xffff];
        const j = o & (LIVE - 1);
        free(a, live[j]);
        const b = alloc(a, o >>> 10);
        b[0] = i;
        live[j] = b;
      }
      consume(live[0].length);
    },
    teardown() {
      for (let i = 0; i < LIVE; i++) free(a, live[i]);
      a.destroy?.();
    },
  };
}

const slabOptions = { maxBytes: 256 * MiB };
/** @thi.ng/malloc's ops take microseconds in this churn (each free walks its free list): fewer of them per round. */
const THING_OPS = 20_000;
/**
 * Buffer.allocUnsafe(size) in the same churn: the new Buffer replaces a member
 * of the live set and the old one becomes garbage (the GC frees it). With
 * `write`, the first byte is written, as the view rows do; the handle rows
 * write nothing, so neither does their baseline.
 */
function unsafeChurn(write) {
  let live;
  return {
    name: 'Buffer.allocUnsafe(size)',
    peer: true,
    setup() {
      live = new Array(LIVE);
      for (let i = 0; i < LIVE; i++) live[i] = Buffer.allocUnsafe(OPS[i] >>> 10);
    },
    run: write
      ? (n) => {
        for (let i = 0; i < n; i++) {
          const o = OPS[i & 0xffff];
          const b = Buffer.allocUnsafe(o >>> 10);
          b[0] = i;
          live[o & (LIVE - 1)] = b;
        }
        consume(live[0].length);
      }
      : (n) => {
        for (let i = 0; i < n; i++) {
          const o = OPS[i & 0xffff];
          live[o & (LIVE - 1)] = Buffer.allocUnsafe(o >>> 10);
        }
        consume(live[0].length);
      },
  };
}

async function churnGroups() {
  const handles = await compare('Mixed-size churn through handles (16..1024 B, live set of 1024): free one, allocate one', [
    unsafeChurn(false),
    handleChurn('SlabAllocator allocHandle/freeHandle', () => new SlabAllocator(slabOptions), (a, n) => a.allocHandle(n), (a, h) => a.freeHandle(h)),
    handleChurn('@thi.ng/malloc malloc/free', () => thingPool(256 * MiB), (a, n) => a.malloc(n), (a, h) => a.free(h), true, THING_OPS),
    handleChurn('SlabAllocator, debug mode', () => new SlabAllocator({ ...slabOptions, debug: { leaks: 'off' } }), (a, n) => a.allocHandle(n), (a, h) => a.freeHandle(h)),
  ], {
    ops: 200_000, baseline: 'Buffer.allocUnsafe(size)',
    note: 'One op = one free + one allocation (Buffer.allocUnsafe: one allocation; the GC frees). Debug mode: the native path, poisoning and red zones on every op. '
      + '@thi.ng/malloc runs with its defaults (compact, split): its free keeps one address-ordered free list, so with a fragmented live set each free walks it.',
    target: [
      { candidate: 'SlabAllocator allocHandle/freeHandle', vs: 'Buffer.allocUnsafe(size)', atLeast: 4, label: 'SlabAllocator handle churn at least 4x faster than Buffer.allocUnsafe(size)' },
      { candidate: 'SlabAllocator allocHandle/freeHandle', vs: '@thi.ng/malloc malloc/free', atLeast: 2, label: 'SlabAllocator handle churn at least 2x faster than @thi.ng/malloc' },
    ],
  });
  const views = await compare('Mixed-size churn through Buffer views (16..1024 B, live set of 1024)', [
    unsafeChurn(true),
    viewChurn('SlabAllocator alloc/free (Buffer)', () => new SlabAllocator(slabOptions), (a, n) => a.alloc(n), (a, b) => a.free(b)),
    viewChurn('@thi.ng/malloc mallocAs/free (Uint8Array)', () => thingPool(256 * MiB), (a, n) => a.mallocAs('u8', n), (a, b) => a.free(b), true, THING_OPS),
  ], { ops: 200_000, baseline: 'Buffer.allocUnsafe(size)', note: 'Each op also writes the first byte of the new Buffer.' });
  // Debug Buffers cost microseconds each: a group of its own, with fewer ops.
  const debugViews = await compare('Debug mode next to release: mixed-size churn through Buffer views', [
    viewChurn('SlabAllocator alloc/free (Buffer), release', () => new SlabAllocator(slabOptions), (a, n) => a.alloc(n), (a, b) => a.free(b)),
    viewChurn('SlabAllocator alloc/free (Buffer), debug mode', () => new SlabAllocator({ ...slabOptions, debug: { leaks: 'off' } }), (a, n) => a.alloc(n), (a, b) => a.free(b)),
  ], { ops: 5_000, rounds: 9, baseline: 'SlabAllocator alloc/free (Buffer), release', note: 'Debug mode: the native path, poisoning, red zones and a detachable ArrayBuffer per Buffer.' });
  return [handles, views, debugViews];
}

/** RSS of a live set of mixed objects against its payload, and after freeing + trim(). */
function memoryNotes() {
  const count = QUICK ? 10_000 : 100_000;
  gc();
  const start = rss();
  const a = new SlabAllocator({ maxBytes: 1024 * MiB });
  const hs = new Int32Array(count);
  let payload = 0;
  let s = 7;
  for (let i = 0; i < count; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    const size = 16 + (s % 1009);
    hs[i] = a.allocHandle(size);
    new Uint8Array(a.buffer, hs[i], size).fill(1);
    payload += size;
  }
  const held = rss() - start;
  const committed = a.stats().committedBytes;
  for (let i = 0; i < count; i++) a.freeHandle(hs[i]);
  const afterFree = rss() - start;
  a.trim();
  const afterTrim = rss() - start;
  a.destroy();
  const mb = (n) => `${(n / MiB).toFixed(1)} MiB`;
  return [
    `**Live set RSS**: ${count} mixed objects (16..1024 B, ${mb(payload)} of payload, every byte written) cost ${mb(held)} of RSS, ` +
      `${(held / payload).toFixed(3)}x the payload (target: at most 1.25x the payload, ${held / payload <= 1.25 ? 'met' : 'not met'}; committed ${(committed / payload).toFixed(3)}x, the rest is the 1-byte-per-16 state table).`,
    `**Freed and trimmed**: after freeing all of them RSS is ${mb(afterFree)} above the start (empty slabs beyond retainEmptySlabs go back at once); ` +
      `after trim() ${mb(afterTrim)} (target: back within 8 MiB of the start, ${afterTrim <= 8 * MiB ? 'met' : 'not met'}).`,
  ];
}

export default async function slab() {
  const groups = await churnGroups();
  groups.push(...(await threadGroups('SlabAllocator', () => new SlabAllocator(slabOptions))));
  return { groups, notes: memoryNotes() };
}
