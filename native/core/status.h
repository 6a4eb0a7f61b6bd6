// Status codes shared by the whole core. The core never throws and never
// aborts on bad input: every fallible operation returns a Status, and the
// binding maps each one to a stable JavaScript error code.
#pragma once

#include <cstdint>

namespace offheap {

enum class Status : int32_t {
  kOk = 0,
  kExhausted = 1,      ///< the allocator has no room left (maxBytes / capacity)
  kDoubleFree = 2,     ///< the block was already free
  kInvalidHandle = 3,  ///< foreign, out-of-range, misaligned or never-allocated
  kUseAfterFree = 4,   ///< freed memory was written (poison check failed)
  kOverflow = 5,       ///< a red zone after an allocation was written
  kDestroyed = 6,      ///< the allocator was destroyed
  kCorrupted = 7,      ///< allocator memory (a free-list link) was scribbled on
  kOsFailure = 8,      ///< the OS refused to reserve, commit or return pages
  kInvalidArgument = 9 ///< a size, alignment or option out of range
};

/// The stable JavaScript `code` for a status ("ERR_OFFHEAP_EXHAUSTED", ...).
constexpr const char* status_code(Status s) noexcept {
  switch (s) {
    case Status::kOk: return "OK";
    case Status::kExhausted: return "ERR_OFFHEAP_EXHAUSTED";
    case Status::kDoubleFree: return "ERR_OFFHEAP_DOUBLE_FREE";
    case Status::kInvalidHandle: return "ERR_OFFHEAP_INVALID_HANDLE";
    case Status::kUseAfterFree: return "ERR_OFFHEAP_USE_AFTER_FREE";
    case Status::kOverflow: return "ERR_OFFHEAP_OVERFLOW";
    case Status::kDestroyed: return "ERR_OFFHEAP_DESTROYED";
    case Status::kCorrupted: return "ERR_OFFHEAP_CORRUPTED";
    case Status::kOsFailure: return "ERR_OFFHEAP_OS_FAILURE";
    case Status::kInvalidArgument: return "ERR_OUT_OF_RANGE";
  }
  return "ERR_OFFHEAP_UNKNOWN";
}

}  // namespace offheap
