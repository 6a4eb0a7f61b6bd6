/**
 * Argument validation for the facade. Every check throws the Node-style
 * error a Node user expects: TypeError ERR_INVALID_ARG_TYPE for the wrong
 * type, RangeError ERR_OUT_OF_RANGE for a value outside its range.
 */
import { invalidArgType, outOfRange } from './errors';

/** An integer in [min, max]; returns it. */
export function validateInteger(value: unknown, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
  return value;
}

/** A power of two in [min, max]; returns it. */
export function validatePowerOfTwo(value: unknown, name: string, min = 1, max = 4096): number {
  validateInteger(value, name, min, max);
  const n = value as number;
  if ((n & (n - 1)) !== 0) throw outOfRange(name, `a power of two >= ${min} && <= ${max}`, value);
  return n;
}

/** An options object (or undefined, read as {}); returns it. */
export function validateOptions<T extends object>(value: unknown, name = 'options'): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidArgType(name, 'of type object', value);
  }
  return value as Partial<T>;
}

export function validateBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value);
  return value;
}

export function validateString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  return value;
}

export function validateFunction(value: unknown, name: string): (...args: never[]) => unknown {
  if (typeof value !== 'function') throw invalidArgType(name, 'of type function', value);
  return value as (...args: never[]) => unknown;
}

/** Rejects option names that do not exist, so a typo is not silently ignored. */
export function validateKnownKeys(options: object, known: readonly string[], name = 'options'): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw invalidArgType(`${name}.${key}`, `one of the known options (${known.join(', ')})`, key);
    }
  }
}
