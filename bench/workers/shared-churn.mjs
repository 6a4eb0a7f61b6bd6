// The worker of the thread groups (bench/threads.mjs): attaches the shared
// allocator it is given (workerData.kind: 'ObjectPool' or 'SlabAllocator')
// and, when asked ({ ops }), runs the churn on a live set of its own: free
// one of LIVE handles, allocate one in its place (a pool's one slot size, a
// slab's sizes from the op table). { ops, control: true } runs the same churn
// on a private pure-JS free list: no sharing, no native code, so it shows
// what a second thread gains on this machine right now. 'close' ends it.
import { parentPort, workerData } from 'node:worker_threads';
import * as offheap from 'offheap';
import { JsFreeList } from '../peers.mjs';

const { kind, descriptor, table, live: LIVE, offset } = workerData;
const ops = new Uint32Array(table);  // index into the live set | size << 10
const mask = ops.length - 1;
const a = offheap[kind].attach(descriptor);
const pool = kind === 'ObjectPool';
const live = new Int32Array(LIVE);
for (let i = 0; i < LIVE; i++) live[i] = pool ? a.allocHandle() : a.allocHandle(ops[i] >>> 10);
const js = new JsFreeList(16, 2 * LIVE);
const jsLive = new Int32Array(LIVE);
for (let i = 0; i < LIVE; i++) jsLive[i] = js.alloc();
let at = offset;

function poolChurn(n) {
  for (let i = 0; i < n; i++, at++) {
    const j = ops[at & mask] & (LIVE - 1);
    a.freeHandle(live[j]);
    live[j] = a.allocHandle();
  }
}

function slabChurn(n) {
  for (let i = 0; i < n; i++, at++) {
    const o = ops[at & mask];
    const j = o & (LIVE - 1);
    a.freeHandle(live[j]);
    live[j] = a.allocHandle(o >>> 10);
  }
}

function jsChurn(n) {
  for (let i = 0; i < n; i++, at++) {
    const j = ops[at & mask] & (LIVE - 1);
    js.freeSlot(jsLive[j]);
    jsLive[j] = js.alloc();
  }
}

parentPort.on('message', (msg) => {
  if (msg === 'close') {
    for (const h of live) a.freeHandle(h);
    a.destroy();
    parentPort.close();
    return;
  }
  if (msg.control) jsChurn(msg.ops);
  else if (pool) poolChurn(msg.ops);
  else slabChurn(msg.ops);
  parentPort.postMessage(at);
});
