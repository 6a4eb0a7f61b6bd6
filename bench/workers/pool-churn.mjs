// A worker of the pool suite: attaches the shared pool, then runs
// allocHandle + freeHandle pairs whenever asked ({ ops }), or the same pairs
// on a private pure-JS free list ({ ops, control: true }: what two threads
// can gain on this machine at all), and answers when done.
import { parentPort, workerData } from 'node:worker_threads';
import { ObjectPool } from 'offheap';
import { JsFreeList } from '../peers.mjs';

const pool = ObjectPool.attach(workerData);
const js = new JsFreeList(64, 1 << 16);

function poolPairs(ops) {
  let sink = 0;
  for (let i = 0; i < ops; i++) {
    const h = pool.allocHandle();
    sink = (sink + h) | 0;
    pool.freeHandle(h);
  }
  return sink;
}

function jsPairs(ops) {
  let sink = 0;
  for (let i = 0; i < ops; i++) {
    const h = js.alloc();
    sink = (sink + h) | 0;
    js.freeSlot(h);
  }
  return sink;
}

parentPort.on('message', (msg) => {
  if (msg === 'close') {
    pool.destroy();
    parentPort.close();
    return;
  }
  parentPort.postMessage(msg.control ? jsPairs(msg.ops) : poolPairs(msg.ops));
});
