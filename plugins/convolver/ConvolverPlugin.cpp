// plugins/convolver/ConvolverPlugin.cpp - the irforge Convolver as a DPF plugin (VST3, LV2).
//
// The audio path is the core's zero-latency partitioned ConvolutionEngine (irforge_core),
// exactly as irforge.Convolver uses it, so the plugin and the Python effect give the same
// output. Routing follows irforge.convolve: a mono IR convolves each channel, a 2-channel IR
// gives L*ir0, R*ir1 (a mono input, which hosts duplicate onto both inputs, becomes
// mono-to-stereo), a 4-channel IR is true stereo (LL, LR, RL, RR).
//
// States (DPF key/value strings):
//   ir_embedded  the IR itself (base64, plugins/common/ir_source.h). getState returns the IR
//                in use, also when it came from a file, so a saved session carries its IR.
//   ir_file      a path (LV2 hosts offer a file chooser). Setting it loads the file; setting
//                the path the embedded IR came from again is a no-op, so restoring a session
//                (ir_embedded first, then ir_file) loads once and survives a moved file.
// With no IR, or after a failed load, the output is the dry input (the `status` output
// parameter is then 0 or 2), and the host keeps running.
//
// Threads: loading, resampling (soxr) and engine construction happen in setState and
// sampleRateChanged/bufferSizeChanged, which DPF calls off the audio thread (VST3 state calls,
// the LV2 worker). The new engine is handed to run() through an atomic pointer; run() fades
// from the old engine to the new one over kFadeFrames without a click and hands the old one
// back through a second atomic slot to be freed off the audio thread. run() never allocates,
// locks or throws, and flushes denormals.
#include "DistrhoPlugin.hpp"

#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "irforge/convolver.h"
#include "irforge/denormals.h"
#include "ir_source.h"

START_NAMESPACE_DISTRHO

namespace ip = irforge::plugin;

namespace {

enum ParameterIndex : uint32_t { kMix = 0, kGainDb, kStatus, kParameterCount };
enum StateIndex : uint32_t { kStateEmbedded = 0, kStateFile, kStateCount };
enum Status : int { kNoIr = 0, kLoaded = 1, kFailed = 2 };

constexpr uint32_t kFadeFrames = 2048;  // 43 ms at 48 kHz: the crossfade to a new IR
constexpr uint32_t kMinScratch = 4096;
constexpr int kRetiredSlots = 4;        // engines run() has let go of, awaiting deletion

// One prepared engine, or the dry path (engine == nullptr).
struct Loaded {
    std::unique_ptr<irforge::ConvolutionEngine> engine;
};

}  // namespace

class IrforgeConvolver : public Plugin {
public:
    IrforgeConvolver() : Plugin(kParameterCount, 0, kStateCount) { allocate_scratch(getBufferSize()); }

    ~IrforgeConvolver() override {
        delete pending_.exchange(nullptr);
        free_retired();
        delete current_;
        delete fading_;
    }

protected:
    const char* getLabel() const override { return "irforge_convolver"; }
    const char* getDescription() const override {
        return "Zero-latency partitioned convolution with an impulse response (irforge core).";
    }
    const char* getMaker() const override { return "irforge"; }
    const char* getHomePage() const override { return "https://github.com/irforge/irforge"; }
    const char* getLicense() const override { return "MIT"; }
    uint32_t getVersion() const override { return d_version(0, 1, 0); }
    int64_t getUniqueId() const override { return d_cconst('I', 'r', 'C', 'v'); }

