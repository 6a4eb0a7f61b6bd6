/**
 * A Buffer that knows which allocator made it and at which offset: a real
 * Buffer (view.ts's class) with two private fields. On Node 20 a typed
 * array's byteOffset and buffer getters are not inlined (~20 ns each), while
 * a private field is ~1 ns to read and cannot be forged outside this file, so
 * free(buf) of an allocator's own Buffer costs about what freeHandle() does.
 * Any other Buffer (made by hand, a subarray) is not trusted: the allocator
 * checks it in full.
 */
import { OffheapBuffer } from './view';

export class OwnedBuffer extends OffheapBuffer {
  #owner: object | undefined;
  #offset: number;

  constructor(ab: ArrayBuffer | number, offset?: number, length?: number, owner?: object) {
    // Typed-array methods (subarray, map, ...) construct through the species
    // with their own arguments and no owner: such a Buffer is never trusted.
    super(ab as ArrayBuffer, offset, length);
    this.#owner = owner;
    this.#offset = offset ?? 0;
  }

  /** The offset `b` was made for when `owner` made it, else -1. */
  static offsetIn(b: unknown, owner: object): number {
    return b instanceof OwnedBuffer && b.#owner === owner ? b.#offset : -1;
  }

  /** The offset an OwnedBuffer was made for. */
  static offsetOf(b: OwnedBuffer): number {
    return b.#offset;
  }
}
