// Bindings of the plain structs shared by every stage: recipe, geometry, head spec, options.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cctype>
#include <cmath>
#include <sstream>

#include "fastdet/error.hpp"
#include "fastdet/geometry.hpp"
#include "fastdet/head.hpp"
#include "fastdet/recipe.hpp"
#include "fastdet/validate.hpp"

namespace py = pybind11;
using namespace fastdet;

namespace {

std::array<float, 3> get3(const float* v) { return {v[0], v[1], v[2]}; }
void set3(float* dst, const std::array<float, 3>& v, const char* name, bool positive) {
  for (float x : v) {
    if (!std::isfinite(x)) throw InvalidArgument(std::string(name) + ": expected finite values");
    if (positive && !(x > 0.f))
      throw InvalidArgument(std::string(name) + ": expected positive values, got " + std::to_string(x));
  }
  for (int i = 0; i < 3; ++i) dst[i] = v[i];
}

// True/False (or numpy.bool_) only: 2.5, None or "no" as a flag is a mistake, not a truth value.
bool strict_bool(const py::handle& v, const char* name) {
  if (py::isinstance<py::bool_>(v)) return v.cast<bool>();
  const py::handle type = py::type::of(v);
  const std::string type_name = py::str(type.attr("__name__")).cast<std::string>();
  const std::string module = py::str(type.attr("__module__")).cast<std::string>();
  if (module == "numpy" && (type_name == "bool_" || type_name == "bool")) return PyObject_IsTrue(v.ptr()) == 1;
  throw TypeMismatch(std::string(name) + ": expected True or False, got " + type_name);
}

float finite_float(float v, const char* name) {
  if (!std::isfinite(v)) throw InvalidArgument(std::string(name) + ": expected a finite number");
  return v;
}

// The enum's own name, lower-cased ("center", "yolov8"): the one name table is the binding's
// enum (Python's recipes and heads modules read the same __members__).
template <class E>
std::string enum_name(E value) {
  std::string n = py::str(py::cast(value).attr("name")).cast<std::string>();
  for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return n;
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
      .def_property(
          "placement", [](const Recipe& r) { return r.placement; },
          [](Recipe& r, Placement p) {
            check_placement(p);
            r.placement = p;
          })
      .def_property(
          "scaleup", [](const Recipe& r) { return r.scaleup; },
          [](Recipe& r, const py::object& v) { r.scaleup = strict_bool(v, "scaleup"); })
      .def_property(
          "pad_value", [](const Recipe& r) { return r.pad_value; },
          [](Recipe& r, float v) { r.pad_value = finite_float(v, "pad_value"); })
      .def_property(
          "scale", [](const Recipe& r) { return r.scale; },
          [](Recipe& r, float v) {
            if (!std::isfinite(v) || v == 0.f) throw InvalidArgument("scale: expected a finite, non-zero number");
            r.scale = v;
          })
      .def_property(
          "mean", [](const Recipe& r) { return get3(r.mean); },
          [](Recipe& r, const std::array<float, 3>& v) { set3(r.mean, v, "mean", false); })
      .def_property(
          "std", [](const Recipe& r) { return get3(r.std); },
          [](Recipe& r, const std::array<float, 3>& v) { set3(r.std, v, "std", true); })
      .def_property(
          "output_rgb", [](const Recipe& r) { return r.output_rgb; },
          [](Recipe& r, const py::object& v) { r.output_rgb = strict_bool(v, "output_rgb"); })
      .def("__repr__", [](const Recipe& r) {
        std::ostringstream s;
        s << "Recipe(placement=" << enum_name(r.placement) << ", pad_value=" << r.pad_value
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
      [](int src_h, int src_w, int dst_h, int dst_w, Placement placement, const py::object& scaleup) {
        check_size(src_h, src_w, "frame size");
        check_size(dst_h, dst_w, "size");
        check_placement(placement);
        return make_geometry(src_h, src_w, dst_h, dst_w, placement, strict_bool(scaleup, "scaleup"));
      },
      py::arg("src_h"), py::arg("src_w"), py::arg("dst_h"), py::arg("dst_w"),
      py::arg("placement") = Placement::Center, py::arg("scaleup") = py::bool_(true),
      "Letterbox geometry for a src_h x src_w frame in a dst_h x dst_w input.");

  py::class_<HeadSpec>(m, "HeadSpec", "Layout of a raw head output.")
      .def(py::init<>())
      .def(py::init([](HeadFormat format, int num_classes, int num_anchors, int input_h, int input_w,
                       std::vector<int> strides) {
             if (strides.empty() || strides.size() > 4)
               throw InvalidArgument("strides: expected 1 to 4 values, got " + std::to_string(strides.size()));
             HeadSpec h;
             h.format = format;
             h.num_classes = num_classes;
             h.num_anchors = num_anchors;
             h.input_h = input_h;
             h.input_w = input_w;
             h.num_strides = static_cast<int>(strides.size());
             for (std::size_t i = 0; i < 4; ++i) h.strides[i] = i < strides.size() ? strides[i] : 0;
             check_head_spec(h);
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
        s << "HeadSpec(format=" << enum_name(h.format) << ", num_classes=" << h.num_classes
          << ", num_anchors=" << h.num_anchors << ")";
        return s.str();
      });

  py::class_<DecodeOptions>(m, "DecodeOptions", "Thresholds and caps of decode + NMS.")
      .def(py::init([](float conf, float iou, int max_det, int max_candidates, const py::object& agnostic) {
             const DecodeOptions o{conf, iou, max_det, max_candidates, strict_bool(agnostic, "agnostic")};
             check_decode_options(o);
             return o;
           }),
           py::arg("conf") = 0.25f, py::arg("iou") = 0.7f, py::arg("max_det") = 300,
           py::arg("max_candidates") = 30000, py::arg("agnostic") = py::bool_(false))
      .def_readonly("conf", &DecodeOptions::conf)
      .def_readonly("iou", &DecodeOptions::iou)
      .def_readonly("max_det", &DecodeOptions::max_det)
      .def_readonly("max_candidates", &DecodeOptions::max_candidates)
      .def_readonly("agnostic", &DecodeOptions::agnostic);

  py::class_<DecodeStats>(m, "DecodeStats", "Per-image counts of decode + NMS.")
      .def_readonly("candidates", &DecodeStats::candidates)
      .def_readonly("dropped", &DecodeStats::dropped)
      .def_readonly("kept", &DecodeStats::kept)
      .def_readonly("invalid", &DecodeStats::invalid,
                    "Rows above the threshold no detector can have meant (non-finite or inverted box, class id "
                    "out of range): dropped, never returned.")
      .def("__repr__", [](const DecodeStats& s) {
        return "DecodeStats(candidates=" + std::to_string(s.candidates) + ", dropped=" +
               std::to_string(s.dropped) + ", kept=" + std::to_string(s.kept) + ", invalid=" +
               std::to_string(s.invalid) + ")";
      });
}
