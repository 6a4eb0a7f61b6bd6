/**
 * Debug-mode configuration and the facade's guard helpers, in one place.
 * The fill bytes match native/core/guards.h (mimalloc's): fresh memory 0xD0,
 * freed memory 0xDF, red zones 0xDE.
 */
import { invalidArgType } from './errors';
import { validateOptions } from './validate';

export const FILL_FRESH = 0xd0;
export const FILL_FREED = 0xdf;
export const FILL_RED_ZONE = 0xde;

/** How thoroughly live allocations are tracked for leak reports. */
export type LeakLevel = 'off' | 'sample' | 'paranoid';

/** What `debug: { ... }` accepts. `debug: true` turns everything on. */
export interface DebugOptions {
  /** Fill fresh memory with 0xD0 and freed memory with 0xDF, check on reuse. */
  poison?: boolean;
  /** Bytes of 0xDE after each allocation, checked at free / rollback / reset / verify (0 = off). */
  redZone?: boolean | number;
  /** Leak tracking level: 'sample' keeps a stack for some allocations, 'paranoid' for all. */
  leaks?: LeakLevel;
}

/** The resolved debug settings of one allocator. */
export interface DebugConfig {
  readonly enabled: boolean;
  readonly poison: boolean;
  /** Red-zone size in bytes (0 when off). */
  readonly redZone: number;
  readonly leaks: LeakLevel;
}

export const DEFAULT_RED_ZONE = 16;

export const DEBUG_OFF: DebugConfig = Object.freeze({ enabled: false, poison: false, redZone: 0, leaks: 'off' });
const DEBUG_ALL: DebugConfig = Object.freeze({ enabled: true, poison: true, redZone: DEFAULT_RED_ZONE, leaks: 'sample' });

/** True when OFFHEAP_DEBUG asks for debug mode in every allocator. */
export function debugFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.OFFHEAP_DEBUG;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

/** Resolves an allocator's `debug` option, falling back to OFFHEAP_DEBUG. */
export function resolveDebug(option: unknown): DebugConfig {
  if (option === undefined) return debugFromEnv() ? DEBUG_ALL : DEBUG_OFF;
  if (option === false) return DEBUG_OFF;
  if (option === true) return DEBUG_ALL;
  const o = validateOptions<DebugOptions>(option, 'options.debug');
  const poison = o.poison === undefined ? true : o.poison;
  if (typeof poison !== 'boolean') throw invalidArgType('options.debug.poison', 'of type boolean', poison);
  let redZone = DEFAULT_RED_ZONE;
  if (o.redZone === false) redZone = 0;
  else if (typeof o.redZone === 'number') {
    if (!Number.isInteger(o.redZone) || o.redZone < 0 || o.redZone > 4096) {
      throw invalidArgType('options.debug.redZone', 'a boolean or an integer from 0 to 4096', o.redZone);
    }
    redZone = o.redZone;
  } else if (o.redZone !== undefined && o.redZone !== true) {
    throw invalidArgType('options.debug.redZone', 'of type boolean or number', o.redZone);
  }
  const leaks = o.leaks ?? 'sample';
  if (leaks !== 'off' && leaks !== 'sample' && leaks !== 'paranoid') {
    throw invalidArgType('options.debug.leaks', "one of 'off', 'sample', 'paranoid'", leaks);
  }
  return Object.freeze({ enabled: true, poison, redZone, leaks });
}

/** One live allocation, as every allocator's leaks() lists it. */
export interface LeakRecord {
  /** The handle: the allocation's offset into the allocator's `buffer`. */
  offset: number;
  /** The requested size in bytes. */
  size: number;
  /** Where it was allocated, when this allocation's stack was kept ('paranoid': always, 'sample': some). */
  stack: string | undefined;
}
