// plugins/common/ir_source.h - where a plugin's impulse response comes from: a sound file, or
// a blob embedded in the plugin state (so a DAW session carries its IR), resampled to the
// host rate. Used off the audio thread only (it allocates and reads files).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace irforge {
namespace plugin {

// An IR as loaded: `channels` channels of `frames` samples, channel-major, at `sample_rate`.
struct IrSource {
    std::uint32_t channels = 0;
    std::uint64_t frames = 0;
    double sample_rate = 0.0;
    std::vector<float> data;  // channels * frames, channel-major
    std::string origin;       // the file it came from ("" if none was recorded)

    const float* channel(std::uint32_t c) const { return data.data() + c * frames; }
};

// Most samples per channel a plugin accepts (60 s at 192 kHz).
constexpr std::uint64_t kMaxIrFrames = 60ull * 192000ull;

// Reads WAV/AIFF/FLAC/... through libsndfile. False with a message naming the problem (no
// such file, not a sound file, empty, NaN/Inf, silent, too long, unsupported channel count).
bool load_ir_file(const std::string& path, IrSource& out, std::string& error);

// The embedded form (see encode_embedded_header): standard base64 of
//   "IRFG" | u32 version=1 | u32 channels | u64 frames | f64 sample_rate |
//   u32 origin length | origin bytes | float32 samples, channel-major, little endian.
// irforge.plugins (Python) writes it; this is the only other place that reads it.
bool decode_embedded(const std::string& base64, IrSource& out, std::string& error);
std::string encode_embedded(const IrSource& ir);

// Checks shared by both sources (finite, not silent, 1/2/4 channels, length bounds).
bool validate(const IrSource& ir, std::string& error);

// The IR at `rate` (soxr, very high quality; samples scaled by old/new rate, as
// irforge.ImpulseResponse.resample does). Returns frames per channel; `out` is channel-major.
std::uint64_t resample(const IrSource& ir, double rate, std::vector<float>& out, std::string& error);

}  // namespace plugin
}  // namespace irforge
