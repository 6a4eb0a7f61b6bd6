// Records in a pool: a million 24-byte records (two doubles and a uint32) in
// ObjectPool slots, read and written through a DataView; the handles are
// numbers, so the V8 heap holds no object per record.
import { ObjectPool } from 'offheap';

const X = 0, Y = 8, ID = 16; // a 24-byte record: two doubles and a uint32
const pool = new ObjectPool({ slotSize: 24, capacity: 1_000_000, name: 'points' });
const dv = new DataView(pool.buffer);

function point(x, y, id) {
  const h = pool.allocHandle(); // ERR_OFFHEAP_EXHAUSTED when full; tryAllocHandle() returns -1
  dv.setFloat64(h + X, x, true);
  dv.setFloat64(h + Y, y, true);
  dv.setUint32(h + ID, id, true);
  return h;
}
const h = point(1.5, 2.5, 7);
console.log('y', dv.getFloat64(h + Y, true)); // 2.5
pool.freeHandle(h);         // the handle is dead from here on

// A million of them, their handles in one Int32Array.
const handles = new Int32Array(1_000_000);
for (let i = 0; i < handles.length; i++) handles[i] = point(i, -i, i);
let sum = 0;
for (const p of handles) sum += dv.getUint32(p + ID, true);
console.log('live', pool.stats().liveCount, 'sum of ids', sum);
for (const p of handles) pool.freeHandle(p);
console.log('live after free', pool.stats().liveCount);
pool.destroy();

// Prints:
// y 2.5
// live 1000000 sum of ids 499999500000
// live after free 0
