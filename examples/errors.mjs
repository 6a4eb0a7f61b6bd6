// Errors: misuse throws OffheapError with a stable code; wrong argument types
// and ranges throw Node-style TypeError / RangeError.
import { ObjectPool, OffheapError, currentArena } from 'offheap';

const pool = new ObjectPool({ slotSize: 32, capacity: 4, name: 'sessions' });
const h = pool.allocHandle();
pool.freeHandle(h);
try {
  pool.freeHandle(h);
} catch (err) {
  if (!(err instanceof OffheapError)) throw err;
  console.log(err.code);              // switch on the code, not the message
  console.log(err.message.startsWith('sessions: offset 0')); // the allocator's name and the offset
}

for (const bad of [
  () => new ObjectPool({ slotSize: '32', capacity: 4 }),   // a string
  () => new ObjectPool({ slotSize: 32, capacity: -1 }),    // out of range
  () => new ObjectPool({ slotSize: 32, capacity: 4, capcity: 8 }), // a typo
  () => currentArena(),                                   // outside ArenaScope.run()
]) {
  try { bad(); } catch (err) { console.log(err.name, err.code); }
}
pool.destroy();

// Prints:
// ERR_OFFHEAP_DOUBLE_FREE
// true
// TypeError ERR_INVALID_ARG_TYPE
// RangeError ERR_OUT_OF_RANGE
// TypeError ERR_INVALID_ARG_TYPE
// OffheapError ERR_OFFHEAP_NO_SCOPE
