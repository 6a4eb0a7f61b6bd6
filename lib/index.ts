/**
 * offheap: Arena, ObjectPool and SlabAllocator over mmap'd memory, off the
 * V8 heap. See README.md for the API and DESIGN.md for the contract.
 */
export { OffheapError, type OffheapErrorCode } from './errors';
export { stats, type AllocatorStats } from './registry';
export { type DebugOptions, type LeakLevel } from './guards';
export {
  ObjectPool,
  type ObjectPoolOptions,
  type ObjectPoolDescriptor,
  type ObjectPoolStats,
  type LeakRecord,
} from './object-pool';
