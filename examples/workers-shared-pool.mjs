// A shared pool in workers: the main thread shares an ObjectPool, each worker
// attaches it, allocates slots, writes into them and posts the handles back;
// the main thread reads them and frees them (a free from another thread).
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { ObjectPool } from 'offheap';

if (isMainThread) {
  const pool = new ObjectPool({ slotSize: 64, capacity: 100_000 }); // or new SlabAllocator(...)
  const dv = new DataView(pool.buffer);
  const results = await Promise.all([1, 2].map((id) => new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { pool: pool.share(), id } });
    let sum = 0;
    worker.on('message', (h) => {
      sum += dv.getUint32(h, true);
      pool.freeHandle(h);                     // freed by another thread than its allocator
    });
    worker.on('error', reject);
    worker.on('exit', () => resolve(sum));
  })));
  console.log('sums', results.join(' '), 'live', pool.stats().liveCount);
  pool.destroy();
} else {
  // in the worker:
  const pool = ObjectPool.attach(workerData.pool); // SlabAllocator.attach(...) for a slab
  const dv = new DataView(pool.buffer);           // this thread's view of the same memory
  for (let i = 1; i <= 1000; i++) {
    const h = pool.allocHandle();
    dv.setUint32(h, i * workerData.id, true);
    parentPort.postMessage(h);                    // post the handle (a number), never the view
  }
  pool.destroy();                                 // ends this thread's attachment only
}

// Prints:
// sums 500500 1001000 live 0
