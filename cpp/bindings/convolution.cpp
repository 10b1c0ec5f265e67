// Bindings of the partitioned convolution engine: the streaming Engine (behind
// irforge.Convolver) and offline convolve (behind irforge.convolve).
#include <string>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "common.h"
#include "irforge/convolver.h"

namespace py = pybind11;
using irforge_py::F32Array;

namespace {

using RouteList = std::vector<std::tuple<std::size_t, std::size_t, std::size_t>>;

std::vector<irforge::Route> to_routes(const RouteList& rl) {
    std::vector<irforge::Route> r;
    for (const auto& t : rl) r.push_back({std::get<0>(t), std::get<1>(t), std::get<2>(t)});
    return r;
}

std::vector<irforge::IrView> to_views(const F32Array& irs) {
    std::vector<irforge::IrView> v;
    const std::size_t m = irs.shape(1);
    for (py::ssize_t k = 0; k < irs.shape(0); ++k) v.push_back({irs.data() + k * m, m});
    return v;
}

class PyEngine {
public:
    PyEngine(const py::handle& irs_in, const RouteList& routes, std::size_t n_in, std::size_t n_out,
             std::size_t block_size, std::size_t max_partition, const std::string& schedule) {
        F32Array irs = irforge_py::as_2d(irs_in, "irs");
        if (irs.shape(1) == 0) throw std::invalid_argument("Engine: empty impulse response");
        irforge::Schedule sched;
        if (schedule == "spread") sched = irforge::Schedule::spread;
        else if (schedule == "immediate") sched = irforge::Schedule::immediate;
        else throw std::invalid_argument("Engine: schedule must be 'spread' or 'immediate', got '" + schedule + "'");
        auto views = to_views(irs);
        auto r = to_routes(routes);
        py::gil_scoped_release nogil;
        eng_ = std::make_unique<irforge::ConvolutionEngine>(n_in, n_out, views, r, block_size, max_partition, sched);
    }

    F32Array process(const py::handle& x_in) {
        F32Array x = irforge_py::as_2d(x_in, "audio");
        if (static_cast<std::size_t>(x.shape(0)) != eng_->n_inputs())
            throw std::invalid_argument("Engine.process: expected " + std::to_string(eng_->n_inputs()) +
                                        " input channels, got " + std::to_string(x.shape(0)));
        const std::size_t n = x.shape(1), n_out = eng_->n_outputs();
        F32Array y({n_out, n});
        std::vector<const float*> ip(eng_->n_inputs());
        std::vector<float*> op(n_out);
        for (std::size_t i = 0; i < ip.size(); ++i) ip[i] = x.data() + i * n;
        for (std::size_t o = 0; o < n_out; ++o) op[o] = y.mutable_data() + o * n;
        {
            py::gil_scoped_release nogil;
            std::lock_guard<std::mutex> lock(mu_);  // one stream: calls from threads take turns
            eng_->process(ip.data(), op.data(), n);
        }
        return y;
    }

