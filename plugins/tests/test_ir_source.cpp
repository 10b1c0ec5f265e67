// plugins/tests/test_ir_source.cpp - the plugins' IR loading without a host or Python:
// the embedded form round trip and its refusals, sound files, resampling.
#include <sndfile.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ir_source.h"

namespace ip = irforge::plugin;

static int failures = 0, passed = 0;
#define CHECK(cond)                                                            \
    do {                                                                       \
        if (cond) ++passed;                                                    \
        else { ++failures; std::fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } \
    } while (0)

static ip::IrSource make(std::uint32_t channels, std::uint64_t frames, double rate) {
    ip::IrSource ir;
    ir.channels = channels;
    ir.frames = frames;
    ir.sample_rate = rate;
    ir.origin = "/tmp/some ir.wav";
    ir.data.resize(channels * frames);
    unsigned s = 12345;
    for (std::uint32_t c = 0; c < channels; ++c)
        for (std::uint64_t t = 0; t < frames; ++t) {
            s = s * 1103515245u + 12345u;
            ir.data[c * frames + t] = float(std::exp(-double(t) / 500.0) * ((s >> 16) / 32768.0 - 1.0));
        }
    return ir;
}

int main() {
    std::string err;
    // the embedded form: exact round trip, for every supported channel count
    for (std::uint32_t ch : {1u, 2u, 4u}) {
        const ip::IrSource ir = make(ch, 3001, 44100.0);
        ip::IrSource back;
        CHECK(ip::decode_embedded(ip::encode_embedded(ir), back, err));
        CHECK(back.channels == ch && back.frames == 3001 && back.sample_rate == 44100.0);
        CHECK(back.data == ir.data && back.origin == ir.origin);
    }
    // refusals, each with a message
    {
        const std::string good = ip::encode_embedded(make(2, 100, 48000.0));
        ip::IrSource out;
        err.clear();
        CHECK(!ip::decode_embedded(good.substr(0, good.size() - 40), out, err) && !err.empty());
        CHECK(!ip::decode_embedded("not base64 at all!", out, err));
        CHECK(!ip::decode_embedded("QUJDRA==", out, err) && err.find("marker") != std::string::npos);
        CHECK(!ip::decode_embedded("", out, err));
        ip::IrSource three = make(3, 100, 48000.0);
        CHECK(!ip::decode_embedded(ip::encode_embedded(three), out, err) && err.find("3-channel") != std::string::npos);
        ip::IrSource nan = make(1, 100, 48000.0);
        nan.data[50] = std::nanf("");
        CHECK(!ip::decode_embedded(ip::encode_embedded(nan), out, err) && err.find("NaN") != std::string::npos);
        ip::IrSource silent = make(1, 100, 48000.0);
        for (float& v : silent.data) v = 0.0f;
        CHECK(!ip::decode_embedded(ip::encode_embedded(silent), out, err) && err.find("silent") != std::string::npos);
    }
    // a sound file: written with libsndfile as float, read back exactly, channels de-interleaved
    {
        const ip::IrSource ir = make(2, 2000, 48000.0);
        char path[] = "/tmp/irforge-test-ir-XXXXXX.wav";
        const int fd = mkstemps(path, 4);
        CHECK(fd >= 0);
        SF_INFO info{};
        info.channels = 2;
        info.samplerate = 48000;
        info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
        SNDFILE* f = sf_open_fd(fd, SFM_WRITE, &info, 1);
        std::vector<float> inter(2 * 2000);
        for (int t = 0; t < 2000; ++t)
            for (int c = 0; c < 2; ++c) inter[t * 2 + c] = ir.data[c * 2000 + t];
        sf_writef_float(f, inter.data(), 2000);
        sf_close(f);
        ip::IrSource back;
        CHECK(ip::load_ir_file(path, back, err));
        CHECK(back.channels == 2 && back.frames == 2000 && back.sample_rate == 48000.0 && back.data == ir.data);
        std::remove(path);
        CHECK(!ip::load_ir_file(path, back, err) && err.find(path) != std::string::npos);
    }
    // resampling: same rate is the identity; 44.1 -> 48 kHz keeps the length ratio and the
    // gain at DC (an IR is a density: sum over samples * (1 / rate) is kept)
    {
        const ip::IrSource ir = make(1, 4410, 44100.0);
        std::vector<float> out;
        CHECK(ip::resample(ir, 44100.0, out, err) == 4410 && out == ir.data);
        ip::IrSource smooth = ir;  // positive and slowly varying: its DC gain is well defined
        for (std::uint64_t t = 0; t < smooth.frames; ++t)
            smooth.data[t] = float(std::exp(-double(t) / 500.0) * std::sin(3.14159265 * double(t + 1) / 60.0) * std::sin(3.14159265 * double(t + 1) / 60.0));
        const std::uint64_t n = ip::resample(smooth, 48000.0, out, err);
        CHECK(n == 4800);
        double s_in = 0, s_out = 0;
        for (float v : smooth.data) s_in += v;
        for (float v : out) s_out += v;
        if (!(std::fabs(s_out - s_in) < 1e-3 * std::fabs(s_in)))
            std::fprintf(stderr, "DC: in %.6f out %.6f\n", s_in, s_out);
        CHECK(std::fabs(s_out - s_in) < 1e-3 * std::fabs(s_in));
    }
    std::printf("test_ir_source: %d passed, %d failed\n", passed, failures);
    return failures == 0 ? 0 : 1;
}
