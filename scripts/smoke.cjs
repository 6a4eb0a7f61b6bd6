// A smoke run of every allocator through the built package (dist/ and the
// addon node-gyp-build picks): Arena, ObjectPool, SlabAllocator, ArenaScope,
// and share()/attach() with a worker thread. Each check is independent and
// prints `ok` or `FAIL`; the last line is `smoke: N passed, N failed`, and the
// exit code is 1 when anything failed. Used by scripts/test-arm64.mjs (under
// qemu with the arm64 node), by test/backing.test.ts (with
// OFFHEAP_SMOKE_LIB=<folder of lib/*.js>), and runnable with any node:
//   node scripts/smoke.cjs
'use strict';
const assert = require('node:assert/strict');
const { join } = require('node:path');
const { Worker } = require('node:worker_threads');

const dist = join(process.env.OFFHEAP_SMOKE_LIB || join(__dirname, '..', 'dist', 'cjs'), 'index.js');
const offheap = require(dist);
const { Arena, ObjectPool, SlabAllocator, ArenaScope, currentArena, OffheapError, stats } = offheap;

const checks = [];
const check = (name, fn) => checks.push({ name, fn });

check('addon loaded for this platform', () => {
  const file = require('node-gyp-build').resolve(join(__dirname, '..'));
  assert.ok(file.endsWith('.node'), file);
  console.log(`  addon ${file} (${process.platform}-${process.arch}, node ${process.version}, backing ${offheap.backing ?? 'external'})`);
});

check('Arena: alloc, write, mark/rollback, reset, destroy', () => {
  const a = new Arena({ maxBytes: 8 << 20 });
  const b = a.alloc(11);
  b.write('hello arm64');
  assert.equal(b.toString(), 'hello arm64');
  const m = a.mark();
  const big = a.alloc(1 << 20);
  big.fill(0xab);
  assert.equal(big[(1 << 20) - 1], 0xab);
  a.rollback(m);
  const z = a.allocZeroed(4096);
  assert.ok(z.every((x) => x === 0));
  assert.ok(a.committed >= 4096);
  a.reset();
  assert.equal(a.used, 0);
  a.destroy();
  assert.throws(() => a.alloc(1), (e) => e instanceof OffheapError && e.code === 'ERR_OFFHEAP_DESTROYED');
});

check('Arena: exhaustion is a typed error', () => {
  const a = new Arena({ maxBytes: 64 * 1024 });
  a.alloc(40000);
  assert.throws(() => a.alloc(40000), (e) => e instanceof OffheapError && e.code === 'ERR_OFFHEAP_EXHAUSTED');
  a.destroy();
});

check('ObjectPool: every slot, handles and views, double free refused', () => {
  const p = new ObjectPool({ slotSize: 48, capacity: 256 });
  const hs = [];
  for (let i = 0; i < 256; i++) {
    const h = p.allocHandle();
    p.view(h).writeUInt32LE(i, 0);
    hs.push(h);
  }
  assert.equal(p.tryAllocHandle(), -1);
  hs.forEach((h, i) => assert.equal(p.view(h).readUInt32LE(0), i));
  for (const h of hs) p.freeHandle(h);
  assert.equal(p.live, 0);
  const v = p.alloc();
  v.fill(7);
  p.free(v);
  const h = p.allocHandle();
  p.freeHandle(h);
  assert.throws(() => p.freeHandle(h), (e) => e instanceof OffheapError);
  p.verify();
  p.destroy();
});

check('SlabAllocator: sizes 1 B .. 1 MiB, contents kept, trim', () => {
  const s = new SlabAllocator({ maxBytes: 64 << 20 });
  const held = [];
  for (let size = 1; size <= 1 << 20; size *= 3) {
    const b = s.alloc(size);
    b.fill(size & 0xff);
    held.push([b, size]);
  }
  for (const [b, size] of held) {
    assert.ok(b.every((x) => x === (size & 0xff)));
    s.free(b);
  }
  s.verify();
  s.trim();
  assert.equal(stats().allocators >= 1, true);
  s.destroy();
});

check('ArenaScope: one arena per run, currentArena() across an await', async () => {
  const scope = new ArenaScope({ maxBytes: 1 << 20, keep: 2 });
  const seen = await Promise.all([1, 2, 3].map((i) => scope.run(async (arena) => {
    const b = arena.alloc(8);
    b.writeUInt32LE(i, 0);
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(currentArena(), arena);
    return b.readUInt32LE(0);
  })));
  assert.deepEqual(seen, [1, 2, 3]);
  assert.throws(() => currentArena(), (e) => e.code === 'ERR_OFFHEAP_NO_SCOPE');
  scope.destroy();
});

// A worker attaches to a shared pool and slab, writes through its own
// buffers, and the main thread reads what it wrote.
check('share/attach: a worker writes, the main thread reads', async () => {
  const pool = new ObjectPool({ slotSize: 16, capacity: 64 });
  const slab = new SlabAllocator({ maxBytes: 16 << 20 });
  const workerSrc = `
    const { workerData: w, parentPort } = require('node:worker_threads');
    const o = require(w.dist);
    const pool = o.ObjectPool.attach(w.pool);
    const slab = o.SlabAllocator.attach(w.slab);
    const ph = pool.allocHandle();
    pool.view(ph).writeUInt32LE(0xc0ffee, 0);
    const sh = slab.allocHandle(100);
    slab.view(sh, 100).fill(0x5a);
    parentPort.postMessage({ ph, sh });
    pool.destroy();
    slab.destroy();
  `;
  const { ph, sh } = await new Promise((resolve, reject) => {
    const w = new Worker(workerSrc, { eval: true, workerData: { dist, pool: pool.share(), slab: slab.share() } });
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
  });
  assert.equal(pool.view(ph).readUInt32LE(0), 0xc0ffee);
  assert.ok(slab.view(sh, 100).every((x) => x === 0x5a));
  pool.freeHandle(ph);
  slab.freeHandle(sh);
  assert.equal(pool.live, 0);
  pool.destroy();
  slab.destroy();
});

(async () => {
  let passed = 0;
  let failed = 0;
  for (const { name, fn } of checks) {
    try {
      await fn();
      passed++;
      console.log(`ok   ${name}`);
    } catch (err) {
      failed++;
      console.log(`FAIL ${name}\n    ${String(err && err.stack ? err.stack : err).split('\n').join('\n    ')}`);
    }
  }
  console.log(`smoke: ${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
})();