    void reset() {
        py::gil_scoped_release nogil;
        std::lock_guard<std::mutex> lock(mu_);
        eng_->reset();
    }
    void set_gains(float wet, float dry) {
        std::lock_guard<std::mutex> lock(mu_);
        eng_->set_gains(wet, dry);
    }
    py::list plan() const {
        py::list l;
        for (const auto& s : eng_->plan()) l.append(py::make_tuple(s.size, s.offset, s.count));
        return l;
    }
    std::size_t n_inputs() const { return eng_->n_inputs(); }
    std::size_t n_outputs() const { return eng_->n_outputs(); }
    std::size_t ir_length() const { return eng_->ir_length(); }

private:
    std::unique_ptr<irforge::ConvolutionEngine> eng_;
    std::mutex mu_;
};

F32Array convolve(const py::handle& x_in, const py::handle& irs_in, const RouteList& routes,
                  std::size_t n_out, unsigned threads, long long length) {
    F32Array x = irforge_py::as_2d(x_in, "audio");
    F32Array irs = irforge_py::as_2d(irs_in, "irs");
    if (irs.shape(1) == 0) throw std::invalid_argument("convolve: empty impulse response");
    const std::size_t n_in = x.shape(0), n = x.shape(1), m = irs.shape(1);
    if (n_in == 0 || n_out == 0) throw std::invalid_argument("convolve: no channels");
    if (n_in > irforge::kMaxChannels || n_out > irforge::kMaxChannels)
        throw std::invalid_argument("convolve: at most " + std::to_string(irforge::kMaxChannels) +
                                    " channels, got " + std::to_string(std::max(n_in, n_out)));
    auto r = to_routes(routes);
    for (const auto& rt : r)
        if (rt.input >= n_in || rt.output >= n_out || rt.ir >= static_cast<std::size_t>(irs.shape(0)))
            throw std::invalid_argument("convolve: route out of range");
    std::size_t total = n ? n + m - 1 : 0;
    if (length >= 0 && n) {
        if (static_cast<std::size_t>(length) < n || static_cast<std::size_t>(length) > total)
            throw std::invalid_argument("convolve: length must be between the input length and the full length");
        total = static_cast<std::size_t>(length);
    }
    F32Array y({n_out, total});
    if (n == 0) return y;
    auto views = to_views(irs);
    std::vector<const float*> ip(n_in);
    std::vector<float*> op(n_out);
    for (std::size_t i = 0; i < n_in; ++i) ip[i] = x.data() + i * n;
    for (std::size_t o = 0; o < n_out; ++o) op[o] = y.mutable_data() + o * total;
    {
        py::gil_scoped_release nogil;
        irforge::convolve_offline(n_in, n_out, ip.data(), n, views, r, op.data(), threads, total);
    }
    return y;
}

}  // namespace

void init_convolution(py::module_& m, py::module_& internal) {
    py::class_<PyEngine>(m, "Engine",
                         "Zero-latency partitioned convolution engine (n_in -> n_out through routed IRs)")
        .def(py::init<const py::handle&, const RouteList&, std::size_t, std::size_t, std::size_t, std::size_t,
                      const std::string&>(),
             py::arg("irs"), py::arg("routes"), py::arg("n_in"), py::arg("n_out"), py::arg("block_size"),
             py::arg("max_partition") = 0, py::arg("schedule") = "spread",
             "schedule: 'spread' (default: later stages' work paced over the following block, bounded "
             "work per call) or 'immediate' (each block's work in the call that completes it)")
        .def("process", &PyEngine::process, py::arg("audio"))
        .def("reset", &PyEngine::reset)
        .def("set_gains", &PyEngine::set_gains, py::arg("wet"), py::arg("dry"))
        .def_property_readonly("plan", &PyEngine::plan)
        .def_property_readonly("n_inputs", &PyEngine::n_inputs)
        .def_property_readonly("n_outputs", &PyEngine::n_outputs)
        .def_property_readonly("ir_length", &PyEngine::ir_length);
    m.def("convolve", &convolve, py::arg("audio"), py::arg("irs"), py::arg("routes"), py::arg("n_out"),
          py::arg("threads") = 0, py::arg("length") = -1,
          "Full offline convolution through routed IRs -> float32 (n_out, n + m - 1), or only the first "
          "length samples (n <= length <= n + m - 1; the rest of the tail is not computed)");
    internal.def("plan_partitions", [](std::size_t L, std::size_t head, std::size_t maxp, bool spread) {
        py::list l;
        for (const auto& s : irforge::plan_partitions(L, head, maxp, spread)) l.append(py::make_tuple(s.size, s.offset, s.count));
        return l;
    }, py::arg("ir_len"), py::arg("head"), py::arg("max_partition"), py::arg("spread") = false);
    internal.def("offline_block_size", &irforge::offline_block_size);
}