    void initParameter(uint32_t index, Parameter& p) override {
        switch (index) {
        case kMix:
            p.hints = kParameterIsAutomatable;
            p.name = "Mix";
            p.symbol = "mix";
            p.ranges.def = 1.0f; p.ranges.min = 0.0f; p.ranges.max = 1.0f;
            p.description = "0 = dry only, 1 = wet only; out = (1 - mix) * dry + mix * gain * wet";
            break;
        case kGainDb:
            p.hints = kParameterIsAutomatable;
            p.name = "Wet gain";
            p.symbol = "gain_db";
            p.unit = "dB";
            p.ranges.def = 0.0f; p.ranges.min = -60.0f; p.ranges.max = 24.0f;
            p.description = "Gain of the convolved (wet) signal";
            break;
        case kStatus:
            p.hints = kParameterIsOutput | kParameterIsInteger;
            p.name = "IR status";
            p.symbol = "status";
            p.ranges.def = 0.0f; p.ranges.min = 0.0f; p.ranges.max = 2.0f;
            p.description = "0 = no IR (dry), 1 = IR loaded, 2 = the last load failed (dry)";
            break;
        }
    }

    void initState(uint32_t index, State& s) override {
        if (index == kStateEmbedded) {
            s.key = "ir_embedded";
            s.label = "Embedded IR";
            s.hints = kStateIsBase64Blob | kStateIsOnlyForDSP;
            s.description = "The impulse response itself (irforge's base64 form), so a session carries it";
        } else if (index == kStateFile) {
            s.key = "ir_file";
            s.label = "IR file";
            s.hints = kStateIsFilenamePath;
            s.description = "An impulse-response sound file (WAV, AIFF, FLAC): 1, 2 or 4 channels";
        }
    }

    float getParameterValue(uint32_t index) const override {
        switch (index) {
        case kMix: return mix_.load(std::memory_order_relaxed);
        case kGainDb: return gain_db_.load(std::memory_order_relaxed);
        case kStatus: return float(status_.load(std::memory_order_relaxed));
        }
        return 0.0f;
    }

    void setParameterValue(uint32_t index, float value) override {
        if (!std::isfinite(value)) return;
        if (index == kMix) mix_.store(value < 0.0f ? 0.0f : (value > 1.0f ? 1.0f : value), std::memory_order_relaxed);
        else if (index == kGainDb)
            gain_db_.store(value < -60.0f ? -60.0f : (value > 24.0f ? 24.0f : value), std::memory_order_relaxed);
    }

    String getState(const char* key) const override {
        std::lock_guard<std::mutex> g(mutex_);
        if (std::strcmp(key, "ir_file") == 0) return String(file_.c_str());
        if (std::strcmp(key, "ir_embedded") == 0) return String(embedded_.c_str());
        return String();
    }

    void setState(const char* key, const char* value) override {
        const std::string v = value != nullptr ? value : "";
        std::lock_guard<std::mutex> g(mutex_);
        if (std::strcmp(key, "ir_file") == 0) {
            if (v == file_ && !failed_) return;  // the IR from this file is already in use
            file_ = v;
            if (v.empty()) {
                have_source_ = false;
                embedded_.clear();
                publish_dry(kNoIr);
                return;
            }
            ip::IrSource src;
            std::string error;
            if (!ip::load_ir_file(v, src, error)) return fail(error);
            adopt(std::move(src));
        } else if (std::strcmp(key, "ir_embedded") == 0) {
            if (v.empty() || v == embedded_) return;
            ip::IrSource src;
            std::string error;
            if (!ip::decode_embedded(v, src, error)) return fail(error);
            file_ = src.origin;
            adopt(std::move(src));
        }
    }

    void sampleRateChanged(double) override { rebuild(); }

    // The engine takes any block size, so a new maximum only grows the scratch buffers
    // (hosts call this while processing is stopped; pedalboard does when a call is shorter
    // than its buffer_size).
    void bufferSizeChanged(uint32_t frames) override {
        if (frames > scratch_frames_) allocate_scratch(frames);
    }

    void activate() override {
        // not the audio thread: adopt a pending engine at once and start clean
        if (Loaded* p = pending_.exchange(nullptr)) {
            delete current_;
            current_ = p;
        }
        delete fading_;
        fading_ = nullptr;
        free_retired();
        if (current_ != nullptr && current_->engine) current_->engine->reset();
        fresh_ = true;
        mix_now_ = mix_;
        gain_now_ = db_to_gain(gain_db_);
    }

    void deactivate() override { free_retired(); }

