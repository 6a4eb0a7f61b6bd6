// SlabAllocator: size classes carved from slabs of pages (Linux SLUB,
// jemalloc's class spacing, pymalloc's pools), over one Region.
//
// The region is cut into slabs of slab_bytes (a power of two), so the slab of
// any offset is offset >> slab_shift: O(1), no search. A slab serves one size
// class; it sits on its class's partial, full or empty list. Slots are carved
// lazily (a slab's untouched tail is never committed), freed slots go on the
// slab's free list, whose links live in the free slots themselves as 32-bit
// granule indices, bounds- and state-checked on every pop. Everything else
// (slab headers, lists, counts, the state of every slot) lives outside the
// region, so nothing written through JavaScript's view of the region can
// steer a native write elsewhere.
//
// Sizes above the largest class get a run of whole slabs of their own (the
// address-space granularity is slab_bytes; only the pages the size covers
// are counted as committed), given back to the OS when freed. Empty slabs
// beyond retain_empty_slabs per class go back to the OS at once; trim()
// returns them all.
//
// Threads: the allocator is a Depot. Each thread keeps magazines (a
// MagazineBlock) and crosses into the allocator only to refill or drain a
// batch under one mutex; single alloc()/free() (large sizes, debug mode) take
// the same mutex. The state table is changed with atomics only.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "divisor.h"
#include "magazine_block.h"
#include "region.h"
#include "shared_depot.h"
#include "state_table.h"
#include "status.h"

namespace offheap {

struct SlabConfig {
  size_t max_bytes = size_t{1} << 30;  ///< reserved bytes, rounded up to whole slabs
  size_t slab_bytes = 65536;           ///< a power of two, kMinSlabBytes..kMaxSlabBytes
  std::vector<uint32_t> class_sizes;   ///< ascending multiples of 16; empty = default_classes()
  uint32_t retain_empty_slabs = 1;     ///< empty slabs each class keeps committed
  bool poison = false;                 ///< debug: fill fresh 0xD0 / freed 0xDF, check on reuse
  uint32_t red_zone = 0;               ///< debug: bytes of 0xDE after each single allocation
};

/// One row of stats().classes, as /proc/slabinfo.
struct SlabClassStats {
  uint32_t size;              ///< bytes per object
  uint32_t objects_per_slab;  ///< slots per slab
  uint64_t slabs;             ///< slabs of this class (partial + full + empty)
  uint64_t live;              ///< objects allocated to users
  uint64_t cached;            ///< free objects held in threads' magazines
  uint64_t total;             ///< slabs * objects_per_slab
  uint64_t empty_slabs;       ///< empty slabs kept committed
};

struct SlabStats {
  uint64_t reserved_bytes, committed_bytes, live_bytes, live_count, peak_live_bytes;
  uint64_t alloc_count, free_count, failed_count;
  uint64_t large_count, large_bytes, metadata_bytes;
  std::vector<SlabClassStats> classes;
};

/// One row of SlabAllocator::live_allocations().
struct LiveAllocation {
  uint32_t offset;
  uint32_t size;  ///< usable bytes, or the requested size where debug mode kept it
};

class SlabAllocator final : public Depot, public SharedDepot<SlabAllocator, 0x534C4142 /* SLAB */> {
 public:
  using StateTable = BasicStateTable<4>;
  static constexpr uint32_t kGranuleShift = 4;  ///< classes are multiples of 16 bytes
  static constexpr uint32_t kGranule = 1u << kGranuleShift;
  static constexpr uint32_t kMaxClasses = 250;  ///< class ids 1..250 fit a state byte
  static_assert(kMaxClasses <= SlotState::kMaxLive && StateTable::kShift == kGranuleShift);
  static constexpr size_t kMinSlabBytes = 4096;
  static constexpr size_t kMaxSlabBytes = size_t{1} << 24;

  /// The default classes for a slab size: every 16 B up to 128 B, then four
  /// per doubling (<= 25% apart), up to slab_bytes / 8.
  static void default_classes(size_t slab_bytes, std::vector<uint32_t>* out);

