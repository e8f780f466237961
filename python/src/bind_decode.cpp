// Binding of the fused decode + NMS and of standalone NMS.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <optional>
#include <vector>

#include "array_checks.hpp"
#include "detections_numpy.hpp"
#include "fastdet/decode.hpp"
#include "fastdet/nms.hpp"
#include "fastdet/parallel.hpp"
#include "fastdet/validate.hpp"

namespace py = pybind11;
using namespace fastdet;
using namespace fastdet::py_checks;

namespace {

void check_output_shape(const py::array& out, const HeadSpec& h) {
  require_dtype<float>(out, "output", "float32");
  const char* layout = h.format == HeadFormat::YoloV8     ? "[B, 4+nc, N]"
                       : h.format == HeadFormat::EndToEnd ? "[B, K, 6]"
                                                          : "[B, N, 5+nc]";
  require_ndim(out, "output", 3, layout);
  require_c_contiguous(out, "output");
  py::ssize_t d1, d2;
  switch (h.format) {
    case HeadFormat::YoloV8: d1 = 4 + h.num_classes; d2 = h.num_anchors; break;
    case HeadFormat::EndToEnd: d1 = h.num_anchors; d2 = 6; break;
    default: d1 = h.num_anchors; d2 = 5 + h.num_classes; break;
  }
  if (out.shape(1) != d1 || out.shape(2) != d2)
    throw InvalidArgument("output: expected shape (B, " + std::to_string(d1) + ", " + std::to_string(d2) +
                          ") for " + layout + " with this head spec, got " + shape_str(out));
}

std::vector<std::uint8_t> class_mask(const std::optional<std::vector<int>>& classes, int nc) {
  std::vector<std::uint8_t> mask;
  if (!classes) return mask;
  if (classes->empty()) throw InvalidArgument("classes: expected at least one class id, or None for every class");
  mask.assign(std::max(nc, 1), 0);
  for (int c : *classes) {
    if (c < 0 || c >= nc)
      throw InvalidArgument("classes: expected ids in [0, " + std::to_string(nc) + "), got " + std::to_string(c));
    mask[c] = 1;
  }
  return mask;
}

}  // namespace

