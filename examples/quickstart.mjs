// The first example of the README: one of each allocator, and a typed error.
import { Arena, ObjectPool, SlabAllocator, OffheapError } from 'offheap'; // or require('offheap')

// Per-request scratch: bump allocation, freed all at once.
const arena = new Arena({ maxBytes: 64 << 20 });   // reserves address space, no memory yet
const header = arena.alloc(64);                     // a real Buffer (Buffer.isBuffer: true)
console.log('arena', Buffer.isBuffer(header), arena.used);
arena.reset();                                      // O(1)

// Millions of fixed-size records off the V8 heap: handles are byte offsets.
const points = new ObjectPool({ slotSize: 16, capacity: 1_000_000 });
const dv = new DataView(points.buffer);
const p = points.allocHandle();
dv.setFloat64(p, 1.5, true); dv.setFloat64(p + 8, -2, true);
console.log('point', dv.getFloat64(p, true), dv.getFloat64(p + 8, true));
points.freeHandle(p);

// Mixed sizes from size classes; memory goes back to the OS.
const slab = new SlabAllocator({ maxBytes: 256 << 20 });
const body = slab.alloc(300);                       // a Buffer of 300 bytes in the 320-byte class
console.log('slab', body.length, slab.stats().liveBytes);
slab.free(body);
slab.trim();

try { points.freeHandle(p); } catch (e) {           // no crash: a typed error
  console.log(e instanceof OffheapError, e.code);   // true 'ERR_OFFHEAP_DOUBLE_FREE'
}

for (const a of [arena, points, slab]) a.destroy();

// Prints:
// arena true 64
// point 1.5 -2
// slab 300 320
// true ERR_OFFHEAP_DOUBLE_FREE
