// Terminates workers that churn through a shared allocator (magazines
// filling and draining all the time), then checks that no object was lost:
// whatever the dead worker held live is still live and listed by leaks(),
// every other object can be allocated again. Run in a child process by
// test/shared-allocators.test.ts:
//   node terminate-while-freeing.cjs <lib dir> <ObjectPool|SlabAllocator> <rounds>
// Prints one JSON line per round, then {"done":true,...}.
'use strict';
const { Worker } = require('node:worker_threads');

const [lib, kind, roundsArg = '6'] = process.argv.slice(2);
const offheap = require(lib + '/index.js');
const SIZE = 64;
const CAPACITY = kind === 'ObjectPool' ? 4096 : (8 << 20) / SIZE;
const a = kind === 'ObjectPool'
  ? new offheap.ObjectPool({ slotSize: SIZE, capacity: CAPACITY })
  : new offheap.SlabAllocator({ maxBytes: 8 << 20, retainEmptySlabs: 1000 });
const alloc = kind === 'ObjectPool' ? () => a.tryAllocHandle() : () => {
  try {
    return a.allocHandle(SIZE);
  } catch (e) {
    if (e.code === 'ERR_OFFHEAP_EXHAUSTED') return -1;
    throw e;
  }
};

const WORKER = `
const { workerData: w, parentPort } = require('node:worker_threads');
const a = require(w.lib + '/index.js')[w.kind].attach(w.descriptor);
const alloc = w.kind === 'ObjectPool' ? () => a.allocHandle() : () => a.allocHandle(${SIZE});
const hs = new Int32Array(1000);
parentPort.postMessage('go');
for (;;) {
  for (let i = 0; i < hs.length; i++) hs[i] = alloc();
  for (let i = 0; i < hs.length; i++) a.freeHandle(hs[i]);
}`;

async function round(delayMs) {
  const worker = new Worker(WORKER, { eval: true, workerData: { lib, kind, descriptor: a.share() } });
  await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await new Promise((r) => setTimeout(r, delayMs));
  await worker.terminate();
  const leaks = a.leaks();
  const live = a.stats().liveCount;
  for (const l of leaks) a.freeHandle(l.offset);
  a.verify();
  return { leaks: leaks.length, live, after: a.stats().liveCount };
}

(async () => {
  const rounds = Number(roundsArg);
  for (let r = 0; r < rounds; r++) console.log(JSON.stringify(await round(3 + r * 5)));
  const all = [];
  for (let h; (h = alloc()) >= 0;) all.push(h);
  const distinct = new Set(all).size;
  for (const h of all) a.freeHandle(h);
  a.verify();
  console.log(JSON.stringify({ done: true, allocated: all.length, distinct, capacity: CAPACITY }));
  a.destroy();
})().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(2);
});
