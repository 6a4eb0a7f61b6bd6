// Giving an allocator's memory back at the end of a block. `using` is a
// syntax error on Node 20 and 22 without a flag (Node 24 runs it), so this
// file, run by the tests on every Node line, uses try...finally.
import { ObjectPool } from 'offheap';

// Node 24:  using pool = new ObjectPool({ slotSize: 64, capacity: 1024 });
// Node 20 and 22:
const pool = new ObjectPool({ slotSize: 64, capacity: 1024 });
try {
  const h = pool.allocHandle();
  console.log('live', pool.stats().liveCount, 'handle', typeof h);
} finally {
  pool[Symbol.dispose]();   // the same as pool.destroy(): pages back, old views read zeros
}
console.log('destroyed', pool.destroyed);

// Prints:
// live 1 handle number
// destroyed true
