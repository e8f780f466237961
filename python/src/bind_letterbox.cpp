// Binding of the CPU letterbox: numpy frame in, caller's float32 buffer out.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "array_checks.hpp"
#include "fastdet/letterbox.hpp"
#include "fastdet/validate.hpp"

namespace py = pybind11;
using namespace fastdet;
using namespace fastdet::py_checks;

namespace {

FrameView frame_view(const py::array& frame) {
  require_dtype<std::uint8_t>(frame, "frame", "uint8");
  require_ndim(frame, "frame", 3, "[H, W, C] (C = 3 for BGR/RGB or 4 for BGRA/RGBA)");
  const auto h = frame.shape(0), w = frame.shape(1), c = frame.shape(2);
  if (c != 3 && c != 4)
    throw InvalidArgument("frame: expected 3 (BGR/RGB) or 4 (BGRA/RGBA) channels, got shape " + shape_str(frame));
  if (h < 1 || w < 1 || h > kMaxFrameSide || w > kMaxFrameSide)
    throw InvalidArgument("frame: expected 1 to " + std::to_string(kMaxFrameSide) + " pixels per side, got shape " +
                          shape_str(frame));
  // Any row pitch works (crops, padded buffers); pixels within a row must be packed.
  if (frame.strides(2) != 1 || frame.strides(1) != c || frame.strides(0) < w * c)
    throw InvalidArgument("frame: expected rows of packed pixels (strides (row, " + std::to_string(c) +
                          ", 1)); pass numpy.ascontiguousarray(frame)");
  FrameView v;
  v.data = static_cast<const std::uint8_t*>(frame.data());
  v.height = static_cast<int>(h);
  v.width = static_cast<int>(w);
  v.channels = static_cast<int>(c);
  v.row_stride = frame.strides(0);
  check_frame(v, "frame");
  return v;
}

}  // namespace

void bind_letterbox(py::module_& m) {
  m.def(
      "check_frame", [](const py::array& frame) { frame_view(frame); }, py::arg("frame"),
      "Raises InputTypeError / InputError when frame is not a uint8[H, W, 3|4] array of packed pixels "
      "the letterbox takes: the one frame check, shared with letterbox_into and the CUDA pipeline.");
  m.def(
      "letterbox_into",
      [](const py::array& frame, py::array& out, const Recipe& recipe, bool rgb) {
        check_recipe(recipe);
        FrameView f = frame_view(frame);
        f.rgb = rgb;
        require_dtype<float>(out, "out", "float32");
        require_ndim(out, "out", 3, "[3, H, W]");
        require_c_contiguous(out, "out");
        require_writeable(out, "out");
        if (out.shape(0) != 3 || out.shape(1) < 1 || out.shape(2) < 1 || out.shape(1) > kMaxFrameSide ||
            out.shape(2) > kMaxFrameSide)
          throw InvalidArgument("out: expected shape (3, H, W) with 1 to " + std::to_string(kMaxFrameSide) +
                                " pixels per side, got " + shape_str(out));
        const Geometry g = make_geometry(f.height, f.width, static_cast<int>(out.shape(1)),
                                         static_cast<int>(out.shape(2)), recipe.placement, recipe.scaleup);
        float* dst = static_cast<float*>(out.mutable_data());
        const Simd simd = simd_from_env();  // with the GIL held: nothing changes the environment meanwhile
        {
          py::gil_scoped_release release;
          letterbox_cpu(f, recipe, g, dst, simd);
        }
        return g;
      },
      py::arg("frame"), py::arg("out"), py::arg("recipe"), py::arg("rgb").noconvert() = false,
      R"doc(Letterbox frame (uint8[H, W, 3|4], BGR(A) unless rgb) into out (float32[3, h, w],
C-contiguous, written in place) following recipe. Returns the Geometry.)doc");
  m.def(
      "simd_level", [] { return std::string(simd_name(simd_from_env())); },
      "The instruction set letterbox_into uses now: the best this CPU has (simd_levels()[-1]), capped by "
      "$FASTDET_SIMD (none, sse2 or avx2). Every level gives the same values.");
  m.def(
      "simd_levels",
      [] {
        std::vector<std::string> names;
        for (int s = 0; s <= static_cast<int>(best_simd()); ++s) names.emplace_back(simd_name(static_cast<Simd>(s)));
        return names;
      },
      "The instruction sets this CPU and build can run the letterbox with, plainest first.");
}
