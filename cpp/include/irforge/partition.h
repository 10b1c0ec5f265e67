// irforge/partition.h - choosing a non-uniform partitioning of an impulse response.
//
// A convolution of an IR of length L is split into stages; stage s convolves with the IR
// segment [offset_s, offset_s + count_s * size_s) using uniformly partitioned overlap-save
// with blocks of size_s (FFTs of 2 * size_s). The first stage (offset 0) is computed
// immediately, block by block, which gives zero latency; a later stage needs its whole
// input block before it can start, so its segment must begin at offset >= size_s (and a
// multiple of size_s) to be on time (Gardner 1995; Garcia 2002 for the cost model). A stage
// whose work is spread over the calls of the following block (real-time use: bounded work per
// call) needs one block more, offset >= 2 * size_s.
#pragma once

#include <cstddef>
#include <vector>

namespace irforge {

// The longest IR the partitioner plans for: 2^32 samples (about 25 hours at 48 kHz). Longer
// lengths are refused (std::invalid_argument) before anything is allocated.
constexpr std::size_t kMaxIrLength = std::size_t(1) << 32;

struct Stage {
    std::size_t size;    // partition (block) size in samples; FFT size is 2 * size
    std::size_t offset;  // first IR sample this stage covers (0 for the head)
    std::size_t count;   // number of partitions
};

// Cheapest partitioning (by an operation-count model) of an IR of `ir_len` samples whose
// first stage has partitions of `head_size` samples; stage sizes are head_size * 2^k and at
// most `max_size`. head_size and max_size are powers of two, head_size <= max_size.
// spread: later stages start at offset >= 2 * their size (their work is spread over a block).
std::vector<Stage> plan_partitions(std::size_t ir_len, std::size_t head_size, std::size_t max_size,
                                   bool spread = false);

// Modelled cost of one real FFT of 2 * q points, in the units of plan_cost (one partition's
// spectrum multiply-accumulate of q samples costs q); the spread schedule paces work by it.
double transform_cost(std::size_t q);

// Modelled cost per output sample of a plan (arbitrary units), for tests and for choosing
// the head size of offline convolution.
double plan_cost(const std::vector<Stage>& plan);

}  // namespace irforge
