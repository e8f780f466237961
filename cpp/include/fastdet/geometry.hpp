// Letterbox geometry: the one definition of how a frame is placed in the network
// input, and of how boxes are mapped back. Used by the CPU letterbox, the CUDA
// kernel, the decoders and the Python layer.
#pragma once

#include <cmath>

#include "config.hpp"

namespace fastdet {

enum class Placement : int {
  Center = 0,   // ultralytics LetterBox: keep aspect, pad split around the image
  TopLeft = 1,  // YOLOX: keep aspect, image at the top-left, pad right/bottom
  Stretch = 2,  // no aspect keep, no pad (RT-DETR style)
};

struct Geometry {
  int src_w = 0, src_h = 0;  // original frame
  int dst_w = 0, dst_h = 0;  // network input
  int new_w = 0, new_h = 0;  // resized image inside the input (unpadded size)
  int pad_x = 0, pad_y = 0;  // left / top padding in input pixels
  // Per-axis gains from the rounded size (new / src), as ultralytics' scale_boxes.
  float gain_x = 1.f, gain_y = 1.f;
};

// Builds the geometry for one frame.
//
// Center matches ultralytics LetterBox(auto=False) in predict mode:
//   r = min(dst_h / src_h, dst_w / src_w)            (capped at 1 when !scaleup)
//   new = round(src * r) with round-half-to-even      (1280x1001 -> 640x500)
//   left = round(dw / 2 - 0.1), top = round(dh / 2 - 0.1)
// TopLeft matches YOLOX's preproc: new = int(src * r) (truncation), no leading pad.
// Stretch resizes to the full input.
// Callers validate that all sizes are positive.
inline Geometry make_geometry(int src_h, int src_w, int dst_h, int dst_w, Placement placement,
                              bool scaleup = true) {
  Geometry g;
  g.src_w = src_w;
  g.src_h = src_h;
  g.dst_w = dst_w;
  g.dst_h = dst_h;
  if (placement == Placement::Stretch) {
    g.new_w = dst_w;
    g.new_h = dst_h;
  } else {
    double r = std::fmin(static_cast<double>(dst_h) / src_h, static_cast<double>(dst_w) / src_w);
    if (!scaleup) r = std::fmin(r, 1.0);
    double w = src_w * r, h = src_h * r;
    // nearbyint uses the current rounding mode, round-half-to-even by default, as Python's round.
    int nw = placement == Placement::Center ? static_cast<int>(std::nearbyint(w))
                                            : static_cast<int>(std::floor(w));
    int nh = placement == Placement::Center ? static_cast<int>(std::nearbyint(h))
                                            : static_cast<int>(std::floor(h));
    g.new_w = nw < 1 ? 1 : (nw > dst_w ? dst_w : nw);
    g.new_h = nh < 1 ? 1 : (nh > dst_h ? dst_h : nh);
    if (placement == Placement::Center) {
      double dw = (dst_w - g.new_w) / 2.0, dh = (dst_h - g.new_h) / 2.0;
      g.pad_x = static_cast<int>(std::nearbyint(dw - 0.1));
      g.pad_y = static_cast<int>(std::nearbyint(dh - 0.1));
      if (g.pad_x < 0) g.pad_x = 0;
      if (g.pad_y < 0) g.pad_y = 0;
    }
  }
  g.gain_x = static_cast<float>(static_cast<double>(g.new_w) / src_w);
  g.gain_y = static_cast<float>(static_cast<double>(g.new_h) / src_h);
  return g;
}

// Maps an input-pixel x back to the original frame, clipped to [0, src_w].
FASTDET_HD float unmap_x(const Geometry& g, float x) {
  float v = (x - static_cast<float>(g.pad_x)) / g.gain_x;
  v = v < 0.f ? 0.f : v;
  float hi = static_cast<float>(g.src_w);
  return v > hi ? hi : v;
}

FASTDET_HD float unmap_y(const Geometry& g, float y) {
  float v = (y - static_cast<float>(g.pad_y)) / g.gain_y;
  v = v < 0.f ? 0.f : v;
  float hi = static_cast<float>(g.src_h);
  return v > hi ? hi : v;
}

}  // namespace fastdet
