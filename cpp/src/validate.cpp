#include "fastdet/validate.hpp"

#include <cmath>
#include <string>

#include "fastdet/error.hpp"

namespace fastdet {
namespace {

std::string num(double v) {
  std::string s = std::to_string(v);
  return std::isnan(v) ? "nan" : s;
}

}  // namespace

void check_placement(Placement p, const char* name) {
  const int v = static_cast<int>(p);
  if (v < 0 || v > static_cast<int>(Placement::Stretch))
    throw InvalidArgument(std::string(name) + ": expected Placement.CENTER, TOP_LEFT or STRETCH, got value " +
                          std::to_string(v));
}

void check_head_format(HeadFormat f, const char* name) {
  const int v = static_cast<int>(f);
  if (v < 0 || v > static_cast<int>(HeadFormat::EndToEnd))
    throw InvalidArgument(std::string(name) + ": expected HeadFormat.YOLOV8, YOLOV5, YOLOX or END2END, got value " +
                          std::to_string(v));
}

void check_head_spec(const HeadSpec& h) {
  check_head_format(h.format);
  const bool e2e = h.format == HeadFormat::EndToEnd;
  if (h.num_classes < (e2e ? 0 : 1) || h.num_classes > kMaxClasses)
    throw InvalidArgument("num_classes: expected " + std::string(e2e ? "0" : "1") + " to " +
                          std::to_string(kMaxClasses) + ", got " + std::to_string(h.num_classes));
  if (h.num_anchors < 0) throw InvalidArgument("num_anchors: expected >= 0, got " + std::to_string(h.num_anchors));
  if (h.input_h < 1 || h.input_w < 1)
    throw InvalidArgument("input size: expected positive height and width, got " + std::to_string(h.input_h) + "x" +
                          std::to_string(h.input_w));
  if (h.num_strides < 1 || h.num_strides > 4)
    throw InvalidArgument("strides: expected 1 to 4 values, got " + std::to_string(h.num_strides));
  int largest = 0;
  for (int i = 0; i < h.num_strides; ++i) {
    if (h.strides[i] < 1)
      throw InvalidArgument("strides: expected positive values, got " + std::to_string(h.strides[i]));
    largest = h.strides[i] > largest ? h.strides[i] : largest;
  }
  if (h.format != HeadFormat::YoloX) return;
  if (h.input_h < largest || h.input_w < largest)
    throw InvalidArgument("input size: a YOLOX head needs an input at least as large as its largest stride (" +
                          std::to_string(largest) + "), got " + std::to_string(h.input_h) + "x" +
                          std::to_string(h.input_w));
  long long cells = 0;
  for (int i = 0; i < h.num_strides; ++i)
    cells += static_cast<long long>(h.input_h / h.strides[i]) * (h.input_w / h.strides[i]);
  if (cells != h.num_anchors)
    throw InvalidArgument("num_anchors: a YOLOX head on a " + std::to_string(h.input_h) + "x" +
                          std::to_string(h.input_w) + " input has one anchor per grid cell, " + std::to_string(cells) +
                          " for its strides, got " + std::to_string(h.num_anchors));
}

void check_iou(float iou, const char* name) {
  if (!(iou >= 0.f && iou <= 1.f)) throw InvalidArgument(std::string(name) + ": expected a value in [0, 1], got " + num(iou));
}

void check_max_det(int max_det, const char* name) {
  if (max_det < 1 || max_det > kMaxDetections)
    throw InvalidArgument(std::string(name) + ": expected 1 to " + std::to_string(kMaxDetections) + ", got " +
                          std::to_string(max_det));
}

void check_decode_options(const DecodeOptions& o) {
  if (!(o.conf >= 0.f && o.conf <= 1.f))
    throw InvalidArgument("conf: expected a value in [0, 1], got " + num(o.conf));
  check_iou(o.iou);
  check_max_det(o.max_det);
  if (o.max_candidates < 1)
    throw InvalidArgument("max_candidates: expected >= 1, got " + std::to_string(o.max_candidates));
}

void check_recipe(const Recipe& r) {
  check_placement(r.placement);
  if (!std::isfinite(r.scale) || r.scale == 0.f) throw InvalidArgument("scale: expected a finite, non-zero value, got " + num(r.scale));
  if (!std::isfinite(r.pad_value)) throw InvalidArgument("pad_value: expected a finite value, got " + num(r.pad_value));
  for (int c = 0; c < 3; ++c) {
    if (!std::isfinite(r.mean[c])) throw InvalidArgument("mean: expected finite values, got " + num(r.mean[c]));
    if (!(r.std[c] > 0.f) || !std::isfinite(r.std[c]))
      throw InvalidArgument("std: expected finite positive values, got " + num(r.std[c]));
  }
}

void check_frame(const FrameView& f, const std::string& name) {
  if (!f.data) throw InvalidArgument(name + ": null data pointer");
  if (f.channels != 3 && f.channels != 4)
    throw InvalidArgument(name + ": expected 3 (BGR/RGB) or 4 (BGRA/RGBA) channels, got " + std::to_string(f.channels));
  if (f.height < 1 || f.width < 1 || f.height > kMaxFrameSide || f.width > kMaxFrameSide)
    throw InvalidArgument(name + ": expected 1 to " + std::to_string(kMaxFrameSide) + " pixels per side, got " +
                          std::to_string(f.height) + "x" + std::to_string(f.width));
  if (f.row_stride < static_cast<std::ptrdiff_t>(f.width) * f.channels)
    throw InvalidArgument(name + ": expected a row stride of at least width * channels bytes (" +
                          std::to_string(f.width * f.channels) + "), got " + std::to_string(f.row_stride));
}

void check_size(int h, int w, const char* name) {
  if (h < 1 || w < 1 || h > kMaxFrameSide || w > kMaxFrameSide)
    throw InvalidArgument(std::string(name) + ": expected 1 to " + std::to_string(kMaxFrameSide) +
                          " pixels per side, got " + std::to_string(h) + "x" + std::to_string(w));
}

}  // namespace fastdet
