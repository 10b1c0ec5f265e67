#include "irforge/convolver.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

#include "irforge/denormals.h"
#include "irforge/parallel.h"

namespace irforge {

namespace {

// v <= fft::kMaxSize (checked by the callers), so the loop ends.
std::size_t next_pow2(std::size_t v) {
    std::size_t p = 1;
    while (p < v) p <<= 1;
    return p;
}

constexpr std::size_t kMinHead = 32;
constexpr std::size_t kDefaultMaxPartition = 16384;
constexpr std::size_t kOfflineMaxPartition = 65536;

}  // namespace

// One uniformly partitioned stage: blocks of Q samples, FFTs of N = 2Q, K partitions of the
// IR segment starting at `delay` blocks (delay 0 = the head, computed on every call).
//
// A spread stage (delay >= 2) keeps three input blocks per input in a ring (the one filling,
// the two the pending FFT reads) and does the work for the block completed last as a list of
// steps - forward FFT per input, multiply-accumulate per (route, partition), inverse FFT per
// output - run a share at a time as the next block fills (pace()); its result, the Q output
// samples after that block, goes to next_out and becomes carry when the block ends.
struct ConvolutionEngine::StageState {
    std::size_t Q = 0, N = 0, K = 0, delay = 0, slots = 0;
    bool spread = false;
    fft::RealFFT fft;
    std::vector<fft::FloatBuffer> in_buf;    // per input: [previous block | current block];
                                             // spread: a ring of 3 blocks
    std::vector<fft::FloatBuffer> fdl;       // per input: `slots` spectra of N floats
    std::vector<fft::FloatBuffer> ir_spec;   // per IR: K spectra of N floats (scaled by 1/N)
    std::vector<fft::FloatBuffer> carry;     // per output: head: spectrum of partitions 1..K-1;
                                             // later stages: the Q output samples due next
    fft::FloatBuffer acc, tbuf;              // N floats each
    std::size_t newest = 0;                  // FDL slot of the newest block
    std::size_t fill = 0;                    // samples in the current block (later stages)
    // spread schedule
    std::vector<fft::FloatBuffer> accs;      // per output: N floats, the pending block's sum
    std::vector<fft::FloatBuffer> next_out;  // per output: Q samples, due after the current block
    std::vector<double> cum;                 // modelled cost of steps [0, k), k = 0..steps
    std::size_t steps = 0, next_step = 0, blk = 0, n_in = 0, n_routes = 0;

    StageState(const Stage& st, std::size_t n_in_, std::size_t n_out, const std::vector<IrView>& irs,
               const std::vector<bool>& used, std::size_t n_routes_, bool spread_)
        : Q(st.size), N(2 * st.size), K(st.count), delay(st.offset / st.size),
          spread(spread_ && st.offset >= 2 * st.size), fft(2 * st.size), n_in(n_in_),
          n_routes(n_routes_) {
        slots = delay == 0 ? K : (spread ? K + delay - 2 : K + delay - 1);
        if (slots == 0) slots = 1;
        for (std::size_t i = 0; i < n_in; ++i) {
            in_buf.emplace_back(spread ? 3 * Q : N);
            fdl.emplace_back(slots * N);
        }
        ir_spec.resize(irs.size());
        const float scale = 1.0f / static_cast<float>(N);
        for (std::size_t r = 0; r < irs.size(); ++r) {
            if (!used[r]) continue;
            ir_spec[r] = fft::FloatBuffer(K * N);
            for (std::size_t p = 0; p < K; ++p) {
                float* dst = ir_spec[r].data() + p * N;
                const std::size_t start = st.offset + p * Q;
                if (start < irs[r].length) {
                    const std::size_t cnt = std::min(Q, irs[r].length - start);
                    for (std::size_t k = 0; k < cnt; ++k) dst[k] = irs[r].data[start + k] * scale;
                }
                fft.forward_packed(dst, dst);
            }
        }
        for (std::size_t o = 0; o < n_out; ++o) carry.emplace_back(delay == 0 ? N : Q);
        acc = fft::FloatBuffer(N);
        tbuf = fft::FloatBuffer(N);
        if (spread) {
            for (std::size_t o = 0; o < n_out; ++o) {
                accs.emplace_back(N);
                next_out.emplace_back(Q);
            }
            steps = n_in + n_routes * K + n_out;
            cum.assign(steps + 1, 0.0);
            const double tf = transform_cost(Q), tm = static_cast<double>(Q);
            for (std::size_t k = 0; k < steps; ++k)
                cum[k + 1] = cum[k] + ((k < n_in || k >= n_in + n_routes * K) ? tf : tm);
        }
    }

