// One run of the records suite, in a fresh process so GC state never leaks
// between candidates:  node bench/child/records.mjs <candidate> <count>
// Builds `count` long-lived 64-byte records (u32 id at 0, f64 score at 8,
// u32 hits at 16, 40 more bytes), then
//   access:   2 x count random read-modify-writes of score and hits (nothing else allocated),
//   scan:     one pass over every record in order, summing score and hits,
//             both timed warm: each runs twice on a part of the same store first, so the
//             timed pass runs the optimized code a server's hot loop runs (a first pass
//             also times its own compilation: 2x to 4x longer, by a margin that differs
//             between candidates),
//   requests: 2 x count "requests" that each read and update a random record
//             and leave a small short-lived object behind (so the GC runs, as it does in a server).
// Runs with --expose-gc (one gc() before the phases). Prints one JSON line: ms per phase, GC pauses, heap and RSS after the run.
import { performance } from 'node:perf_hooks';
import { gcRecorder, loadOffheap, memory } from '../measure.mjs';

const [candidate, countArg] = process.argv.slice(2);
const N = Number(countArg);
const REQUESTS = 2 * N;

/**
 * touch() and sum() of hand-written DataView code: score and hits of the record
 * at offsetOf(i) (one DataView store per process, so the call is inlined).
 */
function dataViewRecords(dv, offsetOf) {
  return {
    touch(i, add) {
      const o = offsetOf(i);
      dv.setFloat64(o + 8, dv.getFloat64(o + 8, true) + add, true);
      dv.setUint32(o + 16, dv.getUint32(o + 16, true) + 1, true);
      return dv.getUint32(o, true);
    },
    sum(i) {
      const o = offsetOf(i);
      return dv.getFloat64(o + 8, true) + dv.getUint32(o + 16, true);
    },
  };
}

/** A store: build(), touch(i, add) -> id (score += add, hits++), sum(i) -> score + hits. */
async function make() {
  if (candidate === 'buffers') {
    const recs = new Array(N);
    return {
      build() {
        for (let i = 0; i < N; i++) {
          const b = Buffer.alloc(64);
          b.writeUInt32LE(i, 0);
          b.writeDoubleLE(i * 0.5, 8);
          recs[i] = b;
        }
      },
      touch(i, add) {
        const b = recs[i];
        b.writeDoubleLE(b.readDoubleLE(8) + add, 8);
        b.writeUInt32LE(b.readUInt32LE(16) + 1, 16);
        return b.readUInt32LE(0);
      },
      sum(i) {
        const b = recs[i];
        return b.readDoubleLE(8) + b.readUInt32LE(16);
      },
    };
  }
  if (candidate === 'objects') {
    const recs = new Array(N);
    return {
      build() {
        for (let i = 0; i < N; i++) recs[i] = { id: i, score: i * 0.5, hits: 0, name: '' };
      },
      touch(i, add) {
        const r = recs[i];
        r.score += add;
        r.hits++;
        return r.id;
      },
      sum(i) {
        const r = recs[i];
        return r.score + r.hits;
      },
    };
  }
  if (candidate === 'bigoffsets') {
    // One big Buffer, each record reached through the offset kept for it (as a pool's user keeps handles).
    const buf = Buffer.alloc(N * 64);
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
    const offsets = new Int32Array(N);
    return {
      build() {
        for (let i = 0; i < N; i++) {
          const o = i * 64;
          offsets[i] = o;
          dv.setUint32(o, i, true);
          dv.setFloat64(o + 8, i * 0.5, true);
        }
      },
      ...dataViewRecords(dv, (i) => offsets[i]),
    };
  }
  if (candidate === 'bigbuffer') {
    const buf = Buffer.alloc(N * 64);
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
    return {
      build() {
        for (let i = 0; i < N; i++) {
          dv.setUint32(i * 64, i, true);
          dv.setFloat64(i * 64 + 8, i * 0.5, true);
        }
      },
      ...dataViewRecords(dv, (i) => i * 64),
    };
  }
  const { mod, missing } = await loadOffheap(candidate.startsWith('cursor') ? 'layout' : 'ObjectPool');
  if (missing) return { missing };
  const handles = new Int32Array(N);
  if (candidate === 'pool') {
    // Hand-written DataView code over the pool's one ArrayBuffer (DESIGN section 2).
    const pool = new mod.ObjectPool({ slotSize: 64, capacity: N });
    const dv = new DataView(pool.buffer);
    return {
      build() {
        for (let i = 0; i < N; i++) {
          const h = pool.allocHandle();
          handles[i] = h;
          dv.setUint32(h, i, true);
          dv.setFloat64(h + 8, i * 0.5, true);
          dv.setUint32(h + 16, 0, true);
        }
      },
      ...dataViewRecords(dv, (i) => handles[i]),
    };
  }
  if (candidate === 'typed') {
    // Hand-written Float64Array / Uint32Array code over the pool's buffer: what a cursor compiles to, minus at()'s check.
    const pool = new mod.ObjectPool({ slotSize: 64, capacity: N });
    const f64 = new Float64Array(pool.buffer, 0, pool.buffer.byteLength >>> 3);
    const u32 = new Uint32Array(pool.buffer, 0, pool.buffer.byteLength >>> 2);
    return {
      build() {
        for (let i = 0; i < N; i++) {
          const h = pool.allocHandle();
          handles[i] = h;
          u32[h >>> 2] = i;
          f64[(h >>> 3) + 1] = i * 0.5;
          u32[(h >>> 2) + 4] = 0;
        }
      },
      touch(i, add) {
        const o = handles[i];
        f64[(o >>> 3) + 1] += add;
        u32[(o >>> 2) + 4]++;
        return u32[o >>> 2];
      },
      sum(i) {
        const o = handles[i];
        return f64[(o >>> 3) + 1] + u32[(o >>> 2) + 4];
      },
    };
  }
  if (candidate === 'cursor' || candidate === 'cursor-gen' || candidate === 'cursor-huge') {
    const Rec = mod.layout({ id: 'u32', score: 'f64', hits: 'u32', name: 'utf8[40]' });
    if (Rec.size !== 64) throw new Error(`layout size ${Rec.size}`);
    const pool = new mod.ObjectPool({ layout: Rec, capacity: N, generational: candidate === 'cursor-gen', hugePages: candidate === 'cursor-huge' });
    const p = pool.record();
    return {
      build() {
        for (let i = 0; i < N; i++) {
          const h = pool.allocHandle();
          handles[i] = h;
          const r = p.at(h);
          r.id = i;
          r.score = i * 0.5;
          r.hits = 0;
        }
      },
      touch(i, add) {
        const r = p.at(handles[i]);
        r.score += add;
        r.hits++;
        return r.id;
      },
      sum(i) {
        const r = p.at(handles[i]);
        return r.score + r.hits;
      },
    };
  }
  throw new Error(`unknown candidate ${candidate}`);
}

