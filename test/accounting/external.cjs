// What V8 counts as external memory, and so schedules GCs by, while arenas
// live, make views and are created and destroyed; run in a child
// process by test/accounting.test.ts (node --expose-gc external.cjs), so no
// other suite's buffers move the count. Every figure is a byte count or a
// count of events, never a time. Prints one JSON line.
'use strict';
const { PerformanceObserver, constants } = require('node:perf_hooks');
const { Arena, ArenaScope, ObjectPool, SlabAllocator } = require('../../dist/cjs/index.js');
const { native } = require('../../dist/cjs/native.js');

const MiB = 1 << 20;
const external = () => native.v8ExternalMemory();
const reserved = () => native.reservedBytes();

/** Full GCs, then the turns of the event loop in which N-API finalizers run. */
async function collect() {
  for (let i = 0; i < 4; i++) {
    global.gc();
    await new Promise((r) => setImmediate(r));
  }
}

/** Views in four windows and, with `large`, one larger than a window (a slice of its own). */
function viewsOf(a, large = true) {
  for (let i = 0; i < 8; i++) a.alloc(12 * 1024);
  if (large) a.alloc(40 * 1024);
}

async function main() {
  const out = {};
  let majors = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++;
  }).observe({ entryTypes: ['gc'] });

  await collect();
  const ext0 = external();
  const res0 = reserved();

  // Live arenas with views: V8 counts their windows, not (until `buffer` is read) their regions.
  const arenas = [];
  for (let i = 0; i < 40; i++) {
    const a = new Arena({ maxBytes: 16 * MiB });
    viewsOf(a);
    arenas.push(a);
  }
  out.arenasReserved = reserved() - res0;
  out.arenasExternal = external() - ext0;
  // Reading `buffer` makes the region's ArrayBuffer: V8 now counts each reservation once.
  const extRead = external();
  for (const a of arenas) void a.buffer.byteLength;
  out.buffersExternal = external() - extRead;
  for (const a of arenas) a.destroy();
  arenas.length = 0;
  await collect();

  // One arena filled to its end with views of every size up to 8 KiB: its windows cover the whole region.
  {
    const ext = external();
    const res = reserved();
    const a = new Arena({ maxBytes: 16 * MiB });
    let views = 0;
    for (let n = 16; a.used + n <= 16 * MiB; n = n >= 8192 ? 16 : n * 2) {
      a.alloc(n);
      views++;
    }
    out.fullViews = views;
    out.fullReserved = reserved() - res;
    out.fullExternal = external() - ext;
    a.destroy();
    await collect();
  }

  // Fresh arenas created and destroyed in a loop, views and all.
  await collect();
  majors = 0;
  const ext2 = external();
  let peak = 0;
  for (let i = 0; i < 2000; i++) {
    const a = new Arena({ maxBytes: 16 * MiB });
    viewsOf(a);
    a.destroy();
    peak = Math.max(peak, external() - ext2);
  }
  out.cyclesPeakExternal = peak;
  // The observer hears of the loop's GCs asynchronously.
  await new Promise((r) => setTimeout(r, 100));
  out.cyclesMajorGCs = majors;
  await collect();

  // A scope's arenas lent and given back many times: their windows are made once.
  const scope = new ArenaScope({ maxBytes: 16 * MiB, keep: 4 });
  const ext3 = external();
  for (let i = 0; i < 2000; i++) scope.run((a) => viewsOf(a, false));
  out.scopeExternal = external() - ext3;
  scope.destroy();

  await collect();

  // A pool (slots of 200 B) and a slab allocator, each of about 16 MiB: counted
  // for nothing but their small tables until views are made, then for the
  // windows those sit on (at most the region), then once more for `buffer`.
  for (const [key, make, each] of [
    ['pool', () => new ObjectPool({ slotSize: 200, capacity: Math.floor((16 * MiB) / 200) }), (a) => a.alloc()],
    ['slab', () => new SlabAllocator({ maxBytes: 16 * MiB }), (a, i) => a.alloc(16 << (i % 9))],
  ]) {
    const ext = external();
    const res = reserved();
    const a = make();
    // Sharing needs no ArrayBuffer over the region either (attach() finds it by id).
    a.share();
    out[`${key}Reserved`] = reserved() - res;
    out[`${key}CreatedExternal`] = external() - ext;
    const views = [];
    try {
      for (let i = 0; ; i++) views.push(each(a, i));
    } catch (e) {
      if (e.code !== 'ERR_OFFHEAP_EXHAUSTED') throw e;
    }
    out[`${key}Views`] = views.length;
    out[`${key}ViewsExternal`] = external() - ext;
    out[`${key}BufferBytes`] = a.buffer.byteLength;
    out[`${key}BufferExternal`] = external() - ext;
    views.length = 0;
    a.destroy();
    await collect();
  }
  out.afterExternal = external() - ext0;
  out.afterReserved = reserved() - res0;
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
