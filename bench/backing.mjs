// What the backing changes, measured for the backing in use (docs/platforms.md):
//   node --expose-gc bench/backing.mjs                       external backing
//   OFFHEAP_BACKING=v8 node --expose-gc bench/backing.mjs    v8 backing
// Prints one line per figure: allocation speed of each allocator, the cost
// of making one, resident memory given back by destroy() (and after GC), and
// the cost of structuredClone() of a 16-byte view. Figures vary with the
// machine and its load: compare the two backings in one sitting.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const o = require('../dist/cjs/index.js');
const MiB = 1 << 20;
const gc = globalThis.gc ?? (() => { throw new Error('run with --expose-gc'); });
const rss = () => process.memoryUsage().rss;
const line = (what, value) => console.log(`${o.backing.padEnd(8)} ${what.padEnd(58)} ${value}`);

function nsPerOp(ops, fn) {
  fn(Math.min(ops, 10000)); // warm up
  const t0 = process.hrtime.bigint();
  fn(ops);
  return Number(process.hrtime.bigint() - t0) / ops;
}

// Allocation speed.
{
  const a = new o.Arena({ maxBytes: 64 * MiB });
  line('Arena alloc(64) (reset every 100k), ns/op', nsPerOp(2e6, (n) => {
    for (let i = 0; i < n; i++) { if (i % 100000 === 0) a.reset(); a.alloc(64); }
  }).toFixed(1));
  a.destroy();
  const p = new o.ObjectPool({ slotSize: 64, capacity: 1 << 16 });
  line('ObjectPool alloc()+free(), ns/op', nsPerOp(2e6, (n) => { for (let i = 0; i < n; i++) p.free(p.alloc()); }).toFixed(1));
  p.destroy();
  const s = new o.SlabAllocator({ maxBytes: 256 * MiB });
  line('SlabAllocator alloc(64)+free(), ns/op', nsPerOp(2e6, (n) => { for (let i = 0; i < n; i++) s.free(s.alloc(64)); }).toFixed(1));
  s.destroy();
}

// Making one.
for (const [what, make] of [
  ['new Arena({ maxBytes: 1 GiB }) + destroy(), us', () => new o.Arena({ maxBytes: 1024 * MiB })],
  ['new SlabAllocator({ maxBytes: 1 GiB }) + destroy(), us', () => new o.SlabAllocator({ maxBytes: 1024 * MiB })],
]) {
  const n = 200;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) make().destroy();
  line(what, (Number(process.hrtime.bigint() - t0) / n / 1000).toFixed(1));
  gc();
}

// Resident memory given back.
for (const [what, fill] of [
  ['Arena', () => { const a = new o.Arena({ maxBytes: 512 * MiB }); a.alloc(256 * MiB).fill(1); return a; }],
  ['ObjectPool', () => { const p = new o.ObjectPool({ slotSize: 4096, capacity: 65536 }); for (let i = 0; i < 65536; i++) p.alloc().fill(1); return p; }],
]) {
  gc();
  const base = rss();
  let x = fill();
  const full = rss();
  x.destroy();
  const afterDestroy = rss();
  x = null;
  for (let i = 0; i < 5; i++) { gc(); await new Promise((r) => setImmediate(r)); }
  const afterGc = rss();
  line(`${what} 256 MiB touched: MiB resident / after destroy() / after GC`,
    `${((full - base) / MiB).toFixed(0)} / ${((afterDestroy - base) / MiB).toFixed(0)} / ${((afterGc - base) / MiB).toFixed(0)}`);
}

// structuredClone of a 16-byte view: what a clone carries.
for (const [what, make] of [
  ['Arena (maxBytes 64 MiB)', () => { const a = new o.Arena({ maxBytes: 64 * MiB }); return [a, a.alloc(16)]; }],
  ['ObjectPool', () => { const p = new o.ObjectPool({ slotSize: 16, capacity: 1 << 16 }); return [p, p.alloc()]; }],
  ['SlabAllocator', () => { const s = new o.SlabAllocator({ maxBytes: 64 * MiB }); return [s, s.alloc(16)]; }],
]) {
  const [x, v] = make();
  const n = what.startsWith('Arena') && o.backing === 'v8' ? 20 : 2000;
  let carried = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) carried = structuredClone(v).buffer.byteLength;
  line(`structuredClone(16-byte view) of ${what}: us, bytes carried`,
    `${(Number(process.hrtime.bigint() - t0) / n / 1000).toFixed(1)} us, ${carried}`);
  x.destroy();
  gc();
}
