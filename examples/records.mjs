// Records: a layout gives a handle typed fields (like a C struct), and one
// reusable cursor reads and writes them with typed-array loads and stores.
// A million records live off the V8 heap: no JS object per record, no GC.
import { Arena, ObjectPool, OffheapError, SlabAllocator, layout } from 'offheap';

const Vec2 = layout({ x: 'f32', y: 'f32' });
const User = layout({
  id: 'u32',
  score: 'f64',
  name: 'utf8[24]',    // at most 24 UTF-8 bytes
  rgb: 'u8[3]',        // a Uint8Array view of 3 bytes
  visits: 'u64',       // a bigint
  admin: 'bool',
  pos: Vec2,           // a nested layout
});
console.log(`User: ${User.size} bytes, align ${User.align}, name at ${User.offsetOf('name')}, pos.y at ${User.offsetOf('pos.y')}`);

const users = new ObjectPool({ layout: User, capacity: 1_000_000 });
const u = users.record(); // one cursor, reused for every record

const handles = new Int32Array(1_000_000);
for (let i = 0; i < handles.length; i++) {
  const h = users.allocHandle();
  handles[i] = h;
  const r = u.at(h);
  r.id = i;
  r.score = i / 2;
  r.visits = 0n;
  r.admin = false;
}

u.at(handles[42]);
u.name = 'Ada Lovelace';
u.rgb = [255, 128, 0];
u.pos = { x: 1.5, y: -2 };
u.visits += 1n;
console.log(`record 42: ${u.name}, score ${u.score}, rgb ${u.rgb.join(',')}, visits ${u.visits}, pos ${u.pos.x},${u.pos.y}`);

let total = 0;
for (let i = 0; i < handles.length; i++) total += u.at(handles[i]).score;
console.log(`sum of 1M scores: ${total}`);

// A string longer than its field is a RangeError: nothing is cut.
u.at(handles[42]);
try {
  u.name = 'Augusta Ada King, Countess of Lovelace';
} catch (e) {
  console.log(`${e.name} ${e.code}; name still ${u.name}`);
}

// A freed handle is caught by at(), in release mode.
users.freeHandle(handles[7]);
try {
  u.at(handles[7]);
} catch (e) {
  console.log(`${e instanceof OffheapError} ${e.code}`);
}

// generational: true also catches a handle whose slot was freed and reused.
const pool = new ObjectPool({ layout: User, capacity: 1000, generational: true });
const p = pool.record();
const old = pool.allocHandle();
const offset = pool.offsetOf(old); // its byte offset in pool.buffer
pool.freeHandle(old);
const fresh = pool.allocHandle(); // the same slot again
console.log(`same slot: ${pool.offsetOf(fresh) === offset}, handles differ: ${old !== fresh}`);
try {
  p.at(old);
} catch (e) {
  console.log(e.code);
}
try {
  pool.freeHandle(old);
} catch (e) {
  console.log(e.code);
}
console.log(`generation bits: ${pool.generationBits}`);

// Cursors over the other allocators' handles.
const slab = new SlabAllocator();
const s = slab.record(User);
const sh = slab.allocHandle(User.size);
s.at(sh).id = 1;
const arena = new Arena({ maxBytes: 1 << 20 });
const a = arena.record(Vec2);
const ah = arena.allocHandle(Vec2.size, Vec2.align);
a.at(ah).x = 3;
arena.reset();
try {
  a.at(ah);
} catch (e) {
  console.log(`arena after reset: ${e.code}`);
}
console.log(`slab record: id ${s.id}`);

for (const x of [users, pool, slab, arena]) x.destroy();

// Prints:
// User: 72 bytes, align 8, name at 16, pos.y at 64
// record 42: Ada Lovelace, score 21, rgb 255,128,0, visits 1, pos 1.5,-2
// sum of 1M scores: 249999750000
// RangeError ERR_OUT_OF_RANGE; name still Ada Lovelace
// true ERR_OFFHEAP_USE_AFTER_FREE
// same slot: true, handles differ: true
// ERR_OFFHEAP_USE_AFTER_FREE
// ERR_OFFHEAP_DOUBLE_FREE
// generation bits: 16
// arena after reset: ERR_OFFHEAP_USE_AFTER_FREE
// slab record: id 1
