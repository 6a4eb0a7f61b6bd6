// SlabAllocator: mixed sizes from size classes, Buffers or handles, stats per
// class, and trim().
import { SlabAllocator } from 'offheap';

const slab = new SlabAllocator({ maxBytes: 256 * 1024 * 1024, name: 'frames' });

const buf = slab.alloc(300);      // a Buffer of exactly 300 bytes (uninitialised)
buf.write('hello');
slab.free(buf);

const h = slab.allocHandle(100);  // a plain number: a byte offset into slab.buffer
const dv = new DataView(slab.buffer);
dv.setUint32(h, 42, true);
slab.usableSize(h);               // 112: the class it landed in
slab.view(h, 100);                // a Buffer over it when one is needed
console.log('usable', slab.usableSize(h), 'view', slab.view(h, 100).length, 'value', dv.getUint32(h, true));
slab.freeHandle(h);

const row = slab.stats().classes.find((c) => c.size === 112);
console.log('class', row.size, 'objectsPerSlab', row.objectsPerSlab, 'live', row.live);
slab.stats().classes;             // one row per class, like /proc/slabinfo
slab.trim();                      // every empty slab back to the OS

const large = slab.alloc(100_000); // above the largest class: a run of slabs of its own
console.log('large', large.length, 'usable', slab.stats().largeBytes);
slab.free(large);
try { slab.free(large); } catch (e) { console.log(e.code); }
slab.destroy();

// Prints:
// usable 112 view 100 value 42
// class 112 objectsPerSlab 585 live 0
// large 100000 usable 102400
// ERR_OFFHEAP_DOUBLE_FREE
