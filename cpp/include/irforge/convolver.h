// irforge/convolver.h - zero-latency, non-uniformly partitioned convolution engine.
//
// The engine convolves n_in input channels with a set of impulse responses routed to n_out
// output channels: out[o] = sum over routes (i -> o, ir) of in[i] * ir. That one form covers
// mono, per-channel stereo, mono-to-stereo and true-stereo (2x2) IRs.
//
// Each stage is uniformly partitioned overlap-save with a frequency-domain delay line (FDL)
// per input (Kulp 1988; Wefers 2015, "Partitioned convolution algorithms for real-time
// auralization"); stage sizes grow behind a head stage of the host block size
// (Gardner 1995). The head computes its newest partition on every call, so the output has
// zero latency at any host block size, including sizes that change from call to call.
//
// Schedule::spread (the default, for real time): a later stage's work for one block - the
// forward FFT of its input, the spectrum multiply-accumulates, the inverse FFT - is not done
// in the one call that completes the block but paced over the calls of the following block,
// in proportion to the samples they bring (by the plan's cost model); such stages start at
// offset >= 2 * size so the result is still on time. Every call then does about the average
// work plus at most one step per stage (one FFT), instead of a whole large partition's FFTs
// every so often. Schedule::immediate does each block's work in the call that completes it
// (offline use: slightly less work in total, no per-call bound).
//
// prepare happens in the constructor (all allocation, IR spectra). process() and reset()
// never allocate, lock or throw; one engine must not be used by two threads at once.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "irforge/fft.h"
#include "irforge/partition.h"

namespace irforge {

// Most input or output channels an engine or an offline convolution takes (third-order
// ambisonics has 16; true stereo 2).
constexpr std::size_t kMaxChannels = 256;

struct Route {
    std::size_t input;
    std::size_t output;
    std::size_t ir;  // index into the IR list
};

struct IrView {
    const float* data;
    std::size_t length;
};

enum class Schedule { spread, immediate };

class ConvolutionEngine {
public:
    // irs: all of the same length (>= 1 sample). block_size: the expected host block size
    // (any value >= 1; the head partition is the next power of two, at least 32).
    // max_partition: largest stage size (power of two), 0 = automatic.
    // Throws std::invalid_argument on inconsistent arguments.
    ConvolutionEngine(std::size_t n_in, std::size_t n_out, const std::vector<IrView>& irs,
                      const std::vector<Route>& routes, std::size_t block_size,
                      std::size_t max_partition = 0, Schedule schedule = Schedule::spread);
    ~ConvolutionEngine();
    ConvolutionEngine(const ConvolutionEngine&) = delete;
    ConvolutionEngine& operator=(const ConvolutionEngine&) = delete;

    // in: n_in pointers to n samples each; out: n_out pointers to n samples each. Output
    // may alias input (in-place). Output = dry_gain * dry + wet_gain * wet, where dry for
    // output o is input o (input 0 when there is a single input).
    void process(const float* const* in, float* const* out, std::size_t n) noexcept;
    void reset() noexcept;
    void set_gains(float wet_gain, float dry_gain) noexcept { wet_ = wet_gain; dry_ = dry_gain; }

    std::size_t n_inputs() const { return n_in_; }
    std::size_t n_outputs() const { return n_out_; }
    std::size_t ir_length() const { return ir_len_; }
    std::size_t latency_samples() const { return 0; }
    const std::vector<Stage>& plan() const { return plan_; }
    Schedule schedule() const { return schedule_; }

private:
    struct StageState;
    void process_chunk(const float* const* in, float* const* out, std::size_t offset,
                       std::size_t len) noexcept;

    std::size_t n_in_, n_out_, ir_len_, head_;
    std::vector<Route> routes_;
    std::vector<Stage> plan_;
    std::vector<std::unique_ptr<StageState>> stages_;
    std::size_t pos_ = 0;       // position inside the head block
    unsigned long long t_ = 0;  // samples since reset
    float wet_ = 1.0f, dry_ = 0.0f;
    Schedule schedule_ = Schedule::spread;
};

// Offline full convolution: out[o] has n + ir_len - 1 samples, or only its first out_len
// (n <= out_len <= n + ir_len - 1; 0 = all): the tail past out_len is not computed. Work is
// spread over up to `threads` threads (0 = all cores) by output channel and time segment.
// Releases nothing itself: the caller decides about the GIL. Throws std::invalid_argument on
// inconsistent arguments.
void convolve_offline(std::size_t n_in, std::size_t n_out, const float* const* in, std::size_t n,
                      const std::vector<IrView>& irs, const std::vector<Route>& routes,
                      float* const* out, unsigned threads = 0, std::size_t out_len = 0);

// Head partition size that minimises the modelled cost for offline use.
std::size_t offline_block_size(std::size_t ir_len, std::size_t n);

}  // namespace irforge
