// Returning freed memory to the operating system.
#pragma once

namespace tce {

// glibc keeps freed blocks in its arenas (weights loaded after a large free come from the heap,
// not from their own mappings), so freeing a model barely lowers RSS until this runs:
// malloc_trim(0) gives every free page of every arena back. A no-op elsewhere.
void release_free_memory();

}  // namespace tce
