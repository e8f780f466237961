// CPU fused decode + NMS: raw head output of one image -> final detections.
#pragma once

#include <cstdint>
#include <vector>

#include "geometry.hpp"
#include "head.hpp"

namespace fastdet {

// Decodes one image's raw output (img: head.image_stride() floats), thresholds, caps
// the candidates at opts.max_candidates by score, runs exact greedy NMS (class-aware
// unless opts.agnostic) in input pixels, maps the kept boxes back through g and writes
// at most min(opts.max_det, head.num_anchors) rows to out (it must hold that many), in
// descending score order (ties: lower anchor first). Rows no detector can have meant (see
// plausible_row) are dropped and counted in DecodeStats::invalid.
// class_allowed: nullptr for all classes, else a mask of head.num_classes bytes; like
// ultralytics, the best class is chosen first and the filter applied to it.
// Working memory is thread-local and only grows, so steady-state calls do not allocate.
DecodeStats decode_image_cpu(const float* img, const HeadSpec& head, const Geometry& g,
                             const DecodeOptions& opts, const std::uint8_t* class_allowed,
                             Detection* out);

}  // namespace fastdet