  /// Validates `config`, reserves the region and metadata. *out holds one
  /// reference. kInvalidArgument for a bad config, kOsFailure when refused.
  static Status create(const SlabConfig& config, PageSource& source, SlabAllocator** out) noexcept;

  // References (SharedDepot): each attachment (thread) holds one. The last
  // release gives every page back; the regions stay mapped while ArrayBuffers hold them.

  // ---- geometry (immutable after create) ----
  Region* region() const noexcept { return region_; }
  /// The state table's reservation (StateTable::kBytes, committed where used).
  Region* meta() const noexcept { return meta_; }
  StateTable& states() noexcept { return states_; }
  uint32_t slab_shift() const noexcept { return slab_shift_; }
  size_t slab_bytes() const noexcept { return size_t{1} << slab_shift_; }
  uint32_t classes() const noexcept { return static_cast<uint32_t>(sizes_.size()); }
  uint32_t class_size(uint32_t cls) const noexcept { return sizes_[cls]; }
  uint32_t objects_per_slab(uint32_t cls) const noexcept { return per_slab_[cls]; }
  uint32_t max_small() const noexcept { return sizes_.back(); }
  /// Size -> class id (index + 1) table, indexed by (size + 15) >> 4 for size <= max_small().
  const std::vector<uint8_t>& class_ids() const noexcept { return class_ids_; }
  uint32_t class_for(size_t size) const noexcept { return class_ids_[(size + kGranule - 1) >> kGranuleShift] - 1u; }
  const std::vector<uint32_t>& magazine_capacities() const noexcept { return mag_caps_; }
  bool poison() const noexcept { return poison_; }
  uint32_t red_zone() const noexcept { return red_zone_; }
  uint32_t retain_empty_slabs() const noexcept { return retain_; }

  // ---- depot (batches for magazines) ----
  Status pop_batch(uint32_t cls, int32_t* out, uint32_t max, uint32_t* got, uint32_t tag,
                   uint32_t* home) noexcept override;
  Status push_batch(uint32_t cls, const int32_t* in, uint32_t n, uint32_t* bad) noexcept override;

  // ---- single operations (large sizes, debug mode) ----
  /// Allocates `size` bytes (any size; 0 is one granule) in state kLive.
  /// Debug: checks the slot's poison (kUseAfterFree, *bad = offending byte),
  /// fills it 0xD0 and the red zone 0xDE. kExhausted when there is no room.
  Status alloc(size_t size, uint32_t* off, uint32_t* bad) noexcept;
  /// Frees a live handle. kDoubleFree / kInvalidHandle when it is not one;
  /// debug: kOverflow (*bad = first written red-zone byte) after freeing it.
  Status free(uint32_t off, uint32_t* bad) noexcept;
  /// Bytes usable at a live handle: the class size, the page-rounded size of
  /// a large run, or the requested size when red zones are on.
  Status usable_size(uint32_t off, size_t* out) noexcept;
  /// Why `off` is not a live handle: kOk when it is, else kDoubleFree (a slot
  /// or large run start that is free) or kInvalidHandle.
  Status classify(uint32_t off) noexcept;

  /// The start of the slot (or large run) holding byte `off` (debug messages
  /// name the allocation a bad byte belongs to); `off` itself when none does.
  uint32_t slot_of(uint32_t off) noexcept;
  /// Every live allocation, of every thread, in offset order (leaks()).
  void live_allocations(std::vector<LiveAllocation>* out) noexcept;
  /// Gives back every empty slab of every class; *released = committed bytes
  /// given back. kOsFailure when the OS refused (those slabs stay empty).
  Status trim(size_t* released) noexcept;
  /// Walks all metadata: lists, counts, free lists, states; with poison, the
  /// freed bytes; with red zones, every live red zone. kOk, or the first
  /// problem (kCorrupted, kUseAfterFree, kOverflow) with its offset in *bad.
  Status verify(uint32_t* bad) noexcept;
  void stats(SlabStats* out) noexcept;

  /// Live object `off` of class `cls` -> cached (a free into a full magazine).
  Status cache_live(uint32_t cls, uint32_t off) noexcept override;

  // Attachments (SharedDepot): attach() registers a thread's magazines,
  // detach() returns what they hold and gives back the slabs they were served from.
  /// Puts the slabs serving `block` back on the shared lists (mutex held).
  void unhome_locked(MagazineBlock* block) noexcept;

