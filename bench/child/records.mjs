// One run of the records suite, in a fresh process so GC state never leaks
// between candidates:  node bench/child/records.mjs <candidate> <count>
// Builds `count` long-lived 64-byte records (u32 id at 0, f64 score at 8,
// u32 hits at 16), then serves 2 x count "requests" that each read and update
// a random record and leave a small short-lived object behind (so the GC runs,
// as it does in a server). Prints one JSON line: total ms, GC pauses during
// the run, heap and RSS after it.
import { performance } from 'node:perf_hooks';
import { gcRecorder, loadOffheap, memory } from '../measure.mjs';

const [candidate, countArg] = process.argv.slice(2);
const N = Number(countArg);
const REQUESTS = 2 * N;

/** Each candidate: build() then get(i) -> [buffer-ish view, offset] accessors. */
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
      hits(i) {
        return recs[i].readUInt32LE(16);
      },
    };
  }
  let dv;
  let offset;
  let build;
  if (candidate === 'bigbuffer') {
    const buf = Buffer.alloc(N * 64);
    dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
    offset = (i) => i * 64;
    build = () => {
      for (let i = 0; i < N; i++) {
        dv.setUint32(i * 64, i, true);
        dv.setFloat64(i * 64 + 8, i * 0.5, true);
      }
    };
  } else if (candidate === 'pool') {
    const { mod, missing } = await loadOffheap('ObjectPool');
    if (missing) return { missing };
    const pool = new mod.ObjectPool({ slotSize: 64, capacity: N });
    const handles = new Int32Array(N);
    // One ArrayBuffer over the pool's whole region (DESIGN section 2): stable as the pool grows.
    dv = new DataView(pool.buffer);
    offset = (i) => handles[i];
    build = () => {
      for (let i = 0; i < N; i++) {
        const h = pool.allocHandle();
        handles[i] = h;
        dv.setUint32(h, i, true);
        dv.setFloat64(h + 8, i * 0.5, true);
        dv.setUint32(h + 16, 0, true);
      }
    };
  } else {
    throw new Error(`unknown candidate ${candidate}`);
  }
  return {
    build,
    touch(i, add) {
      const o = offset(i);
      dv.setFloat64(o + 8, dv.getFloat64(o + 8, true) + add, true);
      dv.setUint32(o + 16, dv.getUint32(o + 16, true) + 1, true);
      return dv.getUint32(o, true);
    },
    hits(i) {
      return dv.getUint32(offset(i) + 16, true);
    },
  };
}

const store = await make();
if (store.missing) {
  console.log(JSON.stringify({ missing: store.missing }));
  process.exit(0);
}
const gc = gcRecorder();
gc.start();
const t0 = performance.now();
store.build();
const built = performance.now();
// Let the build's GC entries arrive (outside the timed phases).
await new Promise((r) => setTimeout(r, 10));
const buildGc = gc.snapshot();
const t1 = performance.now();
// Requests: a ring of recent small objects, so some survive a scavenge.
const ring = new Array(4096);
let s = 1;
let check = 0;
for (let r = 0; r < REQUESTS; r++) {
  s = (s * 1103515245 + 12345) >>> 0;
  const i = s % N;
  const id = store.touch(i, 0.25);
  if (id !== i) throw new Error(`record ${i} holds id ${id}`);
  ring[r & 4095] = { id, at: r };
  check += ring[(r * 7) & 4095]?.id ?? 0;
}
const end = performance.now();
let hits = 0;
for (let i = 0; i < N; i++) hits += store.hits(i);
if (hits !== REQUESTS) throw new Error(`lost updates: ${hits} hits for ${REQUESTS} requests`);
const pauses = await gc.stop();
const mem = process.memoryUsage();
console.log(JSON.stringify({
  totalMs: built - t0 + (end - t1),
  buildMs: built - t0,
  buildGcCount: buildGc.count,
  buildGcMs: buildGc.totalMs,
  gcCount: pauses.count,
  gcTotalMs: pauses.totalMs,
  gcMaxMs: pauses.maxMs,
  heapUsedMiB: mem.heapUsed / 2 ** 20,
  rssMiB: memory().rssMiB,
  check: check & 1,
}));
