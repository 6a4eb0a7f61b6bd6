// Views through Node's own machinery, run in a child process by
// test/lifecycle.test.ts (node --expose-gc views.cjs): structuredClone and
// postMessage of views (what travels is bounded, never the region, never a
// far allocation's bytes) and of `buffer`, Node's Buffer API over views
// (prototype, constructor, inspect, deepStrictEqual, subclass-returning
// methods), free() of views that are not an allocation's own, and debug-mode
// views across threads. Prints one JSON line of counts; exits 1 on a failed check.
'use strict';
const assert = require('node:assert');
const util = require('node:util');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const { Arena, ObjectPool, SlabAllocator, backing } = require('../../dist/cjs/index.js');

const MiB = 1 << 20;
/** Written into an allocation MiBs away from the cloned view. */
const SECRET = Buffer.from('a secret of another request');

if (!isMainThread) {
  if (workerData.echo) {
    parentPort.on('message', (m) => parentPort.postMessage(m));
  } else {
    // Debug mode across threads: view a handle the main thread allocated, free it here, destroy the attachment.
    const pool = ObjectPool.attach(workerData.pool);
    const slab = SlabAllocator.attach(workerData.slab);
    const pv = pool.view(workerData.ph);
    const sv = slab.view(workerData.sh);
    const before = [pv.byteLength, sv.byteLength, pv[0], sv[0]];
    pool.freeHandle(workerData.ph);
    slab.freeHandle(workerData.sh);
    const afterFree = [pv.byteLength, sv.byteLength];
    pool.destroy();
    slab.destroy();
    parentPort.postMessage({ before, afterFree });
  }
  return;
}

const counts = { clones: 0, posts: 0, bufferApi: 0, refused: 0, debugThreads: 0 };

// Under the v8 backing every clone of a view copies its whole region (checkClone): 16 MiB
// regions keep that to milliseconds instead of seconds of copying 1 GiB per clone.
const REGION = backing === 'v8' ? 16 * MiB : 1024 * MiB;

function allocators(debug) {
  const arena = new Arena({ maxBytes: REGION, debug });
  const pool = new ObjectPool({ slotSize: 64, capacity: 1 << 16, debug });
  const slab = new SlabAllocator({ maxBytes: REGION, debug });
  return [
    { name: 'Arena', a: arena, small: (n) => arena.alloc(n) },
    { name: 'ObjectPool', a: pool, small: () => pool.alloc() },
    { name: 'SlabAllocator', a: slab, small: (n) => slab.alloc(n) },
  ];
}

/** A secret far away (MiBs) from the view: it must never be in what a clone of the view carries. */
function plantSecret({ a, name }) {
  if (name === 'Arena') {
    a.alloc(4 * MiB);
    return a.alloc(4096).fill(SECRET);
  }
  if (name === 'ObjectPool') {
    const hs = [];
    for (let i = 0; i < 40000; i++) hs.push(a.allocHandle());
    const s = a.alloc().fill(SECRET);
    for (const h of hs) a.freeHandle(h);
    return s;
  }
  a.alloc(4 * MiB);
  return a.alloc(4096).fill(SECRET);
}

function checkClone(v, clone, label) {
  if (backing === 'v8') {
    // Under the v8 backing no ArrayBuffer can cover part of the region: a clone
    // carries the whole region (a copy for an Arena, the shared memory for a
    // pool or slab), as docs/platforms.md says. Only the view's bytes are checked.
    assert.deepStrictEqual(Buffer.from(clone.buffer, clone.byteOffset, clone.byteLength), Buffer.from(v));
    return;
  }
  assert.ok(clone.buffer.byteLength <= 64 * 1024 || clone.buffer.byteLength === v.length, `${label}: a clone carries ${clone.buffer.byteLength} bytes`);
  assert.ok(!Buffer.from(clone.buffer).includes(SECRET), `${label}: a far allocation's bytes travelled with the clone`);
  assert.deepStrictEqual(Buffer.from(clone.buffer, clone.byteOffset, clone.byteLength), Buffer.from(v));
}

async function clones(debug) {
  const echo = new Worker(__filename, { workerData: { echo: true } });
  for (const k of allocators(debug)) {
    const v = k.small(16).fill(7);
    plantSecret(k);
    const big = k.name === 'ObjectPool' ? null : k.small(200_000).fill(9); // a large allocation: its own bytes only
    for (const x of big ? [v, big] : [v]) {
      checkClone(x, structuredClone(x), `${k.name} structuredClone`);
      counts.clones++;
      echo.postMessage(x);
      const back = await new Promise((resolve) => echo.once('message', resolve));
      checkClone(x, back, `${k.name} postMessage`);
      counts.posts++;
    }
    // `buffer` is the whole region: a clone of it is a full copy (documented), never a crash.
    if (k.name === 'ObjectPool') {
      const copy = structuredClone(k.a.buffer);
      assert.strictEqual(copy.byteLength, k.a.buffer.byteLength);
      counts.clones++;
    }
    k.a.destroy();
  }
  await echo.terminate();
}