    void run(const float** inputs, float** outputs, uint32_t frames) override {
        irforge::ScopedFlushDenormals ftz;
        if (fresh_) {  // hosts may set the controls after activate(): start at their values
            mix_now_ = mix_;
            gain_now_ = db_to_gain(gain_db_);
        }
        take_pending();
        uint32_t done = 0;
        while (done < frames) {
            const uint32_t n = std::min<uint32_t>(frames - done, scratch_frames_);
            process_chunk(inputs, outputs, done, n);
            done += n;
        }
        if (frames > 0) fresh_ = false;
    }

private:
    static float db_to_gain(float db) { return std::pow(10.0f, db / 20.0f); }

    void allocate_scratch(uint32_t frames) {
        scratch_frames_ = std::max<uint32_t>(frames, kMinScratch);
        for (auto& b : dry_) b.assign(scratch_frames_, 0.0f);
        for (auto& b : wet_) b.assign(scratch_frames_, 0.0f);
        for (auto& b : old_) b.assign(scratch_frames_, 0.0f);
    }

    // ---- off the audio thread (mutex_ held) ------------------------------------------
    void fail(const std::string& error) {
        d_stderr2("irforge Convolver: %s; the output is dry until a valid IR is set", error.c_str());
        have_source_ = false;
        failed_ = true;
        embedded_.clear();
        publish_dry(kFailed);
    }

    void adopt(ip::IrSource&& src) {
        source_ = std::move(src);
        have_source_ = true;
        failed_ = false;
        embedded_ = ip::encode_embedded(source_);
        rebuild_locked();
    }

    void rebuild() {
        std::lock_guard<std::mutex> g(mutex_);
        rebuild_locked();
    }

    void rebuild_locked() {
        if (!have_source_) return;
        std::vector<float> h;
        std::string error;
        const double rate = getSampleRate();
        const std::uint64_t frames = ip::resample(source_, rate, h, error);
        if (frames == 0) return fail(error);
        std::vector<irforge::IrView> irs;
        for (std::uint32_t c = 0; c < source_.channels; ++c) irs.push_back({h.data() + c * frames, std::size_t(frames)});
        std::vector<irforge::Route> routes;
        if (source_.channels == 1) routes = {{0, 0, 0}, {1, 1, 0}};
        else if (source_.channels == 2) routes = {{0, 0, 0}, {1, 1, 1}};
        else routes = {{0, 0, 0}, {0, 1, 1}, {1, 0, 2}, {1, 1, 3}};
        std::unique_ptr<Loaded> l(new Loaded);
        try {
            l->engine.reset(new irforge::ConvolutionEngine(2, 2, irs, routes, std::max<uint32_t>(getBufferSize(), 1)));
        } catch (const std::exception& e) {
            return fail(std::string("cannot prepare the convolution: ") + e.what());
        }
        l->engine->set_gains(1.0f, 0.0f);
        publish(l.release(), kLoaded);
    }

    void publish_dry(int status) { publish(new Loaded, status); }

    void free_retired() {
        for (auto& r : retired_) delete r.exchange(nullptr, std::memory_order_acq_rel);
    }

    void publish(Loaded* l, int status) {
        free_retired();
        delete pending_.exchange(l);  // one the audio thread has not taken yet is replaced
        status_.store(status, std::memory_order_relaxed);
    }

    // ---- the audio thread ----------------------------------------------------------------
    // a free retired slot, or nullptr (all full: the loader has not run since; try later)
    std::atomic<Loaded*>* free_slot() noexcept {
        for (auto& r : retired_)
            if (r.load(std::memory_order_acquire) == nullptr) return &r;
        return nullptr;
    }

    void take_pending() noexcept {
        // one fade at a time: a request that arrives during a fade is taken when it ends
        if (fading_ != nullptr || pending_.load(std::memory_order_acquire) == nullptr) return;
        std::atomic<Loaded*>* slot = free_slot();
        if (slot == nullptr) return;
        Loaded* p = pending_.exchange(nullptr, std::memory_order_acq_rel);
        if (p == nullptr) return;
        if (fresh_ || current_ == nullptr) {  // nothing heard yet: no fade
            slot->store(current_, std::memory_order_release);
            current_ = p;
            return;
        }
        fading_ = current_;
        current_ = p;
        fade_pos_ = 0;
    }

