// Debug guards: poisoning, red zones, stale views and leak reports.
// OFFHEAP_DEBUG=1 in the environment turns them on for every allocator.
import { Arena, ObjectPool, SlabAllocator } from 'offheap';

// A write past the end of a slab allocation lands in its red zone.
const slab = new SlabAllocator({ debug: true, name: 'bodies' });
const body = slab.alloc(100);
new Uint8Array(slab.buffer)[body.byteOffset + 100] = 1; // one byte too far (body.buffer is its own in debug mode)
try { slab.free(body); } catch (e) { console.log(e.code); }

// A write after free is found when the slot is handed out again, or by verify().
const pool = new ObjectPool({ slotSize: 64, capacity: 16, debug: { leaks: 'paranoid' }, name: 'sessions' });
const h = pool.allocHandle();
pool.freeHandle(h);
new DataView(pool.buffer).setUint32(h + 8, 7, true);     // the bug
try { pool.verify(); } catch (e) { console.log(e.code, 'offset', e.offset); }

// A stale view is detached rather than left aliasing reused memory.
const buf = pool.alloc();
pool.free(buf);
console.log('stale view length', buf.length);

// leaks() lists what is still live, with the allocation stack.
pool.allocHandle();
const [leak] = pool.leaks();
console.log('leak size', leak.size, 'stack kept', typeof leak.stack === 'string');

const arena = new Arena({ maxBytes: 1 << 20, debug: true });
const scratch = arena.alloc(32);
arena.reset();
console.log('arena view after reset', scratch.length);
for (const a of [slab, pool, arena]) a.destroy();

// Prints:
// ERR_OFFHEAP_OVERFLOW
// ERR_OFFHEAP_USE_AFTER_FREE offset 0
// stale view length 0
// leak size 64 stack kept true
// arena view after reset 0
