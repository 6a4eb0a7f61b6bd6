import { backing, native, type NativeHandle } from './native';

/**
 * Views: real Buffers over a region's ArrayBuffer, made at the cost of a
 * plain `new Uint8Array(ab, off, len)`. The class is a Uint8Array subclass
 * whose prototype chain runs through Buffer.prototype, exactly as Node's own
 * internal FastBuffer: Buffer.isBuffer() is true and every Buffer method works,
 * without Buffer.from()'s extra argument checking.
 */
export class OffheapBuffer extends Uint8Array {}
Object.setPrototypeOf(OffheapBuffer.prototype, Buffer.prototype);
// util.inspect prints `<${constructor.name} ...>`: show views as the Buffers they are.
Object.defineProperty(OffheapBuffer, 'name', { value: 'Buffer' });

/** A Buffer over `ab[offset, offset+length)`; the caller has checked bounds. */
export function makeView(ab: ArrayBuffer, offset: number, length: number): Buffer {
  return new OffheapBuffer(ab, offset, length) as unknown as Buffer;
}

/**
 * A debug-mode view of region[offset, offset+length) over an ArrayBuffer of
 * its own (`slice`), so that detaching it kills this view alone. Under the v8
 * backing V8 cannot give part of its buffer an ArrayBuffer of its own: the
 * view is then over `region` itself and `slice` is undefined (stale views are
 * caught by the poison checks instead of by detaching).
 */
export function sliceView(handle: NativeHandle, region: ArrayBufferLike, offset: number, length: number): {
  view: Buffer;
  slice: ArrayBuffer | undefined;
} {
  if (backing === 'v8') return { view: makeView(region as ArrayBuffer, offset, length), slice: undefined };
  const slice = native.sliceBuffer(handle, offset, length);
  return { view: makeView(slice, 0, length), slice };
}

/** True when `value` is any Uint8Array (Buffers and offheap views included). */
export function isUint8Array(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}