void bind_decode(py::module_& m) {
  m.def(
      "decode",
      [](const py::array& output, const HeadSpec& head, const std::vector<Geometry>& geometries,
         const DecodeOptions& opts, const std::optional<std::vector<int>>& classes) {
        check_output_shape(output, head);
        const int batch = static_cast<int>(output.shape(0));
        if (static_cast<int>(geometries.size()) != batch)
          throw InvalidArgument("geometries: expected one per image (" + std::to_string(batch) + "), got " +
                                std::to_string(geometries.size()));
        const int nc = head.format == HeadFormat::EndToEnd ? std::max(head.num_classes, 1) : head.num_classes;
        const std::vector<std::uint8_t> mask = class_mask(classes, nc);
        const float* data = static_cast<const float*>(output.data());
        const long long stride = head.image_stride();
        // Reused across calls: the hot path allocates only the returned arrays. An image keeps
        // at most min(max_det, anchors) rows, so that bounds the storage, not max_det alone; and
        // storage a single huge call grew beyond kKeepRows is given back after it.
        constexpr std::size_t kKeepRows = std::size_t{1} << 20;
        const std::size_t per_image =
            static_cast<std::size_t>(std::max(1, std::min(opts.max_det, std::max(head.num_anchors, 1))));
        thread_local std::vector<Detection> rows;
        thread_local std::vector<DecodeStats> stats;
        if (rows.size() < static_cast<std::size_t>(batch) * per_image)
          rows.resize(static_cast<std::size_t>(batch) * per_image);
        if (stats.size() < static_cast<std::size_t>(batch)) stats.resize(batch);
        // Plain pointers for the pool's workers: inside their lambda the thread_local names
        // would resolve to each worker's own (empty) vectors.
        Detection* rows_out = rows.data();
        DecodeStats* stats_out = stats.data();
        {
          py::gil_scoped_release release;
          parallel_for(batch, 1, [&](int b0, int b1) {
            for (int b = b0; b < b1; ++b)
              stats_out[b] = decode_image_cpu(data + b * stride, head, geometries[b], opts,
                                              mask.empty() ? nullptr : mask.data(), rows_out + b * per_image);
          });
        }
        py::list result;
        for (int b = 0; b < batch; ++b) {
          const Detection* r = rows.data() + b * per_image;
          py::tuple t = py_results::detections_to_numpy(stats[b].kept, [r](int i) { return r[i]; });
          result.append(py::make_tuple(t[0], t[1], t[2], stats[b]));
        }
        if (rows.size() > kKeepRows) std::vector<Detection>().swap(rows);
        return result;
      },
      py::arg("output"), py::arg("head"), py::arg("geometries"), py::arg("options"),
      py::arg("classes") = py::none(),
      R"doc(Fused decode + NMS of a raw head output (float32, layout per head.format, batch first).
Returns, per image, (xyxy float32[N, 4], scores float32[N], class_ids int32[N], DecodeStats) with
boxes in original-image pixels given by that image's Geometry.)doc");

  m.def(
      "nms",
      [](const py::array& boxes, const py::array& scores, float iou, const std::optional<py::array>& class_ids,
         int max_det) {
        check_iou(iou);
        if (max_det != -1) check_max_det(max_det, "max_det (or -1 for all)");
        require_dtype<float>(boxes, "boxes", "float32");
        require_ndim(boxes, "boxes", 2, "[N, 4]");
        require_c_contiguous(boxes, "boxes");
        if (boxes.shape(1) != 4) throw InvalidArgument("boxes: expected shape (N, 4), got " + shape_str(boxes));
        if (boxes.shape(0) > (1 << 30)) throw InvalidArgument("boxes: expected at most 2^30 boxes");
        const int n = static_cast<int>(boxes.shape(0));
        require_dtype<float>(scores, "scores", "float32");
        require_ndim(scores, "scores", 1, "[N]");
        if (scores.shape(0) != n)
          throw InvalidArgument("scores: expected shape (" + std::to_string(n) + ",), got " + shape_str(scores));
        std::vector<int> cls(n, 0);
        bool agnostic = true;
        if (class_ids) {
          // Any integer dtype, as torchvision takes; values must fit in int32.
          const py::array& ids = *class_ids;
          if (ids.dtype().kind() != 'i' && ids.dtype().kind() != 'u')
            throw TypeMismatch("class_ids: expected an integer dtype, got " + dtype_str(ids));
          require_ndim(ids, "class_ids", 1, "[N]");
          if (ids.shape(0) != n)
            throw InvalidArgument("class_ids: expected shape (" + std::to_string(n) + ",), got " + shape_str(ids));
          const py::array_t<std::int64_t, py::array::forcecast> wide(ids);
          auto c = wide.unchecked<1>();
          for (int i = 0; i < n; ++i) {
            if (c(i) < INT32_MIN || c(i) > INT32_MAX)
              throw InvalidArgument("class_ids: expected values in int32 range, got " + std::to_string(c(i)));
            cls[i] = static_cast<int>(c(i));
          }
          agnostic = false;
        }
        if (max_det == -1) max_det = n;
        auto s = scores.unchecked<float, 1>();
        std::vector<float> sc(n);
        for (int i = 0; i < n; ++i) {
          // A NaN breaks the sort's ordering (undefined behaviour in std::stable_sort).
          if (std::isnan(s(i))) throw InvalidArgument("scores: expected numbers, got NaN at index " + std::to_string(i));
          sc[i] = s(i);
        }
        const Box* b = static_cast<const Box*>(boxes.data());
        std::vector<int> order(n), keep(std::max(1, std::min(max_det, n)));
        int k = 0;
        {
          py::gil_scoped_release release;
          std::iota(order.begin(), order.end(), 0);
          std::stable_sort(order.begin(), order.end(), [&](int a, int c) { return sc[a] > sc[c]; });
          k = greedy_nms_sorted(b, cls.data(), order.data(), n, iou, agnostic, std::min(max_det, n), keep.data());
        }
        py::array_t<std::int64_t> out(k);
        auto o = out.mutable_unchecked<1>();
        for (int i = 0; i < k; ++i) o(i) = order[keep[i]];
        return out;
      },
      py::arg("boxes"), py::arg("scores"), py::arg("iou"), py::arg("class_ids") = py::none(),
      py::arg("max_det") = -1,
      R"doc(Exact greedy NMS. boxes float32[N, 4] xyxy, scores float32[N] (no NaN), iou in [0, 1],
class_ids of any integer dtype [N] or None (class-agnostic), max_det >= 1 or -1 for all. Returns int64 indices of kept boxes in descending score order (ties: lower index
first), as torchvision.ops.batched_nms / nms.)doc");
}