 private:
  struct SlabMeta;
  struct ClassList;
  friend class SharedDepot<SlabAllocator, kShareKind>;
  SlabAllocator() = default;
  ~SlabAllocator();

  // slabs and lists (mutex held)
  size_t slab_offset(uint32_t slab) const noexcept { return size_t{slab} << slab_shift_; }
  uint32_t acquire_slabs(uint32_t n) noexcept;
  void return_slabs(uint32_t first, uint32_t n) noexcept;
  uint32_t take_slab(uint32_t cls) noexcept;
  bool release_slab(uint32_t slab) noexcept;
  void init_classes();
  /// A bad link at `off`: rebuilds the slab's free list, *bad = off, kCorrupted.
  Status recover_link(uint32_t slab, size_t off, uint32_t* bad) noexcept;
  /// Rebuilds a slab's free list (and counts) from the state table after a bad link.
  void rebuild_free_list(uint32_t slab) noexcept;
  bool poison_intact(size_t off, uint32_t size, uint32_t* bad) noexcept;
  Status classify_locked(uint32_t off) noexcept;
  void list_push(uint8_t list, uint32_t cls, uint32_t slab) noexcept;
  void list_remove(uint32_t slab) noexcept;
  void relist(uint32_t slab) noexcept;
  Status pop_one(uint32_t cls, uint8_t to, uint32_t* off, uint32_t* bad) noexcept;
  Status pop_from(uint32_t slab, uint8_t to, uint32_t* off, uint32_t* bad) noexcept;
  bool has_room(uint32_t slab) const noexcept;
  uint32_t home_slab(uint32_t cls, uint32_t tag, uint32_t* home) noexcept;
  /// A partial slab of `cls` that the magazines tagged `tag` were served from
  /// last, among the first kHomeScan of the list; kNil when none.
  uint32_t own_partial(uint32_t cls, uint32_t tag) const noexcept;
  void unhome(uint32_t slab) noexcept;
  void place(uint32_t slab) noexcept;
  Status push_one(uint32_t off, int32_t cls, uint8_t from) noexcept;
  Status alloc_large(size_t size, uint32_t* off) noexcept;
  Status free_large(uint32_t off) noexcept;
  uint64_t live_count(uint32_t cls) const noexcept;
  uint64_t live_bytes() const noexcept;
  void note_peak() noexcept;
  Status verify_slab(uint32_t slab, uint32_t* bad) noexcept;
  Status verify_lists(const std::vector<uint64_t>& homes, const std::vector<uint64_t>& home_out, uint32_t* bad) noexcept;

  Region* region_ = nullptr;
  Region* meta_ = nullptr;
  StateTable states_;
  uint32_t slab_shift_ = 16;
  uint32_t slab_count_ = 0;
  uint32_t retain_ = 1;
  bool poison_ = false;
  uint32_t red_zone_ = 0;

  std::vector<uint32_t> sizes_;        ///< bytes per object, per class
  std::vector<uint32_t> per_slab_;     ///< slots per slab, per class
  std::vector<uint8_t> class_ids_;     ///< (size + 15) >> 4 -> class id
  std::vector<uint32_t> mag_caps_;     ///< magazine capacity per class
  std::vector<Divisor32> divisors_;    ///< slot-start test per class
  std::vector<ClassList> lists_;       ///< partial / full / empty lists per class
  SlabMeta* slabs_ = nullptr;          ///< one header per slab (calloc'd)
  std::vector<uint64_t> used_;         ///< bit per slab: serving a class or a large run
  uint32_t first_free_word_ = 0;       ///< no free slab below word first_free_word_
  std::unordered_map<uint32_t, uint32_t> requested_;  ///< debug: live offset -> requested size

  uint64_t out_bytes_ = 0;    ///< bytes of small objects handed out (cached or live)
  uint64_t large_count_ = 0, large_bytes_ = 0;
  uint64_t single_allocs_ = 0, single_frees_ = 0, failed_ = 0;
  uint64_t peak_live_bytes_ = 0;
};

}  // namespace offheap