    // y = the output of one engine (or the dry input for the dry path), gains ramped
    void render(Loaded* l, float* const* dst, uint32_t n, float m0, float m1, float g0, float g1) noexcept {
        if (l == nullptr || !l->engine) {
            for (int c = 0; c < 2; ++c) std::memcpy(dst[c], dry_[c].data(), n * sizeof(float));
            return;
        }
        const float* in[2] = {dry_[0].data(), dry_[1].data()};
        l->engine->process(in, dst, n);
        const float step = 1.0f / float(n);
        for (int c = 0; c < 2; ++c) {
            float* y = dst[c];
            const float* x = dry_[c].data();
            if (m0 == m1 && g0 == g1) {
                const float wg = m1 * g1, dg = 1.0f - m1;
                for (uint32_t t = 0; t < n; ++t) y[t] = dg * x[t] + wg * y[t];
            } else {
                for (uint32_t t = 0; t < n; ++t) {
                    const float a = float(t + 1) * step;
                    const float m = m0 + (m1 - m0) * a, g = g0 + (g1 - g0) * a;
                    y[t] = (1.0f - m) * x[t] + m * g * y[t];
                }
            }
        }
    }

    void process_chunk(const float** inputs, float** outputs, uint32_t offset, uint32_t n) noexcept {
        for (int c = 0; c < 2; ++c) std::memcpy(dry_[c].data(), inputs[c] + offset, n * sizeof(float));
        const float m0 = mix_now_, m1 = mix_.load(std::memory_order_relaxed);
        const float g0 = gain_now_, g1 = db_to_gain(gain_db_.load(std::memory_order_relaxed));
        float* wet[2] = {wet_[0].data(), wet_[1].data()};
        render(current_, wet, n, m0, m1, g0, g1);
        if (fading_ != nullptr) {
            float* old[2] = {old_[0].data(), old_[1].data()};
            render(fading_, old, n, m0, m1, g0, g1);
            for (uint32_t t = 0; t < n; ++t) {
                const uint32_t k = fade_pos_ + t;
                const float w = k >= kFadeFrames ? 1.0f : 0.5f - 0.5f * std::cos(float(M_PI) * float(k) / float(kFadeFrames));
                for (int c = 0; c < 2; ++c) wet[c][t] = old[c][t] + w * (wet[c][t] - old[c][t]);
            }
            fade_pos_ += n;
            if (fade_pos_ >= kFadeFrames) {
                // a free slot was reserved when the fade began: only run() fills slots
                if (std::atomic<Loaded*>* slot = free_slot()) {
                    slot->store(fading_, std::memory_order_release);
                    fading_ = nullptr;
                }
            }
        }
        for (int c = 0; c < 2; ++c) std::memcpy(outputs[c] + offset, wet[c], n * sizeof(float));
        mix_now_ = m1;
        gain_now_ = g1;
    }

    // parameters (written by a host thread, read by run())
    std::atomic<float> mix_{1.0f}, gain_db_{0.0f};
    std::atomic<int> status_{kNoIr};

    // loader side
    mutable std::mutex mutex_;
    std::string file_, embedded_;
    ip::IrSource source_;
    bool have_source_ = false;
    bool failed_ = false;

    // hand-over between the loader and run()
    std::atomic<Loaded*> pending_{nullptr};
    std::atomic<Loaded*> retired_[kRetiredSlots] = {};

    // audio thread
    Loaded* current_ = nullptr;
    Loaded* fading_ = nullptr;
    uint32_t fade_pos_ = 0;
    bool fresh_ = true;
    float mix_now_ = 1.0f, gain_now_ = 1.0f;
    uint32_t scratch_frames_ = 0;
    std::vector<float> dry_[2], wet_[2], old_[2];

    DISTRHO_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR(IrforgeConvolver)
};

Plugin* createPlugin() { return new IrforgeConvolver(); }

END_NAMESPACE_DISTRHO
