// Bindings of the plain structs shared by every stage: recipe, geometry, head spec, options.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <sstream>

#include "fastdet/error.hpp"
#include "fastdet/geometry.hpp"
#include "fastdet/head.hpp"
#include "fastdet/recipe.hpp"

namespace py = pybind11;
using namespace fastdet;

namespace {

std::array<float, 3> get3(const float* v) { return {v[0], v[1], v[2]}; }
void set3(float* dst, const std::array<float, 3>& v, const char* name, bool positive) {
  for (float x : v)
    if (positive && !(x > 0.f))
      throw InvalidArgument(std::string(name) + ": expected positive values, got " + std::to_string(x));
  for (int i = 0; i < 3; ++i) dst[i] = v[i];
}

std::string placement_name(Placement p) {
  switch (p) {
    case Placement::Center: return "center";
    case Placement::TopLeft: return "top_left";
    default: return "stretch";
  }
}

std::string format_name(HeadFormat f) {
  switch (f) {
    case HeadFormat::YoloV8: return "yolov8";
    case HeadFormat::YoloV5: return "yolov5";
    case HeadFormat::YoloX: return "yolox";
    default: return "end2end";
  }
}

}  // namespace

void bind_types(py::module_& m) {
  py::enum_<Placement>(m, "Placement", "Where the resized frame sits in the network input.")
      .value("CENTER", Placement::Center)
      .value("TOP_LEFT", Placement::TopLeft)
      .value("STRETCH", Placement::Stretch);

  py::enum_<HeadFormat>(m, "HeadFormat", "Layout of a model's raw output.")
      .value("YOLOV8", HeadFormat::YoloV8)
      .value("YOLOV5", HeadFormat::YoloV5)
      .value("YOLOX", HeadFormat::YoloX)
      .value("END2END", HeadFormat::EndToEnd);

  py::class_<Recipe>(m, "Recipe", "Preprocessing recipe of a model family.")
      .def(py::init<>())
      .def_readwrite("placement", &Recipe::placement)
      .def_readwrite("scaleup", &Recipe::scaleup)
      .def_readwrite("pad_value", &Recipe::pad_value)
      .def_readwrite("scale", &Recipe::scale)
      .def_property(
          "mean", [](const Recipe& r) { return get3(r.mean); },
          [](Recipe& r, const std::array<float, 3>& v) { set3(r.mean, v, "mean", false); })
      .def_property(
          "std", [](const Recipe& r) { return get3(r.std); },
          [](Recipe& r, const std::array<float, 3>& v) { set3(r.std, v, "std", true); })
      .def_readwrite("output_rgb", &Recipe::output_rgb)
      .def("__repr__", [](const Recipe& r) {
        std::ostringstream s;
        s << "Recipe(placement=" << placement_name(r.placement) << ", pad_value=" << r.pad_value
          << ", scale=" << r.scale << ", mean=(" << r.mean[0] << ", " << r.mean[1] << ", " << r.mean[2]
          << "), std=(" << r.std[0] << ", " << r.std[1] << ", " << r.std[2]
          << "), output_rgb=" << (r.output_rgb ? "True" : "False")
          << ", scaleup=" << (r.scaleup ? "True" : "False") << ")";
        return s.str();
      });

  py::class_<Geometry>(m, "Geometry", "Where a frame sits in the network input; maps boxes back.")
      .def(py::init<>())
      .def_readonly("src_w", &Geometry::src_w)
      .def_readonly("src_h", &Geometry::src_h)
      .def_readonly("dst_w", &Geometry::dst_w)
      .def_readonly("dst_h", &Geometry::dst_h)
      .def_readonly("new_w", &Geometry::new_w)
      .def_readonly("new_h", &Geometry::new_h)
      .def_readonly("pad_x", &Geometry::pad_x)
      .def_readonly("pad_y", &Geometry::pad_y)
      .def_readonly("gain_x", &Geometry::gain_x)
      .def_readonly("gain_y", &Geometry::gain_y)
      .def("__repr__", [](const Geometry& g) {
        std::ostringstream s;
        s << "Geometry(src=" << g.src_w << "x" << g.src_h << ", dst=" << g.dst_w << "x" << g.dst_h
          << ", new=" << g.new_w << "x" << g.new_h << ", pad=(" << g.pad_x << ", " << g.pad_y << "))";
        return s.str();
      });

  m.def(
      "make_geometry",
      [](int src_h, int src_w, int dst_h, int dst_w, Placement placement, bool scaleup) {
        if (src_h < 1 || src_w < 1)
          throw InvalidArgument("frame size: expected positive height and width, got " +
                                std::to_string(src_h) + "x" + std::to_string(src_w));
        if (dst_h < 1 || dst_w < 1)
          throw InvalidArgument("size: expected positive height and width, got " + std::to_string(dst_h) +
                                "x" + std::to_string(dst_w));
        return make_geometry(src_h, src_w, dst_h, dst_w, placement, scaleup);
      },
      py::arg("src_h"), py::arg("src_w"), py::arg("dst_h"), py::arg("dst_w"),
      py::arg("placement") = Placement::Center, py::arg("scaleup") = true,
      "Letterbox geometry for a src_h x src_w frame in a dst_h x dst_w input.");

  py::class_<HeadSpec>(m, "HeadSpec", "Layout of a raw head output.")
      .def(py::init<>())
      .def(py::init([](HeadFormat format, int num_classes, int num_anchors, int input_h, int input_w,
                       std::vector<int> strides) {
             if (num_classes < 1 && format != HeadFormat::EndToEnd)
               throw InvalidArgument("num_classes: expected >= 1, got " + std::to_string(num_classes));
             if (num_anchors < 0)
               throw InvalidArgument("num_anchors: expected >= 0, got " + std::to_string(num_anchors));
             if (strides.empty() || strides.size() > 4)
               throw InvalidArgument("strides: expected 1 to 4 values, got " + std::to_string(strides.size()));
             HeadSpec h;
             h.format = format;
             h.num_classes = num_classes;
             h.num_anchors = num_anchors;
             h.input_h = input_h;
             h.input_w = input_w;
             h.num_strides = static_cast<int>(strides.size());
             for (std::size_t i = 0; i < strides.size(); ++i) {
               if (strides[i] < 1) throw InvalidArgument("strides: expected positive values");
               h.strides[i] = strides[i];
             }
             return h;
           }),
           py::arg("format"), py::arg("num_classes"), py::arg("num_anchors"), py::arg("input_h") = 640,
           py::arg("input_w") = 640, py::arg("strides") = std::vector<int>{8, 16, 32})
      .def_readonly("format", &HeadSpec::format)
      .def_readonly("num_classes", &HeadSpec::num_classes)
      .def_readonly("num_anchors", &HeadSpec::num_anchors)
      .def_readonly("input_h", &HeadSpec::input_h)
      .def_readonly("input_w", &HeadSpec::input_w)
      .def_property_readonly("strides",
                             [](const HeadSpec& h) { return std::vector<int>(h.strides, h.strides + h.num_strides); })
      .def_property_readonly("image_stride", &HeadSpec::image_stride)
      .def("__repr__", [](const HeadSpec& h) {
        std::ostringstream s;
        s << "HeadSpec(format=" << format_name(h.format) << ", num_classes=" << h.num_classes
          << ", num_anchors=" << h.num_anchors << ")";
        return s.str();
      });

  py::class_<DecodeOptions>(m, "DecodeOptions", "Thresholds and caps of decode + NMS.")
      .def(py::init([](float conf, float iou, int max_det, int max_candidates, bool agnostic) {
             if (!(conf >= 0.f && conf <= 1.f))
               throw InvalidArgument("conf: expected a value in [0, 1], got " + std::to_string(conf));
             if (!(iou >= 0.f && iou <= 1.f))
               throw InvalidArgument("iou: expected a value in [0, 1], got " + std::to_string(iou));
             if (max_det < 1) throw InvalidArgument("max_det: expected >= 1, got " + std::to_string(max_det));
             if (max_candidates < 1)
               throw InvalidArgument("max_candidates: expected >= 1, got " + std::to_string(max_candidates));
             return DecodeOptions{conf, iou, max_det, max_candidates, agnostic};
           }),
           py::arg("conf") = 0.25f, py::arg("iou") = 0.7f, py::arg("max_det") = 300,
           py::arg("max_candidates") = 30000, py::arg("agnostic") = false)
      .def_readonly("conf", &DecodeOptions::conf)
      .def_readonly("iou", &DecodeOptions::iou)
      .def_readonly("max_det", &DecodeOptions::max_det)
      .def_readonly("max_candidates", &DecodeOptions::max_candidates)
      .def_readonly("agnostic", &DecodeOptions::agnostic);

  py::class_<DecodeStats>(m, "DecodeStats", "Per-image counts of decode + NMS.")
      .def_readonly("candidates", &DecodeStats::candidates)
      .def_readonly("dropped", &DecodeStats::dropped)
      .def_readonly("kept", &DecodeStats::kept)
      .def("__repr__", [](const DecodeStats& s) {
        return "DecodeStats(candidates=" + std::to_string(s.candidates) + ", dropped=" +
               std::to_string(s.dropped) + ", kept=" + std::to_string(s.kept) + ")";
      });
}
