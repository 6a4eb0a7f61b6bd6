// The facade's building blocks: errors, validation, views, debug options, registry.
import { describe, expect, it } from 'vitest';
import { inspect } from 'node:util';
import { OffheapError, invalidArgType, outOfRange } from '../lib/errors';
import { validateInteger, validateKnownKeys, validateOptions, validatePowerOfTwo } from '../lib/validate';
import { makeView } from '../lib/view';
import { resolveDebug, DEFAULT_RED_ZONE } from '../lib/guards';
import { native } from '../lib/native';
import { expectCode, HOSTILE } from './helpers';

describe('errors', () => {
  it('OffheapError carries a stable code and a readable name', () => {
    const e = new OffheapError('ERR_OFFHEAP_DOUBLE_FREE', 'pool: offset 64 freed twice');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('OffheapError');
    expect(e.code).toBe('ERR_OFFHEAP_DOUBLE_FREE');
    expect(String(e)).toBe('OffheapError [ERR_OFFHEAP_DOUBLE_FREE]: pool: offset 64 freed twice');
    expect(e.stack).toContain('facade.test');
  });

  it('Node-style errors are worded as Node words them', () => {
    const t = invalidArgType('size', 'of type number', 'abc');
    expect(t).toBeInstanceOf(TypeError);
    expect(t.code).toBe('ERR_INVALID_ARG_TYPE');
    expect(t.message).toBe(`The "size" argument must be of type number. Received type string ('abc')`);
    const r = outOfRange('size', '>= 0 && <= 8', 9);
    expect(r).toBeInstanceOf(RangeError);
    expect(r.message).toBe('The value of "size" is out of range. It must be >= 0 && <= 8. Received 9');
  });
});

describe('validation', () => {
  // Every hostile value is a TypeError or a RangeError, never accepted.
  it('validateInteger rejects every hostile value with a typed error', () => {
    for (const v of HOSTILE) {
      let err: unknown;
      try {
        validateInteger(v, 'size', 0, 2 ** 31);
      } catch (e) {
        err = e;
      }
      expect(err, String(typeof v)).toBeDefined();
      const code = (err as { code: string }).code;
      expect(['ERR_INVALID_ARG_TYPE', 'ERR_OUT_OF_RANGE']).toContain(code);
      expect(err).toBeInstanceOf(code === 'ERR_OUT_OF_RANGE' ? RangeError : TypeError);
    }
    expect(validateInteger(0, 'size')).toBe(0);
  });

  it('validatePowerOfTwo accepts 1..4096 powers of two only', () => {
    for (let a = 1; a <= 4096; a *= 2) expect(validatePowerOfTwo(a, 'align')).toBe(a);
    for (const bad of [0, 3, 12, 8192, -2]) expectCode(() => validatePowerOfTwo(bad, 'align'), 'ERR_OUT_OF_RANGE', RangeError);
    expectCode(() => validatePowerOfTwo('8', 'align'), 'ERR_INVALID_ARG_TYPE', TypeError);
  });

  it('validateOptions takes objects or undefined only', () => {
    expect(validateOptions(undefined)).toEqual({});
    for (const bad of [null, 1, 'x', [], true]) expectCode(() => validateOptions(bad), 'ERR_INVALID_ARG_TYPE', TypeError);
  });

  // A misspelt option would otherwise be silently ignored.
  it('validateKnownKeys rejects unknown option names', () => {
    validateKnownKeys({ maxBytes: 1 }, ['maxBytes']);
    expectCode(() => validateKnownKeys({ maxByte: 1 }, ['maxBytes']), 'ERR_INVALID_ARG_TYPE', TypeError);
  });
});

describe('views', () => {
  it('are real Buffers over the region memory', () => {
    const h = native.regionCreate(1 << 20);
    const ab = native.regionBuffer(h);
    const v = makeView(ab, 128, 16);
    expect(Buffer.isBuffer(v)).toBe(true);
    expect(v).toBeInstanceOf(Uint8Array);
    expect(v.buffer).toBe(ab);
    expect(v.byteOffset).toBe(128);
    expect(v.length).toBe(16);
    v.write('hello', 'utf8');
    expect(v.toString('utf8', 0, 5)).toBe('hello');
    expect(new Uint8Array(ab, 128, 5)).toEqual(new Uint8Array(Buffer.from('hello')));
    v.writeUInt32LE(0xdeadbeef, 8);
    expect(v.readUInt32LE(8)).toBe(0xdeadbeef);
    expect(v.toString('hex', 0, 2)).toBe('6865');
    // subarray / slice stay Buffers over the same memory
    const sub = v.subarray(1, 3);
    expect(Buffer.isBuffer(sub)).toBe(true);
    expect(sub.byteOffset).toBe(129);
    expect(Buffer.compare(v.slice(0, 5), Buffer.from('hello'))).toBe(0);
    expect(Buffer.concat([v.subarray(0, 5), Buffer.from('!')]).toString()).toBe('hello!');
    // Printed as a Buffer, not as an internal class name.
    expect(inspect(v.subarray(0, 2))).toBe('<Buffer 68 65>');
    native.regionDestroy(h);
  });
});

describe('debug options', () => {
  it('resolves true / false / objects and rejects bad shapes', () => {
    expect(resolveDebug(false).enabled).toBe(false);
    expect(resolveDebug(true)).toMatchObject({ enabled: true, poison: true, redZone: DEFAULT_RED_ZONE });
    expect(resolveDebug({ redZone: false })).toMatchObject({ enabled: true, redZone: 0 });
    expect(resolveDebug({ leaks: 'paranoid', redZone: 32 })).toMatchObject({ leaks: 'paranoid', redZone: 32 });
    expectCode(() => resolveDebug({ leaks: 'always' }), 'ERR_INVALID_ARG_TYPE', TypeError);
    expectCode(() => resolveDebug({ redZone: -1 }), 'ERR_INVALID_ARG_TYPE', TypeError);
    expectCode(() => resolveDebug('yes'), 'ERR_INVALID_ARG_TYPE', TypeError);
  });

  it('OFFHEAP_DEBUG=1 turns debug on for allocators without the option', () => {
    const saved = process.env.OFFHEAP_DEBUG;
    try {
      process.env.OFFHEAP_DEBUG = '1';
      expect(resolveDebug(undefined).enabled).toBe(true);
      expect(resolveDebug(false).enabled).toBe(false);
      process.env.OFFHEAP_DEBUG = '0';
      expect(resolveDebug(undefined).enabled).toBe(false);
    } finally {
      if (saved === undefined) delete process.env.OFFHEAP_DEBUG;
      else process.env.OFFHEAP_DEBUG = saved;
    }
  });
});
