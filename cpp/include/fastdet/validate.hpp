// The one place the core's parameters are checked, shared by the Python bindings, the CPU
// decoder and the CUDA pipeline: each throws InvalidArgument naming the parameter, what was
// expected and what came. Host-only.
#pragma once

#include <string>

#include "geometry.hpp"
#include "head.hpp"
#include "letterbox.hpp"
#include "recipe.hpp"

namespace fastdet {

// Largest class count a head may declare: keeps per-class masks and row strides small and exact.
constexpr int kMaxClasses = 1 << 16;
// Largest max_det: results are sized by it on the device (and bounded by the candidates found on
// the CPU); above this a typo would reserve gigabytes.
constexpr int kMaxDetections = 1 << 20;

void check_placement(Placement p, const char* name = "placement");
void check_head_format(HeadFormat f, const char* name = "format");

// Formats, counts and the YOLOX grid: a YOLOX head's anchors must be exactly the cells of its
// strides' grids over the input, and the input at least as large as the largest stride (the
// decoder finds each anchor's cell with a division by the grid width). YOLOv8/v5 and end-to-end
// heads carry their boxes in pixels and do not use the grid, so any anchor count decodes.
void check_head_spec(const HeadSpec& h);

// conf and iou in [0, 1] (NaN rejected), 1 <= max_det <= kMaxDetections, max_candidates >= 1.
void check_decode_options(const DecodeOptions& o);
void check_iou(float iou, const char* name = "iou");
void check_max_det(int max_det, const char* name = "max_det");

// Scale finite and non-zero, pad value finite, std finite and positive, mean finite.
void check_recipe(const Recipe& r);

// Largest frame side the letterbox takes (geometry is computed in int).
constexpr int kMaxFrameSide = 1 << 16;

// A frame's values, however it arrived (numpy, a device array, a raw pointer): data present,
// 3 or 4 channels, 1 to kMaxFrameSide pixels per side, rows at least width * channels bytes
// apart. `name` prefixes the message ("frames[2]").
void check_frame(const FrameView& f, const std::string& name);

// A network input or output size: 1 to kMaxFrameSide per side.
void check_size(int h, int w, const char* name);

}  // namespace fastdet
