// ObjectPool against its peers, ratios measured in the same run.
import { ObjectPool } from 'offheap';
import { compare, consume } from '../harness.mjs';
import { JsFreeList, thingPool } from '../peers.mjs';

export default async function pool() {
  const groups = [];
  const release = new ObjectPool({ slotSize: 64, capacity: 1 << 16, name: 'bench' });
  const debug = new ObjectPool({ slotSize: 64, capacity: 1 << 16, debug: { leaks: 'off' }, name: 'bench-debug' });
  const js = new JsFreeList(64, 1 << 16);
  const thing = thingPool(1 << 24);
  groups.push(await compare('Fixed-size churn, 64 B: alloc + free pair (handles)', [
    { name: 'JsFreeList (Int32Array)', peer: true, run: (n) => { for (let i = 0; i < n; i++) { const h = js.alloc(); consume(h); js.freeSlot(h); } } },
    { name: 'ObjectPool allocHandle+freeHandle', run: (n) => { for (let i = 0; i < n; i++) { const h = release.allocHandle(); consume(h); release.freeHandle(h); } } },
    { name: '@thi.ng/malloc malloc+free', peer: true, run: (n) => { for (let i = 0; i < n; i++) { const h = thing.malloc(64); consume(h); thing.free(h); } } },
    { name: 'ObjectPool debug mode', run: (n) => { for (let i = 0; i < n; i++) { const h = debug.allocHandle(); consume(h); debug.freeHandle(h); } } },
  ], { ops: 1_000_000, baseline: 'JsFreeList (Int32Array)' }));
  groups.push(await compare('Fixed-size churn, 64 B: a Buffer per allocation', [
    { name: 'Buffer.allocUnsafe(64)', peer: true, run: (n) => { for (let i = 0; i < n; i++) consume(Buffer.allocUnsafe(64).length); } },
    { name: 'ObjectPool alloc()+free()', run: (n) => { for (let i = 0; i < n; i++) { const b = release.alloc(); consume(b.length); release.free(b); } } },
  ], { ops: 300_000, baseline: 'Buffer.allocUnsafe(64)' }));
  return { groups };
}
