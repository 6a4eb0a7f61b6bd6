// Records: layout() placement and its errors, cursors over every allocator
// (each field type, bytes checked through a DataView, little-endian), the
// release-mode liveness check of at(), and generational handles (stale after
// reuse, the exact wrap-around, shared between threads).
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { layout, makeCursor } from '../lib/layout';
import { ObjectPool } from '../lib/object-pool';
import { SlabAllocator } from '../lib/slab';
import { Arena } from '../lib/arena';
import { OffheapError } from '../lib/errors';
import { expectCode } from './helpers';
import { workerLib } from './worker-lib';

const Pos = layout({ a: 'i16', b: 'f32' });
const Point = layout({
  x: 'f64', y: 'f64', id: 'u32', name: 'utf8[24]', rgb: 'u8[3]', big: 'u64', ok: 'bool', pos: Pos,
  i8: 'i8', i16: 'i16', i32: 'i32', f32: 'f32', u16: 'u16', s64: 'i64', pair: 'f64[2]',
});

describe('layout()', () => {
  it('places fields in C order with natural alignment and rounds the size to the largest alignment', () => {
    const L = layout({ a: 'u8', b: 'f64', c: 'u16', d: 'u8[3]', e: 'u32' });
    expect(L.fields.map((f) => [f.name, f.offset, f.size, f.align])).toEqual([
      ['a', 0, 1, 1], ['b', 8, 8, 8], ['c', 16, 2, 2], ['d', 18, 3, 1], ['e', 24, 4, 4],
    ]);
    expect(L.size).toBe(32);
    expect(L.align).toBe(8);
    expect(layout({ a: 'u8', b: 'u8' }).size).toBe(2);
  });

  it('gives offsets of fields and dotted paths into nested layouts', () => {
    expect(Point.offsetOf('id')).toBe(16);
    expect(Point.offsetOf('name')).toBe(20);
    expect(Point.offsetOf('pos')).toBe(60);
    expect(Point.offsetOf('pos.b')).toBe(64);
    expect(Pos.size).toBe(8);
    expectCode(() => Point.offsetOf('nope'), 'ERR_INVALID_ARG_VALUE', TypeError);
    expectCode(() => Point.offsetOf('x.y'), 'ERR_INVALID_ARG_VALUE', TypeError);
    expectCode(() => Point.offsetOf(3 as never), 'ERR_INVALID_ARG_TYPE', TypeError);
  });

  it('describes every field, and its spec is plain data that clones', () => {
    const f = Point.fields.find((x) => x.name === 'rgb')!;
    expect(f).toEqual({ name: 'rgb', type: 'u8[3]', offset: 44, size: 3, align: 1, length: 3, layout: undefined });
    expect(Point.fields.find((x) => x.name === 'pos')!.layout).toBe(Pos);
    expect(structuredClone(Point.spec)).toEqual({ ...Point.spec, pos: { a: 'i16', b: 'f32' } });
    expect(Object.isFrozen(Point)).toBe(true);
  });

  it('refuses bad specs with Node-style codes (pins each message kind)', () => {
    expectCode(() => layout(null as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    expectCode(() => layout([] as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    expectCode(() => layout({}), 'ERR_INVALID_ARG_VALUE', TypeError); // empty
    expectCode(() => layout({ x: 'f65' as never }), 'ERR_INVALID_ARG_VALUE', TypeError); // unknown type
    expectCode(() => layout({ x: 'utf16[4]' as never }), 'ERR_INVALID_ARG_VALUE', TypeError);
    expectCode(() => layout({ x: 3 as never }), 'ERR_INVALID_ARG_TYPE', TypeError);
    expectCode(() => layout({ x: {} as never }), 'ERR_INVALID_ARG_TYPE', TypeError); // not a layout()
    expectCode(() => layout({ x: 'u8[0]' }), 'ERR_OUT_OF_RANGE', RangeError); // bad length
    expectCode(() => layout({ x: 'utf8[0]' }), 'ERR_OUT_OF_RANGE', RangeError);
    expectCode(() => layout({ x: 'f64[2097153]' }), 'ERR_OUT_OF_RANGE', RangeError); // above 16 MiB
    expectCode(() => layout({ x: 'u8[-1]' as never }), 'ERR_INVALID_ARG_VALUE', TypeError);
    for (const name of ['at', 'offset', 'layout', 'toObject', 'then', 'constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expectCode(() => layout(JSON.parse(`{"${name}": "u8"}`)), 'ERR_INVALID_ARG_VALUE', TypeError); // shadows a cursor member
    }
    for (const name of ['a-b', '1x', '$o', 'a b', '']) {
      expectCode(() => layout({ [name]: 'u8' }), 'ERR_INVALID_ARG_VALUE', TypeError);
    }
    expect(() => layout({ x: 'u8' }).offsetOf('x')).not.toThrow();
  });
});

describe('cursors', () => {
  it('read and write every field type at the layout offsets, little-endian', () => {
    const pool = new ObjectPool({ layout: Point, capacity: 16 });
    const p = pool.record();
    const h = pool.allocHandle();
    const dv = new DataView(pool.buffer, h, Point.size);
    p.at(h);
    p.x = 1.5; p.y = -2; p.id = 0xdeadbeef; p.big = 2n ** 64n - 1n; p.ok = true; p.i8 = -5; p.i16 = -300;
    p.i32 = -70000; p.f32 = 0.25; p.u16 = 65535; p.s64 = -(2n ** 63n); p.name = 'ada'; p.rgb = [1, 2, 3];
    p.pos.a = -7; p.pos.b = 1.25; p.pair = new Float64Array([4, 5]);
    expect(dv.getFloat64(0, true)).toBe(1.5);
    expect(dv.getFloat64(8, true)).toBe(-2);
    expect(dv.getUint32(16, true)).toBe(0xdeadbeef);
    expect(Buffer.from(pool.buffer, h + 20, 4).toString('latin1')).toBe('ada\0');
    expect([dv.getUint8(44), dv.getUint8(45), dv.getUint8(46)]).toEqual([1, 2, 3]);
    expect(dv.getBigUint64(48, true)).toBe(2n ** 64n - 1n);
    expect(dv.getUint8(56)).toBe(1);
    expect(dv.getInt16(60, true)).toBe(-7);
    expect(dv.getFloat32(64, true)).toBe(1.25);
    expect(dv.getInt8(Point.offsetOf('i8'))).toBe(-5);
    expect(dv.getInt16(Point.offsetOf('i16'), true)).toBe(-300);
    expect(dv.getInt32(Point.offsetOf('i32'), true)).toBe(-70000);
    expect(dv.getFloat32(Point.offsetOf('f32'), true)).toBe(0.25);
    expect(dv.getUint16(Point.offsetOf('u16'), true)).toBe(65535);
    expect(dv.getBigInt64(Point.offsetOf('s64'), true)).toBe(-(2n ** 63n));
    expect(dv.getFloat64(Point.offsetOf('pair') + 8, true)).toBe(5);
    expect(p.toObject()).toEqual({
      x: 1.5, y: -2, id: 0xdeadbeef, name: 'ada', rgb: new Uint8Array([1, 2, 3]), big: 2n ** 64n - 1n, ok: true,
      pos: { a: -7, b: 1.25 }, i8: -5, i16: -300, i32: -70000, f32: 0.25, u16: 65535, s64: -(2n ** 63n), pair: new Float64Array([4, 5]),
    });
    expect(p.offset).toBe(h);
    expect(p.layout).toBe(Point);
    pool.destroy();
  });

  it('the DataView accessors (big-endian hosts) write the same bytes as the typed-array ones', () => {
    const pool = new ObjectPool({ layout: Point, capacity: 4 });
    const typed = pool.record();
    const viaDv = makeCursor(Point, pool, true);
    const [h1, h2] = [pool.allocHandle(), pool.allocHandle()];
    for (const [c, h] of [[typed, h1], [viaDv, h2]] as const) {
      new Uint8Array(pool.buffer, h, Point.size).fill(0);
      c.at(h);
      c.x = Math.PI; c.id = 123456789; c.big = 2n ** 60n + 3n; c.ok = true; c.i16 = -2; c.f32 = 3.5; c.s64 = -9n;
      c.name = 'zoë'; c.pos.b = -0.5; c.rgb = [9, 8, 7];
    }
    expect(Buffer.from(pool.buffer, h2, Point.size)).toEqual(Buffer.from(pool.buffer, h1, Point.size));
    expect(viaDv.at(h1).toObject()).toEqual(typed.at(h1).toObject());
    pool.destroy();
  });

  it('utf8[n]: at most n bytes, padded with zeros; longer is a RangeError that leaves the field as it was', () => {
    const L = layout({ s: 'utf8[8]' });
    const pool = new ObjectPool({ layout: L, capacity: 4 });
    const c = pool.record().at(pool.allocHandle());
    c.s = '12345678';
    expect(c.s).toBe('12345678');
    c.s = 'ab';
    expect(c.s).toBe('ab'); // the old tail is zeroed
    expectCode(() => { c.s = '123456789'; }, 'ERR_OUT_OF_RANGE', RangeError);
    // '€' is 3 bytes: 3 of them are 9 bytes; a silent cut would keep 2 (6 bytes) or split the third.
    expectCode(() => { c.s = '€€€'; }, 'ERR_OUT_OF_RANGE', RangeError);
    expect(c.s).toBe('ab');
    c.s = '€€';
    expect(c.s).toBe('€€');
    c.s = '😀😀'; // two surrogate pairs, 8 bytes
    expect(c.s).toBe('😀😀');
    expectCode(() => { c.s = 'a\0b'; }, 'ERR_INVALID_ARG_VALUE', TypeError);
    expectCode(() => { (c as { s: unknown }).s = 5; }, 'ERR_INVALID_ARG_TYPE', TypeError);
    c.s = '';
    expect(c.s).toBe('');
    pool.destroy();
  });

  it('utf8[n]: ASCII, and strings that turn non-ASCII midway, write only their own field', () => {
    const L = layout({ a: 'u8', s: 'utf8[12]', b: 'u8' });
    const pool = new ObjectPool({ layout: L, capacity: 4 });
    const h1 = pool.allocHandle();
    const h2 = pool.allocHandle();
    const bytes = new Uint8Array(pool.buffer);
    bytes.fill(0x5a, h1, h1 + L.size);
    bytes.fill(0x5a, h2, h2 + L.size);
    const c = pool.record().at(h1);
    const field = () => Array.from(bytes.subarray(h1 + L.offsetOf('s'), h1 + L.offsetOf('s') + 12));
    for (const [value, utf8] of [['hello', 'hello'], ['abc\u20acd', 'abc€d'], ['x', 'x'], ['caf\u00e9 ok', 'café ok'], ['twelve bytes', 'twelve bytes'], ['', '']]) {
      c.s = value;
      expect(c.s).toBe(utf8);
      const encoded = Array.from(Buffer.from(value, 'utf8'));
      expect(field()).toEqual([...encoded, ...new Array(12 - encoded.length).fill(0)]);
      expect(bytes[h1 + L.offsetOf('a')]).toBe(0x5a);
      expect(bytes[h1 + L.offsetOf('b')]).toBe(0x5a);
      expect(bytes.subarray(h2, h2 + L.size).every((x) => x === 0x5a)).toBe(true);
    }
    pool.destroy();
  });

  it('an unpositioned cursor\'s utf8 write is a RangeError that touches no byte, even in a 2 GiB pool', () => {
    // A negative index must never reach a typed-array method that counts it from the end.
    const L = layout({ s: 'utf8[24]', pad: 'u8[40]' });
    const pool = new ObjectPool({ layout: L, capacity: 2 ** 25 }); // 2 GiB reserved, nothing committed
    const bytes = new Uint8Array(pool.buffer);
    expect(bytes.length).toBe(2 ** 31);
    const probe = 2 ** 30;
    bytes.fill(0x77, probe - 64, probe + 64);
    const c = pool.record();
    expect(() => { c.s = 'x'; }).toThrow(RangeError);
    expect(() => { c.s = '\u20ac'; }).toThrow(RangeError);
    expect(bytes.subarray(probe - 64, probe + 64).every((x) => x === 0x77)).toBe(true);
    pool.destroy();
  });

  it('T[n] reads as a typed-array view of the record; assignment copies exactly n elements', () => {
    const L = layout({ v: 'i32[3]', b: 'bool[2]', q: 'u64[2]' });
    const pool = new ObjectPool({ layout: L, capacity: 4 });
    const c = pool.record().at(pool.allocHandle());
    c.v = [1, -2, 3];
    expect(c.v).toBeInstanceOf(Int32Array);
    expect(Array.from(c.v)).toEqual([1, -2, 3]);
    c.v[1] = 42; // a view: writes reach the record
    expect(c.toObject().v).toEqual(new Int32Array([1, 42, 3]));
    expect(c.q).toBeInstanceOf(BigUint64Array);
    expect(c.b).toBeInstanceOf(Uint8Array);
    expectCode(() => { c.v = [1, 2]; }, 'ERR_OUT_OF_RANGE', RangeError);
    expectCode(() => { (c as { v: unknown }).v = 7; }, 'ERR_INVALID_ARG_TYPE', TypeError);
    pool.destroy();
  });

  it('nested layouts read as cursors that move with their parent; assigning an object sets its fields', () => {
    const pool = new ObjectPool({ layout: Point, capacity: 4 });
    const p = pool.record();
    const [h1, h2] = [pool.allocHandle(), pool.allocHandle()];
    p.at(h1).pos = { a: 1, b: 2 };
    p.at(h2).pos = { a: 3, b: 4 };
    expect(p.at(h1).pos.toObject()).toEqual({ a: 1, b: 2 });
    expect(p.at(h2).pos.a).toBe(3);
    expectCode(() => { p.pos = { a: 1, c: 2 } as never; }, 'ERR_INVALID_ARG_VALUE', TypeError);
    pool.destroy();
  });

  it('cursors of one layout over two pools and an arena each write only their own allocator\'s bytes', () => {
    // A cursor class holds its buffer's views as constants: one class per buffer, never another's views.
    const L = layout({ x: 'f64', n: 'u32', name: 'utf8[8]', pos: Pos });
    const a = new ObjectPool({ layout: L, capacity: 8 });
    const b = new ObjectPool({ layout: L, capacity: 8 });
    const arena = new Arena({ maxBytes: 4096 });
    const [ha, hb, hr] = [a.allocHandle(), b.allocHandle(), arena.allocHandle(L.size, L.align)];
    const [pa, pb, pr] = [a.record(), b.record(), arena.record(L)];
    for (const [p, h, v] of [[pa, ha, 1], [pb, hb, 2], [pr, hr, 3]] as const) {
      const r = p.at(h);
      r.x = v + 0.5; r.n = v; r.name = `n${v}`; r.pos.a = v;
    }
    for (const [buf, h, v] of [[a.buffer, ha, 1], [b.buffer, hb, 2], [arena.buffer, hr, 3]] as const) {
      const dv = new DataView(buf);
      expect([dv.getFloat64(h + L.offsetOf('x'), true), dv.getUint32(h + L.offsetOf('n'), true), dv.getInt16(h + L.offsetOf('pos.a'), true)]).toEqual([v + 0.5, v, v]);
      expect(Buffer.from(buf, h + L.offsetOf('name'), 2).toString()).toBe(`n${v}`);
    }
    expect([pa.at(ha).n, pb.at(hb).n, pr.at(hr).n]).toEqual([1, 2, 3]);
    a.destroy();
    b.destroy();
    arena.destroy();
  });

  it('a cursor before its first at() points nowhere: reads give undefined, writes reach no record', () => {
    const pool = new ObjectPool({ layout: Point, capacity: 4 });
    const h = pool.allocHandle();
    new Uint8Array(pool.buffer, h, Point.size).fill(0x11);
    const p = pool.record();
    expect(p.x).toBe(undefined);
    expect(p.i8).toBe(undefined);
    expect(p.name).toBe('');
    p.x = 5;
    p.id = 6;
    p.i8 = 7;
    expect(() => { p.name = 'x'; }).toThrow(RangeError);
    expect(new Uint8Array(pool.buffer, h, Point.size).every((b) => b === 0x11)).toBe(true);
    pool.destroy();
  });

  it('util.inspect shows the record\'s fields', async () => {
    const { inspect } = await import('node:util');
    const pool = new ObjectPool({ layout: Pos, capacity: 4 });
    const c = pool.record().at(pool.allocHandle());
    c.a = 1;
    c.b = 2;
    expect(inspect(c)).toBe('Record { a: 1, b: 2 }');
    pool.destroy();
  });

  it('bigint fields refuse numbers (no silent conversion)', () => {
    const pool = new ObjectPool({ layout: Point, capacity: 4 });
    const p = pool.record().at(pool.allocHandle());
    expect(() => { (p as { big: unknown }).big = 1; }).toThrow(TypeError);
    pool.destroy();
  });
});

describe('at(): liveness in release mode', () => {
  it('ObjectPool: freed is USE_AFTER_FREE, anything else INVALID_HANDLE; the cursor stays put on a throw', () => {
    const pool = new ObjectPool({ layout: Point, capacity: 64 });
    const p = pool.record();
    const h = pool.allocHandle();
    const other = pool.allocHandle();
    p.at(other).id = 5;
    pool.freeHandle(h);
    expectCode(() => p.at(h), 'ERR_OFFHEAP_USE_AFTER_FREE', OffheapError);
    expect(p.id).toBe(5);
    expect(p.offset).toBe(other);
    expectCode(() => p.at(other + 8), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError); // interior
    expectCode(() => p.at(pool.slotSize * 40), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError); // never allocated
    expectCode(() => p.at(-pool.slotSize), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError);
    expectCode(() => p.at(1e12), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError);
    expectCode(() => p.at(NaN), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError);
    expectCode(() => p.at('0' as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    expect(pool.offsetOf(other)).toBe(other);
    expectCode(() => pool.offsetOf(h), 'ERR_OFFHEAP_USE_AFTER_FREE', OffheapError);
    pool.destroy();
    expectCode(() => p.at(other), 'ERR_OFFHEAP_DESTROYED', OffheapError);
    expectCode(() => pool.record(), 'ERR_OFFHEAP_DESTROYED', OffheapError);
  });

  it('a handle of another pool is not live here, even at a live offset of this one', () => {
    const a = new ObjectPool({ layout: Point, capacity: 8 });
    const b = new ObjectPool({ layout: Point, capacity: 8 });
    const pa = a.record();
    const hb = b.allocHandle();
    b.allocHandle();
    expectCode(() => pa.at(hb + b.slotSize), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError);
    a.destroy();
    b.destroy();
  });

  it('pool.record(L) checks the layout fits the slots; pools without a layout need one', () => {
    const pool = new ObjectPool({ slotSize: 16, capacity: 8 });
    expect(pool.layout).toBe(null);
    expectCode(() => pool.record(), 'ERR_INVALID_ARG_TYPE', TypeError);
    expectCode(() => pool.record(Point), 'ERR_OUT_OF_RANGE', RangeError);
    const c = pool.record(Pos);
    c.at(pool.allocHandle()).b = 2;
    expect(c.b).toBe(2);
    expectCode(() => new ObjectPool({ layout: Point, slotSize: 8, capacity: 8 }), 'ERR_OUT_OF_RANGE', RangeError);
    expectCode(() => new ObjectPool({ layout: Point, align: 4, capacity: 8 }), 'ERR_OUT_OF_RANGE', RangeError);
    expectCode(() => new ObjectPool({ layout: {} as never, capacity: 8 }), 'ERR_INVALID_ARG_TYPE', TypeError);
    expect(new ObjectPool({ layout: Point, capacity: 8 }).slotSize).toBe(Point.size);
    pool.destroy();
  });

  it('ObjectPool in debug mode: the same checks', () => {
    const pool = new ObjectPool({ layout: Point, capacity: 8, debug: true });
    const p = pool.record();
    const h = pool.allocHandle();
    p.at(h).x = 3;
    expect(p.x).toBe(3);
    pool.freeHandle(h);
    expectCode(() => p.at(h), 'ERR_OFFHEAP_USE_AFTER_FREE', OffheapError);
    pool.destroy();
  });

  it('SlabAllocator: live allocations of at least layout.size bytes', () => {
    const slab = new SlabAllocator({ maxBytes: 1 << 24 });
    const c = slab.record(Point);
    const h = slab.allocHandle(Point.size);
    c.at(h).name = 'slab';
    expect(c.name).toBe('slab');
    expectCode(() => c.at(slab.allocHandle(16)), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError); // too small for the record
    expectCode(() => c.at(h + 16), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError);
    const big = slab.allocHandle(1 << 20); // a large allocation, a run of its own
    c.at(big).x = 1;
    slab.freeHandle(big);
    expectCode(() => c.at(big), 'ERR_OFFHEAP_USE_AFTER_FREE', OffheapError);
    slab.freeHandle(h);
    expectCode(() => c.at(h), 'ERR_OFFHEAP_USE_AFTER_FREE', OffheapError);
    expectCode(() => slab.record({} as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    slab.destroy();
    expectCode(() => c.at(h), 'ERR_OFFHEAP_DESTROYED', OffheapError);
  });

  it('SlabAllocator in debug mode sizes the check by the requested size', () => {
    const slab = new SlabAllocator({ maxBytes: 1 << 24, debug: true });
    const c = slab.record(Point);
    c.at(slab.allocHandle(Point.size)).x = 2;
    expect(c.x).toBe(2);
    // 70 bytes may sit in a 72-or-more class, but the allocation is 70 bytes.
    expectCode(() => c.at(slab.allocHandle(Point.size - 2)), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError);
    slab.destroy();
  });

  it('Arena: live means below the cursor (allocated since the last reset or rollback below it)', () => {
    const arena = new Arena({ maxBytes: 1 << 20 });
    const c = arena.record(Point);
    const keep = arena.allocHandle(Point.size, Point.align);
    const m = arena.mark();
    const h = arena.allocHandle(Point.size, Point.align);
    c.at(h).id = 9;
    expect(c.id).toBe(9);
    expectCode(() => c.at(h + 4), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError); // misaligned for the layout
    arena.rollback(m);
    expectCode(() => c.at(h), 'ERR_OFFHEAP_USE_AFTER_FREE', OffheapError);
    c.at(keep).id = 1;
    arena.reset();
    expectCode(() => c.at(keep), 'ERR_OFFHEAP_USE_AFTER_FREE', OffheapError);
    expectCode(() => c.at(1 << 19), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError); // never reached
    expectCode(() => c.at(1 << 21), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError);
    expectCode(() => c.at(null as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    arena.destroy();
    expectCode(() => c.at(0), 'ERR_OFFHEAP_DESTROYED', OffheapError);
  });

  it('Arena in debug mode: only the start of a live allocation that holds the record', () => {
    const arena = new Arena({ maxBytes: 1 << 20, debug: true });
    const c = arena.record(Point);
    const small = arena.allocHandle(8, 8);
    const h = arena.allocHandle(Point.size, Point.align);
    arena.allocHandle(Point.size, Point.align);
    c.at(h).x = 4;
    expect(c.x).toBe(4);
    expectCode(() => c.at(h + 8), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError); // inside an allocation
    expectCode(() => c.at(small), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError); // too small
    arena.destroy();
  });
});

describe('generational: true', () => {
  it('a handle whose slot was freed and reused is refused by at(), freeHandle(), view() and offsetOf()', () => {
    for (const generational of [false, true]) {
      const pool = new ObjectPool({ layout: Point, capacity: 1, generational });
      const p = pool.record();
      const stale = pool.allocHandle();
      pool.freeHandle(stale);
      const fresh = pool.allocHandle(); // capacity 1: the same slot
      expect(pool.offsetOf(fresh)).toBe(generational ? 0 : stale);
      p.at(fresh).id = 2;
      if (!generational) {
        // Plain handles are offsets: the stale one IS the new record's handle.
        expect(fresh).toBe(stale);
        expect(p.at(stale).id).toBe(2);
      } else {
        expect(fresh).not.toBe(stale);
        expectCode(() => p.at(stale), 'ERR_OFFHEAP_USE_AFTER_FREE', OffheapError);
        expectCode(() => pool.freeHandle(stale), 'ERR_OFFHEAP_DOUBLE_FREE', OffheapError);
        expectCode(() => pool.view(stale), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError);
        expectCode(() => pool.offsetOf(stale), 'ERR_OFFHEAP_USE_AFTER_FREE', OffheapError);
        expect(p.at(fresh).id).toBe(2); // the live record is untouched
        expect(pool.live).toBe(1);
      }
      pool.destroy();
    }
  });

  it('the stated guarantee exactly: caught until the slot is reallocated 2^g - 1 times, then accepted', () => {
    const pool = new ObjectPool({ layout: Pos, capacity: 1, generational: true });
    const g = pool.generationBits;
    expect(g).toBe(16); // capacity 1: 1 index bit, min(16, 30) generation bits
    const p = pool.record();
    const stale = pool.allocHandle();
    pool.freeHandle(stale);
    for (let k = 1; k < 2 ** g - 1; k++) {
      const h = pool.allocHandle();
      if (h === stale) throw new Error(`generation repeated after ${k} reallocations`);
      pool.freeHandle(h);
    }
    const wrapped = pool.allocHandle(); // the (2^g - 1)-th reallocation since
    expect(wrapped).toBe(stale);
    expect(p.at(stale).offset).toBe(0);
    pool.destroy();
  });

  it('generation bits follow the capacity', () => {
    expect(new ObjectPool({ slotSize: 8, capacity: 1 << 20, generational: true }).generationBits).toBe(11);
    expect(new ObjectPool({ slotSize: 8, capacity: (1 << 20) + 1, generational: true }).generationBits).toBe(10);
    expect(new ObjectPool({ slotSize: 8, capacity: 8 }).generationBits).toBe(0);
  });

  it('handles that are no handle of the pool, and the Buffer API, in a generational pool', () => {
    const pool = new ObjectPool({ layout: Point, capacity: 8, generational: true });
    const p = pool.record();
    expectCode(() => p.at(0), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError); // generation 0 is never live
    expectCode(() => p.at(7), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError);
    expectCode(() => p.at(2 ** 31), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError);
    expectCode(() => p.at(1.5), 'ERR_OFFHEAP_INVALID_HANDLE', OffheapError);
    expectCode(() => pool.freeHandle('x' as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    const h = pool.allocHandle();
    pool.freeHandle(h);
    expectCode(() => pool.freeHandle(h), 'ERR_OFFHEAP_DOUBLE_FREE', OffheapError); // freed, not yet reused
    expectCode(() => p.at(h), 'ERR_OFFHEAP_USE_AFTER_FREE', OffheapError);
    const buf = pool.alloc(); // Buffers carry no generation, but the slot's generation moves
    pool.free(buf);
    const views = Array.from({ length: 8 }, () => pool.alloc());
    expect(pool.tryAllocHandle()).toBe(-1);
    for (const v of views) pool.free(v);
    expect(pool.live).toBe(0);
    const h2 = pool.allocHandle();
    expect(pool.view(h2).byteOffset).toBe(pool.offsetOf(h2));
    pool.destroy();
  });

  it('generational in debug mode', () => {
    const pool = new ObjectPool({ layout: Point, capacity: 1, generational: true, debug: true });
    const p = pool.record();
    const h = pool.allocHandle();
    pool.freeHandle(h);
    const h2 = pool.allocHandle();
    p.at(h2).x = 1;
    expectCode(() => p.at(h), 'ERR_OFFHEAP_USE_AFTER_FREE', OffheapError);
    expectCode(() => pool.freeHandle(h), 'ERR_OFFHEAP_DOUBLE_FREE', OffheapError);
    pool.destroy();
  });

  it('the generation table is shared with attached threads (a slot reused in a worker is stale here)', async () => {
    const pool = new ObjectPool({ layout: Point, capacity: 1, generational: true });
    const p = pool.record();
    const h1 = pool.allocHandle();
    p.at(h1).id = 1;
    const d = pool.share();
    expect(d.layout).toEqual(Point.spec);
    expect(d.generations).toBeInstanceOf(SharedArrayBuffer);
    const worker = new Worker(`
      const { workerData: w, parentPort } = require('node:worker_threads');
      const { ObjectPool } = require(w.lib + '/index.js');
      const pool = ObjectPool.attach(w.d);
      const p = pool.record();
      const before = p.at(w.h1).id;
      pool.freeHandle(w.h1);
      const h2 = pool.allocHandle();          // capacity 1: the same slot, from this thread's magazine
      p.at(h2).id = 2;
      let stale = 'accepted';
      try { p.at(w.h1); } catch (e) { stale = e.code; }
      const size = pool.record().layout.size;
      pool.destroy();
      parentPort.postMessage({ before, h2, stale, size });
    `, { eval: true, workerData: { lib: workerLib(), d, h1 } });
    const msg = await new Promise<{ before: number; h2: number; stale: string; size: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`worker exited (${code}) before its message`)));
    });
    await worker.terminate(); // its pool is destroyed already; nothing is left for it to do
    expect(msg.before).toBe(1);
    expect(msg.stale).toBe('ERR_OFFHEAP_USE_AFTER_FREE');
    expect(msg.size).toBe(Point.size);
    expect(msg.h2).not.toBe(h1);
    expectCode(() => p.at(h1), 'ERR_OFFHEAP_USE_AFTER_FREE', OffheapError); // the worker's bump is seen here
    expect(p.at(msg.h2).id).toBe(2);
    expectCode(() => pool.freeHandle(h1), 'ERR_OFFHEAP_DOUBLE_FREE', OffheapError);
    pool.freeHandle(msg.h2);
    pool.destroy();
  }, 180_000);

  it('refuses a descriptor whose generation table is not the pool\'s', () => {
    const pool = new ObjectPool({ slotSize: 8, capacity: 4, generational: true });
    const d = pool.share();
    expectCode(() => ObjectPool.attach({ ...d, generations: new SharedArrayBuffer(2) }), 'ERR_INVALID_ARG_TYPE', TypeError);
    pool.destroy();
  });
});

describe('at(): the inline check of ObjectPool cursors', () => {
  const Odd = layout({ a: 'f64', b: 'u32', c: 'u32', d: 'u32' }); // 24-byte slots: no shift gives the index
  /** The cursor's learned byte of a live slot (-1: not learned, every at() asks the pool). */
  const learned = (c: object) => (c as { $live: number }).$live;
  /** What at(h) does: the offset it lands on, or the error code. */
  const verdict = (c: { at(h: number): { offset: number } }, h: unknown) => {
    try {
      return c.at(h as number).offset + 0; // -0 and 0 are one offset
    } catch (e) {
      return (e as { code: string }).code;
    }
  };

  // The inline check must accept exactly what liveOffset_ (offsetOf) accepts,
  // before and after the cursor learned the live byte: a differential test over
  // live, freed, reused, never-allocated, interior, negative, fractional and huge handles.
  for (const [name, L, generational] of [
    ['power-of-two slots', Pos, false], ['24-byte slots', Odd, false],
    ['generational, power-of-two slots', Pos, true], ['generational, 24-byte slots', Odd, true],
  ] as const) {
    it(`refuses exactly what the pool refuses: ${name}`, () => {
      const pool = new ObjectPool({ layout: L, capacity: 16, generational });
      const p = pool.record();
      const live = [pool.allocHandle(), pool.allocHandle(), pool.allocHandle()];
      const freed = pool.allocHandle();
      pool.freeHandle(freed);
      const reused = pool.allocHandle(); // freed's slot again
      pool.freeHandle(reused);
      pool.freeHandle(pool.allocHandle());
      const near = [...live, freed, reused].flatMap((h) => [h, h + 1, h - 1, h + 4, h + pool.slotSize, h ^ (1 << 20), h ^ (1 << 30), -h, h + 0.5]);
      const odd = [0, -0, 1, NaN, Infinity, 2 ** 31, 2 ** 32, 2 ** 32 + live[1], 1e12, -(2 ** 31), pool.slotSize * 15, '0', null, undefined];
      const probes = [...near, ...odd];
      const oracle = probes.map((h) => {
        try {
          return pool.offsetOf(h as number) + 0;
        } catch (e) {
          return (e as { code: string }).code;
        }
      });
      expect(oracle.filter((v) => typeof v === 'number').length).toBeGreaterThanOrEqual(3);
      expect(learned(p)).toBe(-1);
      expect(probes.filter((h) => !live.includes(h as number)).map((h) => verdict(p, h)))
        .toEqual(oracle.filter((_, k) => !live.includes(probes[k] as number)));
      expect(learned(p)).toBe(-1); // nothing live passed yet
      expect(verdict(p, live[0])).toBe(pool.offsetOf(live[0]));
      expect(learned(p)).not.toBe(-1);
      expect(probes.map((h) => verdict(p, h))).toEqual(oracle);
      for (const h of live) pool.freeHandle(h);
      for (const h of live) expectCode(() => p.at(h), 'ERR_OFFHEAP_USE_AFTER_FREE', OffheapError);
      pool.destroy();
      for (const h of [live[0], reused]) expectCode(() => p.at(h), 'ERR_OFFHEAP_DESTROYED', OffheapError);
      if (generational) expectCode(() => pool.freeHandle(reused), 'ERR_OFFHEAP_DESTROYED', OffheapError); // a stale handle too
    });
  }

  // Another thread can change a state byte between the pool's read and the
  // cursor's, so a shared pool's cursor never learns: it asks the pool every time.
  it('a cursor of a shared pool never learns the live byte', () => {
    const pool = new ObjectPool({ layout: Pos, capacity: 4 });
    pool.share();
    const p = pool.record();
    const h = pool.allocHandle();
    p.at(h).a = 3;
    expect(learned(p)).toBe(-1);
    pool.freeHandle(h);
    expectCode(() => p.at(h), 'ERR_OFFHEAP_USE_AFTER_FREE', OffheapError);
    pool.destroy();
  });

  // Arenas and slabs keep the generic at(); the inline check is an ObjectPool's only.
  it('other allocators\' cursors ask their allocator every time', () => {
    const arena = new Arena({ maxBytes: 1 << 20 });
    const slab = new SlabAllocator({ maxBytes: 1 << 22 });
    for (const c of [arena.record(Pos), slab.record(Pos)]) expect(learned(c)).toBe(undefined);
    arena.destroy();
    slab.destroy();
  });
});
