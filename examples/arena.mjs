// Arena: allocation, marks, scopes, cleanups and reset.
import { Arena } from 'offheap';

const arena = new Arena({ maxBytes: 64 * 1024 * 1024 }); // reserves address space, uses no memory yet
const header = arena.alloc(64);                 // a real Buffer, uninitialised (like Buffer.allocUnsafe)
const zeroed = arena.allocZeroed(256, 64);      // 256 zero bytes aligned to 64
const h = arena.allocHandle(32);                // an offset into arena.buffer: no JS object at all
new DataView(arena.buffer).setUint32(h, 42, true);
console.log('used', arena.used, 'zeroed', zeroed.every((b) => b === 0), header.length);

const m = arena.mark();
const tmp = arena.alloc(4096);
arena.rollback(m);                              // frees tmp (and anything after m)
console.log('after rollback', arena.used, tmp.length);

const sum = arena.scope((a) => {                // rolled back when fn returns or throws,
  const scratch = a.alloc(1024);                //   or once its promise settles if it is async
  return scratch.length;
});
console.log('scope returned', sum, 'used', arena.used);

const socket = { destroy: () => console.log('cleanup ran') };
arena.defer(() => socket.destroy());            // runs at the next reset() or destroy()
arena.reset();                                  // O(1), keeps the pages for reuse
arena.reset({ retainBytes: 1 << 20 });          // keeps 1 MiB of pages, returns the rest to the OS
console.log('after reset', arena.used, arena.stats().liveCount);
arena.destroy();                                // pages back now; old views read zeros
console.log('after destroy', header.every((b) => b === 0), arena.destroyed);

// Prints:
// used 352 zeroed true 64
// after rollback 352 4096
// scope returned 1024 used 352
// cleanup ran
// after reset 0 0
// after destroy true true
