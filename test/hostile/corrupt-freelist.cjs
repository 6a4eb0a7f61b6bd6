// Corrupts the free-list links of free slots through `buffer`, then
// allocates; run in a child process by test/hostile.test.ts.
//   node corrupt-freelist.cjs <ObjectPool|SlabAllocator> <seed> <debug:0|1>
// The free slots' first words (where a free slot keeps the 32-bit index of
// the next) get hostile values: out of range, self loops, and the indices of
// LIVE slots (the worst case: following it would hand a live slot out
// twice). Allocation must then throw a typed error (ERR_OFFHEAP_CORRUPTED,
// or ERR_OFFHEAP_USE_AFTER_FREE in debug mode, whose poison check sees the
// write first) and never hand out a live slot, write outside the slots or
// crash. Afterwards the allocator must still work: every handle distinct,
// the live slots' bytes intact, verify() clean. Prints one JSON line.
'use strict';
const offheap = require('../../dist/cjs/index.js');

const [kind, seedArg = '1', debugArg = '0'] = process.argv.slice(2);
const debug = debugArg === '1';
let state = Number(seedArg) >>> 0 || 1;
function rand(n) {
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return state % n;
}

const SIZE = 64;
const COUNT = 3000;
const a = kind === 'ObjectPool'
  ? new offheap.ObjectPool({ slotSize: SIZE, capacity: COUNT + 200, debug })
  : new offheap.SlabAllocator({ maxBytes: 8 << 20, slabBytes: 64 << 10, retainEmptySlabs: 100, debug });
const alloc = () => (kind === 'ObjectPool' ? a.allocHandle() : a.allocHandle(SIZE));
const bytes = () => new Uint8Array(a.buffer);
const words = () => new DataView(a.buffer);
const TYPED = debug ? ['ERR_OFFHEAP_CORRUPTED', 'ERR_OFFHEAP_USE_AFTER_FREE'] : ['ERR_OFFHEAP_CORRUPTED'];
const out = { kind, debug, corruptedErrors: 0, otherTypedErrors: 0, allocated: 0, scribbled: 0 };

function fail(msg) {
  console.error(msg);
  process.exit(2);
}

// Live slots keep a pattern: a wild write or a slot handed out twice shows up there.
const live = new Map();
function fill(h, id) {
  const b = bytes();
  for (let j = 0; j < SIZE; j++) b[h + j] = (id * 13 + j) & 255;
  live.set(h, id);
}
function checkLive() {
  const b = bytes();
  for (const [h, id] of live) {
    for (let j = 0; j < SIZE; j++) if (b[h + j] !== ((id * 13 + j) & 255)) fail(`live slot ${h} byte ${j} was overwritten`);
  }
}

let ids = 0;
const handles = [];
for (let i = 0; i < COUNT; i++) handles.push(alloc());
// Free most of them (the free lists fill up behind the magazines); keep every 7th live.
const freed = [];
for (const h of handles) {
  if (rand(7) === 0) fill(h, ids++);
  else {
    a.freeHandle(h);
    freed.push(h);
  }
}
const liveList = [...live.keys()];
const index = (h) => (kind === 'ObjectPool' ? h / a.slotSize : h >>> 4); // a plausible "next" word
for (const h of freed) {
  const w = words();
  const v = [0xFFFFFFFE, 0x7FFFFFFF, COUNT * 100, index(h), index(pick(liveList)), pick(liveList), rand(2 ** 32)][rand(7)];
  w.setUint32(h, v >>> 0, true);
  if (rand(2)) w.setUint32(h + 4, rand(2 ** 32), true); // a 64-bit reading of the link sees garbage too
  out.scribbled++;
}
function pick(xs) {
  return xs[rand(xs.length)];
}

// Allocate everything back: errors must be typed, handles never live ones.
// (twice as many as were freed: the allocator walks every free list it has)
for (let i = 0; i < COUNT * 3 && out.allocated < freed.length * 2; i++) {
  let h;
  try {
    h = alloc();
  } catch (e) {
    if (TYPED.includes(e.code)) out.corruptedErrors++;
    else if (e instanceof offheap.OffheapError && e.code === 'ERR_OFFHEAP_EXHAUSTED') break;
    else fail(`unexpected error: ${e && e.code} ${e && e.message}`);
    continue;
  }
  if (live.has(h)) fail(`handle ${h} handed out while live`);
  fill(h, ids++);
  out.allocated++;
}
checkLive();
// Still usable: free and allocate again, then a clean verify.
for (const h of [...live.keys()]) {
  a.freeHandle(h);
  live.delete(h);
}
for (let i = 0; i < 500; i++) {
  try {
    const h = alloc();
    if (live.has(h)) fail(`handle ${h} handed out twice after repair`);
    fill(h, ids++);
  } catch (e) {
    if (!(e instanceof offheap.OffheapError)) fail(`untyped error after repair: ${e}`);
    out.otherTypedErrors++;
  }
}
checkLive();
out.verifyErrors = 0;
for (let k = 0; k < 2; k++) {
  try {
    a.verify();
  } catch (e) {
    if (!TYPED.includes(e.code)) fail(`unexpected verify error: ${e}`);
    out.verifyErrors++;
  }
}
// The pool rebuilds its free lists from the state table when a walk finds a bad link:
// the second walk is clean. (The slab reports a bad link that stays unreached each time.)
if (kind === 'ObjectPool' && out.verifyErrors > 1) fail('verify() did not repair the pool');
const liveCount = kind === 'ObjectPool' ? a.live : a.stats().liveCount;
if (liveCount !== live.size) fail(`live ${liveCount}, expected ${live.size}`);
a.destroy();
console.log(JSON.stringify(out));