    const float* slot(std::size_t input, std::size_t back) const {
        return fdl[input].data() + ((newest + slots - back) % slots) * N;
    }
    float* slot(std::size_t input, std::size_t back) {
        return fdl[input].data() + ((newest + slots - back) % slots) * N;
    }
    // spread: where the block being filled starts in an input's ring
    float* ring_current(std::size_t input) { return in_buf[input].data() + (blk % 3) * Q; }

    // spread: run the pending steps until the work done reaches the share fill / Q (all of it
    // when the block is complete). Steps of the block completed last (blk - 1): forward FFT of
    // its [previous | own] samples, then the partitions' multiply-accumulates per route (routes
    // sorted by output), then one inverse FFT per output into next_out.
    void pace(const std::vector<Route>& routes) noexcept {
        const double target = fill >= Q ? cum[steps] : cum[steps] * static_cast<double>(fill) / static_cast<double>(Q);
        while (next_step < steps && cum[next_step] < target) {
            const std::size_t k = next_step++;
            if (k < n_in) {
                const float* older = in_buf[k].data() + ((blk + 1) % 3) * Q;   // block blk - 2
                const float* last = in_buf[k].data() + ((blk + 2) % 3) * Q;    // block blk - 1
                std::memcpy(tbuf.data(), older, Q * sizeof(float));
                std::memcpy(tbuf.data() + Q, last, Q * sizeof(float));
                fft.forward_packed(tbuf.data(), slot(k, 0));
            } else if (k < n_in + n_routes * K) {
                const std::size_t j = k - n_in, r = j / K, p = j % K;
                const Route& rt = routes[r];
                fft::mac_packed(N, ir_spec[rt.ir].data() + p * N, slot(rt.input, delay - 2 + p),
                                accs[rt.output].data());
            } else {
                const std::size_t o = k - n_in - n_routes * K;
                fft.inverse_packed(accs[o].data(), tbuf.data());
                std::memcpy(next_out[o].data(), tbuf.data() + Q, Q * sizeof(float));
                accs[o].zero();
            }
        }
    }

    // spread: the block is complete (all steps done): its successor's output becomes due
    void end_block() noexcept {
        std::swap(carry, next_out);
        newest = (newest + 1) % slots;
        ++blk;
        fill = 0;
        next_step = 0;   // the ring block now filling is overwritten sample by sample
    }

