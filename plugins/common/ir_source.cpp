// plugins/common/ir_source.cpp - IR loading, the embedded state form, resampling.
#include "ir_source.h"

#include <sndfile.h>
#include <soxr.h>

#include <cmath>
#include <cstring>
#include <limits>

namespace irforge {
namespace plugin {
namespace {

const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string b64_encode(const unsigned char* p, std::size_t n) {
    std::string s;
    s.reserve((n + 2) / 3 * 4);
    for (std::size_t i = 0; i < n; i += 3) {
        std::uint32_t v = std::uint32_t(p[i]) << 16;
        if (i + 1 < n) v |= std::uint32_t(p[i + 1]) << 8;
        if (i + 2 < n) v |= p[i + 2];
        s += kB64[(v >> 18) & 63];
        s += kB64[(v >> 12) & 63];
        s += i + 1 < n ? kB64[(v >> 6) & 63] : '=';
        s += i + 2 < n ? kB64[v & 63] : '=';
    }
    return s;
}

bool b64_decode(const std::string& s, std::vector<unsigned char>& out) {
    int table[256];
    for (int& t : table) t = -1;
    for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(kB64[i])] = i;
    out.clear();
    out.reserve(s.size() / 4 * 3);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char ch : s) {
        const unsigned char c = static_cast<unsigned char>(ch);
        if (c == '=' ) break;
        if (c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
        if (table[c] < 0) return false;
        acc = (acc << 6) | std::uint32_t(table[c]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<unsigned char>((acc >> bits) & 0xFF));
        }
    }
    return true;
}

template <typename T>
bool take(const std::vector<unsigned char>& b, std::size_t& pos, T& v) {
    if (pos + sizeof(T) > b.size()) return false;
    std::memcpy(&v, b.data() + pos, sizeof(T));  // the blob is little endian, as are our targets
    pos += sizeof(T);
    return true;
}

template <typename T>
void put(std::string& s, T v) {
    s.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

}  // namespace

bool validate(const IrSource& ir, std::string& error) {
    if (ir.channels != 1 && ir.channels != 2 && ir.channels != 4) {
        error = std::to_string(ir.channels) +
                "-channel IR: the plugin takes 1 (mono), 2 (stereo) or 4 (true stereo LL, LR, RL, RR) channels";
        return false;
    }
    if (ir.frames == 0) { error = "the IR is empty (0 samples)"; return false; }
    if (ir.frames > kMaxIrFrames) {
        error = "the IR is longer than 60 s at 192 kHz (" + std::to_string(ir.frames) + " samples): trim it";
        return false;
    }
    if (!(ir.sample_rate >= 1000.0 && ir.sample_rate <= 1536000.0)) {
        error = "implausible IR sample rate " + std::to_string(ir.sample_rate) + " Hz";
        return false;
    }
    if (ir.data.size() != std::size_t(ir.channels) * ir.frames) { error = "IR data size mismatch"; return false; }
    bool audible = false;
    for (float v : ir.data) {
        if (!std::isfinite(v)) { error = "the IR contains NaN or Inf samples"; return false; }
        if (v != 0.0f) audible = true;
    }
    if (!audible) { error = "the IR is silent (all samples are zero)"; return false; }
    return true;
}

bool load_ir_file(const std::string& path, IrSource& out, std::string& error) {
    SF_INFO info;
    std::memset(&info, 0, sizeof(info));
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
    if (f == nullptr) {
        error = "cannot read IR file '" + path + "': " + sf_strerror(nullptr);
        return false;
    }
    IrSource ir;
    ir.channels = info.channels > 0 ? std::uint32_t(info.channels) : 0;
    ir.frames = info.frames > 0 ? std::uint64_t(info.frames) : 0;
    ir.sample_rate = info.samplerate;
    ir.origin = path;
    if (ir.channels == 0 || ir.channels > 64 || ir.frames > kMaxIrFrames) {
        sf_close(f);
        ir.data.clear();
        if (!validate(ir, error)) error = "'" + path + "': " + error;
        return false;
    }
    // a 4-channel file may be first-order ambisonic B-format, not true stereo (irforge's
    // layout rules, irforge/_layout.py: the header or the name tells)
    if (ir.channels == 4) {
        std::string lower;
        const std::size_t slash = path.find_last_of('/');
        for (char ch : path.substr(slash == std::string::npos ? 0 : slash + 1))
            lower += char(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
        const bool named = lower.find("bformat") != std::string::npos || lower.find("b-format") != std::string::npos ||
                           lower.find("ambix") != std::string::npos || lower.find("fuma") != std::string::npos;
        const bool flagged = sf_command(f, SFC_WAVEX_GET_AMBISONIC, nullptr, 0) == SF_AMBISONIC_B_FORMAT;
        if (named || flagged) {
            sf_close(f);
            error = "'" + path + "' looks like ambisonic B-format (" + (flagged ? "its header" : "its name") +
                    "), not a true-stereo IR: decode it to stereo first, e.g. irforge.Convolver(ir, "
                    "sample_rate=..., layout=\"bformat\").to_pedalboard(), or rename it if it is true stereo";
            return false;
        }
    }
    std::vector<float> interleaved(std::size_t(ir.channels) * ir.frames);
    const sf_count_t got = sf_readf_float(f, interleaved.data(), sf_count_t(ir.frames));
    sf_close(f);
    if (got != sf_count_t(ir.frames)) {
        error = "'" + path + "' is truncated or corrupt: read " + std::to_string(got) + " of " +
                std::to_string(ir.frames) + " frames";
        return false;
    }
    ir.data.resize(interleaved.size());
    for (std::uint64_t t = 0; t < ir.frames; ++t)
        for (std::uint32_t c = 0; c < ir.channels; ++c)
            ir.data[c * ir.frames + t] = interleaved[t * ir.channels + c];
    if (!validate(ir, error)) { error = "'" + path + "': " + error; return false; }
    out = std::move(ir);
    return true;
}

bool decode_embedded(const std::string& base64, IrSource& out, std::string& error) {
    std::vector<unsigned char> b;
    if (!b64_decode(base64, b)) { error = "the embedded IR is not valid base64"; return false; }
    std::size_t pos = 0;
    std::uint32_t version = 0, channels = 0, origin_len = 0;
    std::uint64_t frames = 0;
    double rate = 0.0;
    if (b.size() < 4 || std::memcmp(b.data(), "IRFG", 4) != 0) {
        error = "the embedded IR does not start with the irforge marker";
        return false;
    }
    pos = 4;
    if (!take(b, pos, version) || version != 1) { error = "unknown embedded IR version"; return false; }
    if (!take(b, pos, channels) || !take(b, pos, frames) || !take(b, pos, rate) || !take(b, pos, origin_len) ||
        pos + origin_len > b.size()) {
        error = "the embedded IR header is truncated";
        return false;
    }
    IrSource ir;
    ir.channels = channels;
    ir.frames = frames;
    ir.sample_rate = rate;
    ir.origin.assign(reinterpret_cast<const char*>(b.data() + pos), origin_len);
    pos += origin_len;
    if (channels == 0 || channels > 64 || frames > kMaxIrFrames) {
        if (!validate(ir, error)) return false;
    }
    const std::size_t n = std::size_t(channels) * frames;
    if (b.size() - pos != n * sizeof(float)) {
        error = "the embedded IR holds " + std::to_string((b.size() - pos) / sizeof(float)) +
                " samples, its header says " + std::to_string(n);
        return false;
    }
    ir.data.resize(n);
    std::memcpy(ir.data.data(), b.data() + pos, n * sizeof(float));
    if (!validate(ir, error)) { error = "embedded IR: " + error; return false; }
    out = std::move(ir);
    return true;
}

std::string encode_embedded(const IrSource& ir) {
    std::string raw = "IRFG";
    put<std::uint32_t>(raw, 1);
    put<std::uint32_t>(raw, ir.channels);
    put<std::uint64_t>(raw, ir.frames);
    put<double>(raw, ir.sample_rate);
    put<std::uint32_t>(raw, std::uint32_t(ir.origin.size()));
    raw += ir.origin;
    raw.append(reinterpret_cast<const char*>(ir.data.data()), ir.data.size() * sizeof(float));
    return b64_encode(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

std::uint64_t resample(const IrSource& ir, double rate, std::vector<float>& out, std::string& error) {
    if (rate == ir.sample_rate) {
        out = ir.data;
        return ir.frames;
    }
    const double ratio = rate / ir.sample_rate;
    const std::uint64_t n_out = std::uint64_t(std::ceil(double(ir.frames) * ratio));
    if (n_out == 0 || n_out > 4 * kMaxIrFrames) { error = "resampled IR length out of range"; return 0; }
    out.assign(std::size_t(ir.channels) * n_out, 0.0f);
    std::vector<double> in_d(ir.frames), out_d(n_out);
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT64_I, SOXR_FLOAT64_I);
    const soxr_quality_spec_t q = soxr_quality_spec(SOXR_VHQ, 0);
    const double scale = ir.sample_rate / rate;  // an IR is a density in time: keep the loudness
    for (std::uint32_t c = 0; c < ir.channels; ++c) {
        const float* src = ir.channel(c);
        for (std::uint64_t t = 0; t < ir.frames; ++t) in_d[t] = src[t];
        std::size_t done = 0;
        soxr_error_t e = soxr_oneshot(ir.sample_rate, rate, 1, in_d.data(), ir.frames, nullptr,
                                      out_d.data(), n_out, &done, &io, &q, nullptr);
        if (e != nullptr) { error = std::string("soxr: ") + e; return 0; }
        float* dst = out.data() + c * n_out;
        for (std::size_t t = 0; t < done && t < n_out; ++t) dst[t] = float(out_d[t] * scale);
    }
    return n_out;
}

}  // namespace plugin
}  // namespace irforge
