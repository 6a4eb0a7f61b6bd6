// Compile-time checks of record types (tsc --noEmit, strict): run by
// test/records-types.test.ts. Each `Equal` line fails to compile unless the
// inferred type is exactly the one named; each @ts-expect-error line fails
// the build if the error it expects disappears (e.g. fields inferred as any).
import { Arena, ObjectPool, SlabAllocator, layout, type RecordCursor } from '../../lib/index';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
function check<T extends true>(_: T): void {}

const Pos = layout({ a: 'i16', b: 'f32' });
const Point = layout({ x: 'f64', y: 'f64', id: 'u32', name: 'utf8[24]', rgb: 'u8[3]', big: 'u64', ok: 'bool', pos: Pos, v: 'f32[4]', s: 'i64[2]' });

const pool = new ObjectPool({ layout: Point, capacity: 1000, generational: true });
const p = pool.record();
const h: number = pool.allocHandle();
p.at(h).x = 1.5;

check<Equal<typeof p.x, number>>(true);
check<Equal<typeof p.id, number>>(true);
check<Equal<typeof p.big, bigint>>(true);
check<Equal<typeof p.name, string>>(true);
check<Equal<typeof p.ok, boolean>>(true);
check<Equal<typeof p.rgb, Uint8Array>>(true);
check<Equal<typeof p.v, Float32Array>>(true);
check<Equal<typeof p.s, BigInt64Array>>(true);
check<Equal<typeof p.pos.a, number>>(true);
check<Equal<typeof p.pos.b, number>>(true);
const r = p.at(h);
check<Equal<typeof r.big, bigint>>(true);
check<Equal<typeof p.offset, number>>(true);
check<Equal<ReturnType<typeof p.toObject>['pos'], { a: number; b: number }>>(true);

// @ts-expect-error an unknown field does not compile
p.nope;
// @ts-expect-error nor does writing one
p.z = 1;
// @ts-expect-error a number field takes no string
p.x = 'one';
// @ts-expect-error a bigint field takes no number
p.big = 1;
// @ts-expect-error a string field takes no number
p.name = 5;
// @ts-expect-error unknown nested field
p.pos.c;
// @ts-expect-error offset is read-only
p.offset = 3;

// Cursors of the other allocators infer from the layout they are given.
const slab = new SlabAllocator({});
const s = slab.record(Point);
check<Equal<typeof s.big, bigint>>(true);
const arena = new Arena({ maxBytes: 1 << 20 });
const a = arena.record(Pos);
check<Equal<typeof a.b, number>>(true);
// @ts-expect-error Pos has no x
a.x;

// A pool without a layout takes one in record().
const plain = new ObjectPool({ slotSize: 64, capacity: 10 });
const q: RecordCursor<{ a: 'i16'; b: 'f32' }> = plain.record(Pos);
check<Equal<typeof q.a, number>>(true);

// Bad specs do not compile.
// @ts-expect-error unknown type
layout({ x: 'f65' });
// @ts-expect-error not a type string
layout({ x: 3 });
