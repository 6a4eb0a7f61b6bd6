// A child process of the pool suite, one fresh heap per measurement:
//   node --expose-gc pool-memory.mjs resident <candidate> <n>
//   node pool-memory.mjs records <candidate> <n>
// prints one JSON line.
import { readFileSync } from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { ObjectPool } from 'offheap';
import { JsFreeList } from '../peers.mjs';

const [what, candidate, nArg] = process.argv.slice(2);
const n = Number(nArg);
const rss = () => Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096;

/** n live 64-byte slots, each written, and the resident bytes they cost. */
function resident() {
  globalThis.gc();
  const before = rss();
  let keep;
  if (candidate === 'pool') {
    const pool = new ObjectPool({ slotSize: 64, capacity: n });
    const bytes = new Uint8Array(pool.buffer);
    for (let i = 0; i < n; i++) bytes[pool.allocHandle()] = 1;
    keep = pool;
  } else if (candidate === 'jsfreelist') {
    const js = new JsFreeList(64, n);
    const bytes = new Uint8Array(js.buffer);
    for (let i = 0; i < n; i++) bytes[js.alloc()] = 1;
    keep = js;
  } else {
    keep = new Array(n);
    for (let i = 0; i < n; i++) (keep[i] = Buffer.alloc(64))[0] = 1;
  }
  globalThis.gc();
  const bytesPerSlot = (rss() - before) / n;
  return { bytesPerSlot, kept: keep ? 1 : 0 };
}

/** n long-lived 64-byte records made, filled and read once; time and GC. */
async function records() {
  const pauses = [];
  const obs = new PerformanceObserver((list) => { for (const e of list.getEntries()) pauses.push(e.duration); });
  obs.observe({ entryTypes: ['gc'] });
  const t0 = performance.now();
  let sum = 0;
  let keep;
  if (candidate === 'pool') {
    const pool = new ObjectPool({ slotSize: 64, capacity: n });
    const dv = new DataView(pool.buffer);
    const hs = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const h = pool.allocHandle();
      dv.setUint32(h, i, true);
      dv.setFloat64(h + 8, i * 0.5, true);
      hs[i] = h;
    }
    for (let i = 0; i < n; i++) sum += dv.getUint32(hs[i], true) + dv.getFloat64(hs[i] + 8, true);
    keep = [pool, hs];
  } else {
    const recs = new Array(n);
    for (let i = 0; i < n; i++) {
      const b = Buffer.alloc(64);
      b.writeUInt32LE(i, 0);
      b.writeDoubleLE(i * 0.5, 8);
      recs[i] = b;
    }
    for (let i = 0; i < n; i++) sum += recs[i].readUInt32LE(0) + recs[i].readDoubleLE(8);
    keep = recs;
  }
  const totalMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 20)); // the observer reports asynchronously
  obs.disconnect();
  return {
    totalMs,
    gcCount: pauses.length,
    gcTotalMs: pauses.reduce((a, b) => a + b, 0),
    gcMaxMs: pauses.length ? Math.max(...pauses) : 0,
    heapUsedMiB: process.memoryUsage().heapUsed / 2 ** 20,
    rssMiB: rss() / 2 ** 20,
    check: sum > 0 && keep !== undefined,
  };
}

const out = what === 'resident' ? resident() : await records();
process.stdout.write(`${JSON.stringify(out)}\n`);