    void reset() {
        for (auto& b : in_buf) b.zero();
        for (auto& b : fdl) b.zero();
        for (auto& b : carry) b.zero();
        for (auto& b : accs) b.zero();
        for (auto& b : next_out) b.zero();
        newest = 0;
        fill = 0;
        next_step = 0;
        blk = 0;
    }
};

ConvolutionEngine::ConvolutionEngine(std::size_t n_in, std::size_t n_out,
                                     const std::vector<IrView>& irs,
                                     const std::vector<Route>& routes, std::size_t block_size,
                                     std::size_t max_partition, Schedule schedule)
    : n_in_(n_in), n_out_(n_out), ir_len_(0), head_(0), routes_(routes), schedule_(schedule) {
    if (n_in == 0 || n_out == 0) throw std::invalid_argument("ConvolutionEngine: no channels");
    if (n_in > kMaxChannels || n_out > kMaxChannels)
        throw std::invalid_argument("ConvolutionEngine: at most " + std::to_string(kMaxChannels) +
                                    " channels, got " + std::to_string(std::max(n_in, n_out)));
    if (irs.empty()) throw std::invalid_argument("ConvolutionEngine: no impulse response");
    if (routes.empty()) throw std::invalid_argument("ConvolutionEngine: no routes");
    if (block_size == 0) throw std::invalid_argument("ConvolutionEngine: block_size must be >= 1");
    ir_len_ = irs[0].length;
    for (const IrView& v : irs) {
        if (v.length == 0 || v.data == nullptr)
            throw std::invalid_argument("ConvolutionEngine: empty impulse response");
        if (v.length != ir_len_)
            throw std::invalid_argument("ConvolutionEngine: impulse responses differ in length");
    }
    std::vector<bool> used(irs.size(), false);
    for (const Route& r : routes) {
        if (r.input >= n_in || r.output >= n_out || r.ir >= irs.size())
            throw std::invalid_argument("ConvolutionEngine: route out of range");
        used[r.ir] = true;
    }
    // Routes grouped by output, so each output's multiply-accumulate runs in one pass.
    std::stable_sort(routes_.begin(), routes_.end(),
                     [](const Route& a, const Route& b) { return a.output < b.output; });

    if (block_size > fft::kMaxSize / 2)
        throw std::invalid_argument("ConvolutionEngine: block_size must be at most " +
                                    std::to_string(fft::kMaxSize / 2) + ", got " + std::to_string(block_size));
    if (max_partition > fft::kMaxSize)
        throw std::invalid_argument("ConvolutionEngine: max_partition must be at most " +
                                    std::to_string(fft::kMaxSize) + ", got " + std::to_string(max_partition));
    head_ = std::max(kMinHead, next_pow2(block_size));
    std::size_t maxp = max_partition ? next_pow2(max_partition) : kDefaultMaxPartition;
    maxp = std::max(maxp, head_);
    maxp = std::min(maxp, fft::kMaxSize / 2);
    const bool spread = schedule == Schedule::spread;
    plan_ = plan_partitions(ir_len_, head_, maxp, spread);
    for (const Stage& st : plan_)
        stages_.emplace_back(new StageState(st, n_in, n_out, irs, used, routes_.size(), spread));
    reset();
}

ConvolutionEngine::~ConvolutionEngine() = default;

void ConvolutionEngine::reset() noexcept {
    for (auto& s : stages_) s->reset();
    pos_ = 0;
    t_ = 0;
}

void ConvolutionEngine::process(const float* const* in, float* const* out, std::size_t n) noexcept {
    const ScopedFlushDenormals ftz;  // decaying tails: no slow denormal path, host mode restored
    std::size_t done = 0;
    while (done < n) {
        const std::size_t len = std::min(n - done, head_ - pos_);
        process_chunk(in, out, done, len);
        done += len;
    }
}

// One chunk that stays inside the current head block (and so inside every stage's block).
// Steps: buffer input -> head: forward FFT of the partial block, multiply-accumulate with
// the head's first partition, add the carried sum of its older partitions, inverse FFT ->
// add what later stages computed for these samples -> mix -> at block ends, advance the
// delay lines and compute what is due next.
void ConvolutionEngine::process_chunk(const float* const* in, float* const* out,
                                      std::size_t offset, std::size_t len) noexcept {
    StageState& h = *stages_[0];
    const std::size_t Q = h.Q, N = h.N;

    // 1. buffer input into every stage (before any output is written: in may alias out)
    for (std::size_t i = 0; i < n_in_; ++i) {
        const float* src = in[i] + offset;
        std::memcpy(h.in_buf[i].data() + Q + pos_, src, len * sizeof(float));
        for (std::size_t s = 1; s < stages_.size(); ++s) {
            StageState& st = *stages_[s];
            float* dst = st.spread ? st.ring_current(i) + st.fill : st.in_buf[i].data() + st.Q + st.fill;
            std::memcpy(dst, src, len * sizeof(float));
        }
    }
    // 2. head: spectrum of [previous block | partial current block] into the newest slot
    for (std::size_t i = 0; i < n_in_; ++i) h.fft.forward_packed(h.in_buf[i].data(), h.slot(i, 0));

    // 3. per output: head partition 0 + carried partitions, inverse FFT, later stages, mix
    std::size_t r = 0;
    for (std::size_t o = 0; o < n_out_; ++o) {
        std::memcpy(h.acc.data(), h.carry[o].data(), N * sizeof(float));
        for (; r < routes_.size() && routes_[r].output == o; ++r)
            fft::mac_packed(N, h.ir_spec[routes_[r].ir].data(), h.slot(routes_[r].input, 0), h.acc.data());
        h.fft.inverse_packed(h.acc.data(), h.tbuf.data());
        const float* wet = h.tbuf.data() + Q + pos_;
        float* y = out[o] + offset;
        for (std::size_t k = 0; k < len; ++k) y[k] = wet[k];
        for (std::size_t s = 1; s < stages_.size(); ++s) {
            const float* later = stages_[s]->carry[o].data() + stages_[s]->fill;
            for (std::size_t k = 0; k < len; ++k) y[k] += later[k];
        }
        const float* dry = h.in_buf[n_in_ == 1 ? 0 : std::min(o, n_in_ - 1)].data() + Q + pos_;
        const float wg = wet_, dg = dry_;
        if (dg != 0.0f) {
            for (std::size_t k = 0; k < len; ++k) y[k] = wg * y[k] + dg * dry[k];
        } else if (wg != 1.0f) {
            for (std::size_t k = 0; k < len; ++k) y[k] *= wg;
        }
    }

    pos_ += len;
    t_ += len;
    for (std::size_t s = 1; s < stages_.size(); ++s) stages_[s]->fill += len;

    // 4. head block complete: shift input, advance the FDL, sum partitions 1..K-1 for the
    //    next block (their inputs are all complete now)
    if (pos_ == Q) {
        for (std::size_t i = 0; i < n_in_; ++i) {
            float* b = h.in_buf[i].data();
            std::memcpy(b, b + Q, Q * sizeof(float));
            std::memset(b + Q, 0, Q * sizeof(float));
        }
        h.newest = (h.newest + 1) % h.slots;
        std::size_t rr = 0;
        for (std::size_t o = 0; o < n_out_; ++o) {
            float* c = h.carry[o].data();
            std::memset(c, 0, N * sizeof(float));
            for (; rr < routes_.size() && routes_[rr].output == o; ++rr)
                for (std::size_t p = 1; p < h.K; ++p)
                    fft::mac_packed(N, h.ir_spec[routes_[rr].ir].data() + p * N,
                                    h.slot(routes_[rr].input, p), c);
        }
        pos_ = 0;
    }
    // 5. later stages. Spread: the pending block's steps, paced by this block's fill; at its
    //    end the result becomes due. Immediate: when the block is complete, FFT into the FDL,
    //    multiply-accumulate over the partitions (delayed by their offset), inverse FFT ->
    //    the next Q samples.
    for (std::size_t s = 1; s < stages_.size(); ++s) {
        StageState& st = *stages_[s];
        if (st.spread) {
            st.pace(routes_);
            if (st.fill >= st.Q) st.end_block();
            continue;
        }
        if (st.fill < st.Q) continue;
        st.newest = (st.newest + 1) % st.slots;
        for (std::size_t i = 0; i < n_in_; ++i) {
            float* b = st.in_buf[i].data();
            st.fft.forward_packed(b, st.slot(i, 0));
            std::memcpy(b, b + st.Q, st.Q * sizeof(float));
        }
        std::size_t rr = 0;
        for (std::size_t o = 0; o < n_out_; ++o) {
            std::memset(st.acc.data(), 0, st.N * sizeof(float));
            for (; rr < routes_.size() && routes_[rr].output == o; ++rr)
                for (std::size_t p = 0; p < st.K; ++p)
                    fft::mac_packed(st.N, st.ir_spec[routes_[rr].ir].data() + p * st.N,
                                    st.slot(routes_[rr].input, st.delay - 1 + p), st.acc.data());
            st.fft.inverse_packed(st.acc.data(), st.tbuf.data());
            std::memcpy(st.carry[o].data(), st.tbuf.data() + st.Q, st.Q * sizeof(float));
        }
        st.fill = 0;
    }
}

// ---------------------------------------------------------------------------------------

std::size_t offline_block_size(std::size_t ir_len, std::size_t n) {
    if (ir_len == 0 || ir_len > kMaxIrLength || n > kMaxIrLength)
        throw std::invalid_argument("offline_block_size: lengths must be 1 to 2^32 samples");
    std::size_t best = 1024;
    double best_cost = -1.0;
    const std::size_t total = n + ir_len;
    for (std::size_t p = 256; p <= kOfflineMaxPartition; p <<= 1) {
        double c = plan_cost(plan_partitions(ir_len, p, kOfflineMaxPartition));
        // a block much longer than the signal is wasted work
        const double blocks = static_cast<double>((total + p - 1) / p) * static_cast<double>(p);
        c *= blocks / static_cast<double>(total);
        if (best_cost < 0.0 || c < best_cost) {
            best_cost = c;
            best = p;
        }
    }
    return best;
}

void convolve_offline(std::size_t n_in, std::size_t n_out, const float* const* in, std::size_t n,
                      const std::vector<IrView>& irs, const std::vector<Route>& routes,
                      float* const* out, unsigned threads, std::size_t out_len) {
    if (irs.empty() || irs[0].length == 0) throw std::invalid_argument("convolve: empty impulse response");
    if (n_in > kMaxChannels || n_out > kMaxChannels)
        throw std::invalid_argument("convolve: at most " + std::to_string(kMaxChannels) + " channels");
    const std::size_t m = irs[0].length;
    for (const IrView& v : irs)
        if (v.length != m || v.data == nullptr) throw std::invalid_argument("convolve: impulse responses differ in length");
    for (const Route& r : routes)
        if (r.input >= n_in || r.output >= n_out || r.ir >= irs.size())
            throw std::invalid_argument("convolve: route out of range");
    if (n == 0) return;
    if (out_len == 0) out_len = n + m - 1;
    if (out_len < n || out_len > n + m - 1)
        throw std::invalid_argument("convolve: output length must be between the input length and the full length");
    const std::size_t total = out_len;
    threads = detail::resolve_threads(threads);

    // Tasks: (output, time segment). Convolution is linear, so a long signal can be cut
    // into segments whose outputs overlap by m - 1 samples and are summed afterwards.
    std::size_t segs = 1;
    if (n_out < threads) segs = std::min<std::size_t>(threads / n_out, std::max<std::size_t>(1, n / (4 * m + 65536)));
    segs = std::max<std::size_t>(segs, 1);
    const std::size_t seg_len = (n + segs - 1) / segs;
    const std::size_t block = offline_block_size(m, seg_len);

    struct Task { std::size_t o, seg; };
    std::vector<Task> tasks;
    for (std::size_t o = 0; o < n_out; ++o)
        for (std::size_t s = 0; s < segs; ++s) tasks.push_back({o, s});
    // Each task writes its segment's first len samples straight into the output (the segments
    // tile [0, n)) and the m - 1 samples of tail that overlap the next segments into a small
    // buffer of its own, added after all tasks are done: no copy of the whole output.
    std::vector<std::vector<float>> tails(tasks.size());
    for (std::size_t o = 0; o < n_out; ++o)
        if (total > n) std::memset(out[o] + n, 0, (total - n) * sizeof(float));

    auto run = [&](std::size_t k) {
        const Task& t = tasks[k];
        // only the inputs this output listens to get an engine input (no wasted FFTs)
        std::vector<Route> mine;
        std::vector<std::size_t> inputs;
        for (const Route& r : routes) {
            if (r.output != t.o) continue;
            auto it = std::find(inputs.begin(), inputs.end(), r.input);
            const std::size_t local = static_cast<std::size_t>(it - inputs.begin());
            if (it == inputs.end()) inputs.push_back(r.input);
            mine.push_back({local, 0, r.ir});
        }
        const std::size_t start = t.seg * seg_len;
        const std::size_t len = start < n ? std::min(seg_len, n - start) : 0;
        if (len == 0) return;
        const std::size_t end = std::min(len + m - 1, total - start);  // samples this task makes
        float* main_dst = out[t.o] + start;
        std::vector<float>& tail = tails[k];
        tail.assign(end - len, 0.0f);
        if (mine.empty()) {
            std::memset(main_dst, 0, len * sizeof(float));
            return;
        }
        const std::size_t k_in = inputs.size();
        ConvolutionEngine eng(k_in, 1, irs, mine, block, std::max<std::size_t>(block, kOfflineMaxPartition),
                              Schedule::immediate);
        std::vector<const float*> ip(k_in);
        for (std::size_t i = 0; i < k_in; ++i) ip[i] = in[inputs[i]] + start;
        float* op[1] = {main_dst};
        eng.process(ip.data(), op, len);
        // flush the tail with zeros, into the task's own buffer
        std::vector<float> zeros(block, 0.0f);
        std::vector<const float*> zp(k_in, zeros.data());
        std::size_t done = 0;
        while (done < tail.size()) {
            const std::size_t c = std::min(block, tail.size() - done);
            op[0] = tail.data() + done;
            eng.process(zp.data(), op, c);
            done += c;
        }
    };

    std::atomic<std::size_t> next{0};
    std::exception_ptr err;
    std::atomic<bool> failed{false};
    auto worker = [&]() {
        for (;;) {
            const std::size_t k = next.fetch_add(1);
            if (k >= tasks.size() || failed.load()) return;
            try {
                run(k);
            } catch (...) {
                if (!failed.exchange(true)) err = std::current_exception();
                return;
            }
        }
    };
    const unsigned nt = static_cast<unsigned>(std::min<std::size_t>(threads, tasks.size()));
    detail::run_workers(nt, [&](unsigned) { worker(); });
    if (err) std::rethrow_exception(err);

    // Add each segment's tail onto what the following segments (or the zeros past n) hold.
    for (std::size_t k = 0; k < tasks.size(); ++k) {
        const std::size_t start = tasks[k].seg * seg_len;
        if (start >= n) continue;
        const std::size_t len = std::min(seg_len, n - start);
        float* y = out[tasks[k].o] + start + len;
        const std::vector<float>& v = tails[k];
        for (std::size_t j = 0; j < v.size(); ++j) y[j] += v[j];
    }
}

}  // namespace irforge