const store = await make();
if (store.missing) {
  console.log(JSON.stringify({ missing: store.missing }));
  process.exit(0);
}
// Settle what set-up left behind (the region's reservation counts as external
// memory), so the phases below see only their own collections.
globalThis.gc?.();
await new Promise((r) => setTimeout(r, 10));

// Each phase in a function of its own: its loop variables stay in registers
// (module-level variables would be boxed numbers, garbage of their own).
function build() {
  store.build();
}
// The generators keep their state an int32 (| 0, the same bits as >>> 0): a
// uint32 above 2^31 carried round a loop may be boxed as a heap number on
// every iteration, garbage that only some candidates' compiled loops make.
/** `count` random read-modify-writes, nothing allocated. */
function access(count, seed) {
  let s = seed;
  let ids = 0;
  for (let r = 0; r < count; r++) {
    s = (Math.imul(s, 1103515245) + 12345) | 0;
    ids = (ids + store.touch((s >>> 0) % N, 0.25)) | 0;
  }
  return ids;
}
/** Records [0, end) in order. */
function scan(end) {
  let total = 0;
  for (let i = 0; i < end; i++) total += store.sum(i);
  return total;
}
// The warm-up passes: long enough for the optimizing compiler, short beside the timed ones.
const WARM = Math.min(REQUESTS, 100_000);
/** Requests: a ring of recent small objects, so some survive a scavenge. */
function requests() {
  const ring = new Array(4096);
  let s = 1;
  let check = 0;
  for (let r = 0; r < REQUESTS; r++) {
    s = (Math.imul(s, 1103515245) + 12345) | 0;
    const i = (s >>> 0) % N;
    const id = store.touch(i, 0.25);
    if (id !== i) throw new Error(`record ${i} holds id ${id}`);
    ring[r & 4095] = { id, at: r };
    check = (check + (ring[(r * 7) & 4095]?.id ?? 0)) | 0;
  }
  return check;
}

const gc = gcRecorder();
gc.start();
const t0 = performance.now();
build();
const built = performance.now();
// Let the build's GC entries arrive (outside the timed phases).
await new Promise((r) => setTimeout(r, 10));
const buildGc = gc.snapshot();
const t1 = performance.now();
const check = requests();
const end = performance.now();
await new Promise((r) => setTimeout(r, 10));
const busyGc = gc.snapshot();
// Empty the young generation of the requests' garbage, so a pause in the access phase is the store's.
globalThis.gc?.();
await new Promise((r) => setTimeout(r, 10));
const quietFrom = gc.snapshot();
access(WARM, 3);
access(WARM, 5);
const a0 = performance.now();
const ids = access(REQUESTS, 7);
const a1 = performance.now();
await new Promise((r) => setTimeout(r, 10));
const accessGc = gc.snapshot();
scan(Math.min(N, WARM));
scan(Math.min(N, WARM));
const a2 = performance.now();
const total = scan(N);
const a3 = performance.now();
const pauses = await gc.stop();
// Every score started at i / 2 and gained 0.25 per touch; hits counts the touches.
const touches = 2 * REQUESTS + 2 * WARM;
const expected = (N * (N - 1)) / 4 + touches * 0.25 + touches;
if (Math.abs(scan(N) - expected) > 1e-9 * expected) throw new Error(`lost updates: expected ${expected}`);
const mem = process.memoryUsage();
console.log(JSON.stringify({
  // Build and requests: the GC-visible part (what a server does).
  totalMs: built - t0 + (end - t1),
  buildMs: built - t0,
  requestsMs: end - t1,
  accessMs: a1 - a0,
  scanMs: a3 - a2,
  buildGcCount: buildGc.count,
  buildGcMs: buildGc.totalMs,
  // Build + requests: GC pauses while the records are live and the requests make garbage.
  gcCount: busyGc.count,
  gcTotalMs: busyGc.totalMs,
  gcMaxMs: busyGc.maxMs,
  // The store's own GC: the build, and the updates of the access phase (nothing else allocates there).
  storeGcCount: buildGc.count + accessGc.count - quietFrom.count,
  storeGcMs: buildGc.totalMs + accessGc.totalMs - quietFrom.totalMs,
  // Access + scan allocate nothing once optimized (the first iterations box their numbers).
  quietGcCount: pauses.count - quietFrom.count,
  heapUsedMiB: mem.heapUsed / 2 ** 20,
  rssMiB: memory().rssMiB,
  check: (check + ids + total) & 1,
}));
