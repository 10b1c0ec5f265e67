#include "irforge/cpu.h"

#include <cstdlib>
#include <cstring>

namespace irforge {
namespace cpu {

namespace {

bool detect() {
    const char* force = std::getenv("IRFORGE_ISA");
    if (force && std::strcmp(force, "generic") == 0) return false;
#if defined(IRFORGE_HAVE_AVX2_KERNELS) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

}  // namespace

bool avx2_fma() {
    static const bool ok = detect();
    return ok;
}

}  // namespace cpu
}  // namespace irforge
