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

/** True when `value` is any Uint8Array (Buffers and offheap views included). */
export function isUint8Array(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}