function bufferApi(debug) {
  for (const k of allocators(debug)) {
    const v = k.small(64);
    v.fill(0);
    v.write('offheap', 0);
    const same = Buffer.alloc(64);
    same.write('offheap', 0);
    assert.strictEqual(Object.getPrototypeOf(v), Buffer.prototype, `${k.name}: prototype`);
    assert.strictEqual(v.constructor, Buffer, `${k.name}: constructor`);
    assert.strictEqual(typeof v.constructor.isBuffer, 'function');
    assert.ok(v.constructor.isBuffer(v));
    assert.strictEqual(v.constructor.from('hi').toString(), 'hi');
    assert.ok(util.inspect(v).startsWith('<Buffer 6f 66 66'), `${k.name}: ${util.inspect(v)}`);
    assert.deepStrictEqual(v, same);
    assert.ok(v.equals(same));
    assert.strictEqual(Buffer.compare(v, same), 0);
    for (const [what, r] of [['map', v.map((x) => x)], ['subarray', v.subarray(1, 9)], ['slice', v.slice(1, 9)], ['filter', v.filter(() => true)]]) {
      assert.strictEqual(Object.getPrototypeOf(r), Buffer.prototype, `${k.name}: ${what}() returns a Buffer`);
    }
    assert.strictEqual(v.toString('utf8', 0, 7), 'offheap');
    assert.strictEqual(v.readUInt32LE(0), same.readUInt32LE(0));
    assert.strictEqual(JSON.stringify(v), JSON.stringify(same));
    counts.bufferApi++;
    k.a.destroy();
  }
}

function expectCode(fn, code, label) {
  try {
    fn();
  } catch (e) {
    assert.strictEqual(e.code, code, `${label}: ${e.code} ${e.message}`);
    counts.refused++;
    return;
  }
  assert.fail(`${label}: no error`);
}

function refusals(debug) {
  const slab = new SlabAllocator({ maxBytes: 64 * MiB, debug });
  const a = slab.alloc(32);
  const b = slab.alloc(32);
  const [lo, hi] = slab.handleOf(a) < slab.handleOf(b) ? [a, b] : [b, a];
  lo.fill(1);
  hi.fill(2);
  if (!debug) assert.strictEqual(slab.handleOf(hi), slab.handleOf(lo) + 32, 'neighbours'); // debug: red zones between
  expectCode(() => slab.free(lo.subarray(32)), 'ERR_OFFHEAP_INVALID_HANDLE', 'slab.free(empty view at the neighbour)');
  expectCode(() => slab.free(new Proxy(lo, {})), 'ERR_INVALID_ARG_TYPE', 'slab.free(Proxy)');
  assert.ok(hi.every((x) => x === 2), 'the neighbour survives');
  slab.free(hi);
  slab.free(lo);
  const pool = new ObjectPool({ slotSize: 64, capacity: 16, debug });
  const v = pool.alloc();
  expectCode(() => pool.free(new Proxy(v, {})), 'ERR_INVALID_ARG_TYPE', 'pool.free(Proxy)');
  expectCode(() => pool.free(v.subarray(64)), 'ERR_OFFHEAP_INVALID_HANDLE', 'pool.free(empty view)');
  pool.free(v);
  slab.destroy();
  pool.destroy();
}

async function debugAcrossThreads() {
  const pool = new ObjectPool({ slotSize: 64, capacity: 64, debug: true });
  const slab = new SlabAllocator({ maxBytes: 8 * MiB, debug: true });
  const ph = pool.allocHandle();
  const sh = slab.allocHandle(64);
  new Uint8Array(pool.buffer, ph, 64).fill(3);
  new Uint8Array(slab.buffer, sh, 64).fill(4);
  const w = new Worker(__filename, { workerData: { pool: pool.share(), slab: slab.share(), ph, sh } });
  // Both listeners at once: Node may emit the worker's last 'message' and its
  // 'exit' in one callback, before a listener added after the first await.
  const exited = new Promise((resolve) => w.once('exit', resolve));
  const r = await new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  await exited;
  assert.deepStrictEqual(r.before, [64, 64, 3, 4]);
  // Under the v8 backing a view cannot be detached alone (docs/platforms.md): the poison checks catch stale use instead.
  if (backing !== 'v8') assert.deepStrictEqual(r.afterFree, [0, 0], 'views of a freed handle die in the thread that freed it');
  // The freed handles are handed out again here with new data: the worker's views never saw it.
  const again = pool.alloc().fill(9);
  assert.strictEqual(again.length, 64);
  counts.debugThreads++;
  // pool.view(h) over and over on one live handle: no heap growth per call.
  const h = pool.allocHandle();
  const heap = () => {
    global.gc();
    return process.memoryUsage().heapUsed;
  };
  for (let i = 0; i < 100_000; i++) pool.view(h);
  const start = heap();
  for (let round = 0; round < 3; round++) for (let i = 0; i < 100_000; i++) pool.view(h);
  const grown = heap() - start;
  assert.ok(grown < 1 * MiB, `pool.view(h) x 300k grew the heap by ${grown} bytes`);
  counts.debugThreads++;
  pool.destroy();
  slab.destroy();
}

(async () => {
  for (const debug of [false, true]) {
    await clones(debug);
    bufferApi(debug);
    refusals(debug);
  }
  await debugAcrossThreads();
  console.log(JSON.stringify(counts));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
