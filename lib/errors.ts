/**
 * Errors. Allocator misuse throws OffheapError with a stable `code`; bad
 * arguments throw Node-style TypeError / RangeError with `code`
 * ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE, as Node's own APIs do.
 */

/** Every code an OffheapError can carry. Stable across versions. */
export type OffheapErrorCode =
  | 'ERR_OFFHEAP_EXHAUSTED'
  | 'ERR_OFFHEAP_DOUBLE_FREE'
  | 'ERR_OFFHEAP_INVALID_HANDLE'
  | 'ERR_OFFHEAP_USE_AFTER_FREE'
  | 'ERR_OFFHEAP_OVERFLOW'
  | 'ERR_OFFHEAP_DESTROYED'
  | 'ERR_OFFHEAP_CORRUPTED'
  | 'ERR_OFFHEAP_NO_SCOPE'
  | 'ERR_OFFHEAP_OS_FAILURE'
  | 'ERR_OFFHEAP_NOT_SHAREABLE';

/** The error every allocator throws for misuse; `code` says which kind. */
export class OffheapError extends Error {
  /** Which kind of misuse or failure: stable across versions, safe to switch on. */
  readonly code: OffheapErrorCode;

  /**
   * Made by the allocators; `message` starts with the allocator's name. Debug
   * findings also carry `offset` (the allocation) and, for a bad byte, `at`.
   */
  constructor(code: OffheapErrorCode, message: string) {
    super(message);
    this.code = code;
  }

  /** Always 'OffheapError'. */
  override get name(): string {
    return 'OffheapError';
  }

  /** `OffheapError [CODE]: message`. */
  override toString(): string {
    return `OffheapError [${this.code}]: ${this.message}`;
  }
}

/** A thrown OffheapError whose message names the allocator (and offset). */
export function offheapError(code: OffheapErrorCode, allocator: string, detail: string): OffheapError {
  return new OffheapError(code, `${allocator}: ${detail}`);
}

type NodeCodedError = (TypeError | RangeError) & { code: string };

function coded<E extends TypeError | RangeError>(err: E, code: string): E & { code: string } {
  Object.defineProperty(err, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  return err as E & { code: string };
}

/** Describes a received value the way Node's messages do. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return `Received ${String(value)}`;
  if (typeof value === 'function') return `Received function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const ctor = (value as object).constructor?.name;
    return ctor ? `Received an instance of ${ctor}` : 'Received an object';
  }
  let shown = typeof value === 'bigint' ? `${value}n` : String(value);
  if (typeof value === 'string') shown = `'${value.length > 25 ? `${value.slice(0, 25)}...` : value}'`;
  return `Received type ${typeof value} (${shown})`;
}

/** TypeError with code ERR_INVALID_ARG_TYPE, worded as Node's. */
export function invalidArgType(name: string, expected: string, actual: unknown): NodeCodedError {
  return coded(new TypeError(`The "${name}" argument must be ${expected}. ${describe(actual)}`), 'ERR_INVALID_ARG_TYPE');
}

/** RangeError with code ERR_OUT_OF_RANGE, worded as Node's. */
export function outOfRange(name: string, range: string, actual: unknown): NodeCodedError {
  const shown = typeof value_of(actual) === 'string' ? value_of(actual) : String(actual);
  return coded(new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${shown}`), 'ERR_OUT_OF_RANGE');
}

function value_of(v: unknown): unknown {
  return typeof v === 'bigint' ? `${v}n` : v;
}

/** An offheapError() about the allocation at `offset`: its message names it and the error carries it as `offset`. */
export function offheapErrorAt(code: OffheapErrorCode, allocator: string, offset: number, detail: string): OffheapError {
  return Object.assign(new OffheapError(code, `${allocator}: ${detail}`), { offset });
}
