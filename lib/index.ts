/**
 * offheap: Arena, ObjectPool and SlabAllocator over mmap'd memory, off the
 * V8 heap. See README.md for the API and DESIGN.md for the contract.
 */
export { OffheapError, type OffheapErrorCode } from './errors';
export { stats, type AllocatorStats } from './registry';
export { type DebugOptions, type LeakLevel, type LeakRecord } from './guards';
export { toPrometheus, registerPrometheusCollector } from './metrics';
export { Arena, type ArenaOptions, type ArenaResetOptions, type ArenaLeak, type ArenaStats } from './arena';
export {
  ArenaScope,
  currentArena,
  type ArenaScopeOptions,
  type ArenaRunOptions,
  type ArenaLease,
  type ArenaScopeStats,
} from './arena-scope';
export {
  SlabAllocator,
  type SlabAllocatorOptions,
  type SlabStats,
  type SlabClassStats,
  type SlabDescriptor,
} from './slab';
export { ObjectPool, type ObjectPoolOptions, type ObjectPoolDescriptor, type ObjectPoolStats } from './object-pool';
export {
  layout,
  type Layout,
  type LayoutSpec,
  type LayoutField,
  type FieldSpec,
  type ScalarType,
  type FieldValue,
  type RecordCursor,
  type RecordFields,
  type RecordObject,
  type PlainSpec,
} from './layout';
