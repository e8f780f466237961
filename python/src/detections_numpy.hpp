// The one conversion of detection rows into the numpy triple every binding returns:
// (xyxy float32[N, 4], scores float32[N], class_ids int32[N]).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>

#include "fastdet/head.hpp"

namespace fastdet::py_results {

namespace py = pybind11;

// row(i) returns the i-th fastdet::Detection.
template <class RowFn>
py::tuple detections_to_numpy(int n, RowFn row) {
  py::array_t<float> boxes({n, 4});
  py::array_t<float> scores(n);
  py::array_t<std::int32_t> ids(n);
  auto bx = boxes.mutable_unchecked<2>();
  auto sc = scores.mutable_unchecked<1>();
  auto id = ids.mutable_unchecked<1>();
  for (int i = 0; i < n; ++i) {
    const Detection d = row(i);
    bx(i, 0) = d.x1;
    bx(i, 1) = d.y1;
    bx(i, 2) = d.x2;
    bx(i, 3) = d.y2;
    sc(i) = d.score;
    id(i) = d.class_id;
  }
  return py::make_tuple(boxes, scores, ids);
}

}  // namespace fastdet::py_results
