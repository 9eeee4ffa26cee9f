// onemoe._C: shapes, configs, can_implement and the exception type; the contexts are in context_binding.cpp
// and distributed_binding.cpp.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>

#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>

#include "binding_util.h"
#include "onemoe/onemoe.h"

namespace nb = nanobind;

namespace onemoe::python {

void bind_context(nb::module_& m);
void bind_distributed(nb::module_& m);

namespace {

template <class Enum, size_t N>
Enum parse(const char* what, const std::string& name, const std::pair<const char*, Enum> (&names)[N]) {
  std::string known;
  for (const auto& [n, e] : names) {
    if (name == n) return e;
    known += (known.empty() ? "" : ", ") + std::string(n);
  }
  throw nb::value_error((std::string(what) + " must be one of " + known + ", got '" + name + "'").c_str());
}

constexpr std::pair<const char*, DType> kDTypes[] = {{"bf16", DType::kBF16}, {"fp16", DType::kFP16}, {"fp32", DType::kFP32}};
constexpr std::pair<const char*, Scoring> kScorings[] = {{"softmax", Scoring::kSoftmax}, {"sigmoid", Scoring::kSigmoid}};
constexpr std::pair<const char*, Activation> kActivations[] = {
    {"relu", Activation::kReLU}, {"gelu", Activation::kGELU}, {"silu", Activation::kSiLU}};
constexpr std::pair<const char*, Fp32Math> kFp32Maths[] = {{"tf32", Fp32Math::kTF32}, {"ffma", Fp32Math::kFFMA}};
constexpr std::pair<const char*, Routing> kRoutings[] = {{"topk", Routing::kTopK},
                                                         {"topk-softmax", Routing::kTopKSoftmax},
                                                         {"grouped", Routing::kGroupedTopK},
                                                         {"pre-routed", Routing::kPreRouted}};

template <class Enum, size_t N>
const char* name_of(Enum e, const std::pair<const char*, Enum> (&names)[N]) {
  for (const auto& [n, v] : names)
    if (v == e) return n;
  return "?";
}

MoeConfig make_config(const std::string& dtype, const std::string& scoring, bool renormalize,
                      const std::string& activation, bool gated, float capacity_factor, const std::string& fp32_math,
                      const std::string& routing, float routed_scaling_factor, int num_groups, int topk_groups,
                      int group_score_topk) {
  MoeConfig c;
  c.routing = parse("routing", routing, kRoutings);
  c.routed_scaling_factor = routed_scaling_factor;
  c.num_groups = num_groups;
  c.topk_groups = topk_groups;
  c.group_score_topk = group_score_topk;
  c.dtype = parse("dtype", dtype, kDTypes);
  c.scoring = parse("scoring", scoring, kScorings);
  c.renormalize = renormalize;
  c.activation = parse("activation", activation, kActivations);
  c.gated = gated;
  c.capacity_factor = capacity_factor;
  c.fp32_math = parse("fp32_math", fp32_math, kFp32Maths);
  return c;
}

template <class T>
std::string printed(const T& value) {
  std::ostringstream os;
  os << value;
  return os.str();
}

}  // namespace
}  // namespace onemoe::python

NB_MODULE(_C, m) {
  using namespace onemoe;
  using namespace onemoe::python;
  m.doc() = "onemoe's C++ API (include/onemoe/*.h) over raw pointers; use onemoe.torch for tensors";
  nb::exception<OnemoeError>(m, "OnemoeError", PyExc_RuntimeError);

  nb::class_<MoeShape>(m, "MoeShape")
      .def(
          "__init__",
          [](MoeShape* s, int64_t num_tokens, int num_experts, int top_k, int hidden, int intermediate) {
            new (s) MoeShape{num_tokens, num_experts, top_k, hidden, intermediate};
          },
          nb::arg("num_tokens"), nb::arg("num_experts"), nb::arg("top_k"), nb::arg("hidden"), nb::arg("intermediate"))
      .def_rw("num_tokens", &MoeShape::num_tokens)
      .def_rw("num_experts", &MoeShape::num_experts)
      .def_rw("top_k", &MoeShape::top_k)
      .def_rw("hidden", &MoeShape::hidden)
      .def_rw("intermediate", &MoeShape::intermediate)
      .def("__repr__", [](const MoeShape& s) { return printed(s); });

  nb::class_<MoeConfig>(m, "MoeConfig")
      .def(
          "__init__",
          [](MoeConfig* c, const std::string& dtype, const std::string& scoring, bool renormalize,
             const std::string& activation, bool gated, float capacity_factor, const std::string& fp32_math,
             const std::string& routing, float routed_scaling_factor, int num_groups, int topk_groups,
             int group_score_topk) {
            new (c) MoeConfig(make_config(dtype, scoring, renormalize, activation, gated, capacity_factor, fp32_math,
                                          routing, routed_scaling_factor, num_groups, topk_groups, group_score_topk));
          },
          nb::arg("dtype") = "bf16", nb::arg("scoring") = "softmax", nb::arg("renormalize") = true,
          nb::arg("activation") = "gelu", nb::arg("gated") = false, nb::arg("capacity_factor") = 0.0f,
          nb::arg("fp32_math") = "tf32", nb::arg("routing") = "topk", nb::arg("routed_scaling_factor") = 1.0f,
          nb::arg("num_groups") = 1, nb::arg("topk_groups") = 1, nb::arg("group_score_topk") = 2)
      .def_prop_ro("dtype", [](const MoeConfig& c) { return name_of(c.dtype, kDTypes); })
      .def_prop_ro("scoring", [](const MoeConfig& c) { return name_of(c.scoring, kScorings); })
      .def_prop_ro("activation", [](const MoeConfig& c) { return name_of(c.activation, kActivations); })
      .def_prop_ro("fp32_math", [](const MoeConfig& c) { return name_of(c.fp32_math, kFp32Maths); })
      .def_prop_ro("routing", [](const MoeConfig& c) { return name_of(c.routing, kRoutings); })
      .def_ro("routed_scaling_factor", &MoeConfig::routed_scaling_factor)
      .def_ro("renormalize", &MoeConfig::renormalize)
      .def_ro("gated", &MoeConfig::gated)
      .def_ro("capacity_factor", &MoeConfig::capacity_factor)
      .def("__repr__", [](const MoeConfig& c) { return printed(c); });

  m.def(
      "can_implement",
      [](const MoeShape& s, const MoeConfig& c) {
        const Result r = Context::can_implement(s, c);
        return std::make_tuple(std::string(status_string(r.status)), r.message);
      },
      nb::arg("shape"), nb::arg("config"),
      "Why (shape, config) cannot run, as (status name, message); ('success', '') when it can. Host only: touches "
      "no GPU.");

  bind_context(m);
  bind_distributed(m);
}
