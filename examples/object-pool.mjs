// ObjectPool: options, handles, Buffers over slots, and the guards that are
// always on.
import { ObjectPool } from 'offheap';

const pool = new ObjectPool({ slotSize: 24, capacity: 1_000_000, name: 'points' });
console.log(pool.name, 'slotSize', pool.slotSize, 'capacity', pool.stats().capacity);

const h = pool.allocHandle();  // a byte offset into pool.buffer
const buf = pool.alloc();   // a real Buffer of pool.slotSize bytes over the slot
buf.write('hello');
pool.view(h);               // a Buffer over a live handle's slot
console.log('view', pool.view(h).length, 'live', pool.stats().liveCount);
pool.free(buf);             // any Buffer from alloc() or view(), or one you made over exactly one slot

// The guards: each throws at the call, with a stable code.
pool.freeHandle(h);
for (const misuse of [
  () => pool.freeHandle(h),          // a second free
  () => pool.freeHandle(h + 1),      // not a slot start
  () => pool.freeHandle(1 << 30),    // out of range
]) {
  try { misuse(); } catch (e) { console.log(e.code); }
}

const small = new ObjectPool({ slotSize: 8, capacity: 2 });
small.allocHandle(); small.allocHandle();
console.log('full', small.tryAllocHandle());       // -1; allocHandle() throws ERR_OFFHEAP_EXHAUSTED
try { small.allocHandle(); } catch (e) { console.log(e.code); }
small.destroy();
try { small.allocHandle(); } catch (e) { console.log(e.code); }

pool.verify();                                     // walks the state table and the free list
console.log('verified, live', pool.stats().liveCount);
pool.destroy();

// Prints:
// points slotSize 24 capacity 1000000
// view 24 live 2
// ERR_OFFHEAP_DOUBLE_FREE
// ERR_OFFHEAP_INVALID_HANDLE
// ERR_OFFHEAP_INVALID_HANDLE
// full -1
// ERR_OFFHEAP_EXHAUSTED
// ERR_OFFHEAP_DESTROYED
// verified, live 0
