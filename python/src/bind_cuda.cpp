// Bindings of the CUDA core (compiled only in CUDA builds): device discovery at the top level,
// and in `_core.cuda` the standalone letterbox and decode + NMS (device pointers in, enqueued
// on the caller's stream) and the CudaPipeline around a Python-callable engine.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "array_checks.hpp"
#include "detections_numpy.hpp"
#include "buffer.hpp"
#include "decode_nms.cuh"
#include "engine.hpp"
#include "error.hpp"
#include "fastdet/error.hpp"
#include "fastdet/validate.hpp"
#include "letterbox.cuh"
#include "pipeline.hpp"
#include "runtime.hpp"
#include "stream.hpp"

namespace py = pybind11;
using namespace fastdet;
using namespace fastdet::cuda;
using namespace fastdet::py_checks;

namespace {

cudaStream_t as_stream(std::uintptr_t s) { return reinterpret_cast<cudaStream_t>(s); }

int current_device() {
  require_device(0);
  int d = 0;
  FASTDET_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

DType parse_dtype(const py::handle& h, const char* name) {
  std::string s = py::str(h).cast<std::string>();
  if (s != "float16" && s != "float32") {
    try {  // numpy dtypes and scalar types (numpy.float16, cupy's dtypes)
      s = py::module_::import("numpy").attr("dtype")(h).attr("name").cast<std::string>();
    } catch (const py::error_already_set&) {
      if (s == "torch.float16") s = "float16";
      if (s == "torch.float32") s = "float32";
    }
  }
  if (s == "float16") return DType::Float16;
  if (s == "float32") return DType::Float32;
  throw TypeMismatch(std::string(name) + ": expected float16 or float32, got " + py::str(h).cast<std::string>());
}

// A device frame: an object exposing __cuda_array_interface__ (CuPy, PyTorch, Numba) of
// uint8[H, W, 3|4] with packed pixels, or a tuple (ptr, height, width, channels[, row_stride]).
// The interface's stream (version 3), when given, is returned in *stream (0 when none).
FrameView device_frame(const py::handle& obj, const std::string& name, bool rgb, std::uintptr_t* stream) {
  FrameView f;
  f.rgb = rgb;
  *stream = 0;
  if (py::hasattr(obj, "__cuda_array_interface__")) {
    py::dict cai = obj.attr("__cuda_array_interface__");
    const std::string typestr = cai["typestr"].cast<std::string>();
    if (typestr != "|u1" && typestr != "<u1")
      throw TypeMismatch(name + ": expected dtype uint8, got typestr " + typestr);
    const auto shape = cai["shape"].cast<std::vector<long long>>();
    if (shape.size() != 3 || (shape[2] != 3 && shape[2] != 4))
      throw InvalidArgument(name + ": expected shape (H, W, 3|4) with 3 or 4 channels, got " + py::str(cai["shape"]).cast<std::string>());
    f.data = reinterpret_cast<const std::uint8_t*>(cai["data"].cast<py::tuple>()[0].cast<std::uintptr_t>());
    f.height = static_cast<int>(shape[0]);
    f.width = static_cast<int>(shape[1]);
    f.channels = static_cast<int>(shape[2]);
    f.row_stride = static_cast<std::ptrdiff_t>(shape[1] * shape[2]);
    if (cai.contains("strides") && !cai["strides"].is_none()) {
      const auto st = cai["strides"].cast<std::vector<long long>>();
      if (st[2] != 1 || st[1] != shape[2] || st[0] < shape[1] * shape[2])
        throw InvalidArgument(name + ": expected rows of packed pixels (strides (row, channels, 1)), got " +
                              py::str(cai["strides"]).cast<std::string>() + "; pass a contiguous array");
      f.row_stride = static_cast<std::ptrdiff_t>(st[0]);
    }
    if (cai.contains("stream") && !cai["stream"].is_none()) *stream = cai["stream"].cast<std::uintptr_t>();
    return f;
  }
  if (!py::isinstance<py::tuple>(obj))
    throw TypeMismatch(name + ": expected a device array (__cuda_array_interface__) or a tuple (ptr, height, width, "
                              "channels[, row_stride]), got " + py::str(py::type::of(obj)).cast<std::string>());
  const py::tuple t = py::reinterpret_borrow<py::tuple>(obj);
  if (t.size() != 4 && t.size() != 5)
    throw InvalidArgument(name + ": expected (ptr, height, width, channels[, row_stride]), got " +
                          std::to_string(t.size()) + " values");
  f.data = reinterpret_cast<const std::uint8_t*>(t[0].cast<std::uintptr_t>());
  f.height = t[1].cast<int>();
  f.width = t[2].cast<int>();
  f.channels = t[3].cast<int>();
  f.row_stride = t.size() == 5 ? t[4].cast<std::ptrdiff_t>() : static_cast<std::ptrdiff_t>(f.width) * f.channels;
  return f;
}

std::vector<FrameView> device_frames(const py::sequence& frames, bool rgb, std::vector<cudaStream_t>* streams) {
  std::vector<FrameView> out;
  out.reserve(frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    std::uintptr_t s = 0;
    out.push_back(device_frame(frames[i], "frames[" + std::to_string(i) + "]", rgb, &s));
    if (s) streams->push_back(as_stream(s));
  }
  return out;
}

FrameView host_frame(const py::handle& obj, const std::string& name, bool rgb) {
  if (!py::isinstance<py::array>(obj))
    throw TypeMismatch(name + ": expected a numpy uint8 array [H, W, 3|4], got " +
                       py::str(py::type::of(obj)).cast<std::string>());
  const py::array a = py::reinterpret_borrow<py::array>(obj);
  require_dtype<std::uint8_t>(a, name.c_str(), "uint8");
  require_ndim(a, name.c_str(), 3, "[H, W, C] (C = 3 for BGR/RGB or 4 for BGRA/RGBA)");
  const auto c = a.shape(2);
  if (a.strides(2) != 1 || a.strides(1) != c || a.strides(0) < a.shape(1) * c)
    throw InvalidArgument(name + ": expected rows of packed pixels (strides (row, " + std::to_string(c) +
                          ", 1)); pass numpy.ascontiguousarray(frame)");
  FrameView f;
  f.data = static_cast<const std::uint8_t*>(a.data());
  f.height = static_cast<int>(a.shape(0));
  f.width = static_cast<int>(a.shape(1));
  f.channels = static_cast<int>(c);
  f.row_stride = a.strides(0);
  f.rgb = rgb;
  return f;
}

// Per-device state of the standalone functions: a parameter table (pinned + device) and
// the decode workspace. Calls may come on any stream: each waits, on the device, for the
// previous call to finish with the shared buffers, and the host waits only for the
// previous table upload before rewriting the pinned table. Never freed: it must outlive
// every stream it was used on, up to process exit.
struct StandaloneOps {
  std::mutex mutex;
  PinnedBuffer table_host;
  DeviceBuffer table_dev;
  DecodeNms decode;
  Event uploaded, done, producer_ready;

  static StandaloneOps& on(int device) {
    static std::mutex registry_mutex;
    static auto* registry = new std::map<int, StandaloneOps*>();
    std::lock_guard<std::mutex> lock(registry_mutex);
    StandaloneOps*& ops = (*registry)[device];
    if (!ops) ops = new StandaloneOps();
    return *ops;
  }

  // Copies `bytes` of host data into the device table, ordered on `stream`.
  void upload(const void* data, std::size_t bytes, cudaStream_t stream) {
    uploaded.synchronize();
    FASTDET_CUDA_CHECK(cudaStreamWaitEvent(stream, done.get(), 0));
    if (table_host.capacity() < bytes || table_dev.capacity() < bytes) {
      done.synchronize();
      table_host.reserve(bytes);
      table_dev.reserve(bytes);
    }
    std::memcpy(table_host.data(), data, bytes);
    FASTDET_CUDA_CHECK(cudaMemcpyAsync(table_dev.data(), table_host.data(), bytes, cudaMemcpyHostToDevice, stream));
    uploaded.record(stream);
  }
};

std::size_t align256(std::size_t v) { return (v + 255) & ~std::size_t{255}; }

// None keeps every class; an empty list is refused (the CPU decoder would keep nothing, the
// pipeline's "no filter" everything: one meaning for both, by having neither).
std::vector<int> nonempty_classes(const std::optional<std::vector<int>>& classes) {
  if (classes && classes->empty())
    throw InvalidArgument("classes: expected at least one class id, or None for every class");
  return classes.value_or(std::vector<int>{});
}

class CallableEngine : public Engine {
 public:
  CallableEngine(py::function fn, bool capturable) : fn_(std::move(fn)), capturable_(capturable) {}
  ~CallableEngine() override {
    if (Py_IsInitialized()) {
      py::gil_scoped_acquire gil;
      fn_ = py::object();
    } else {
      fn_.release();  // interpreter gone: nothing left to decref into
    }
  }
  void enqueue(const EngineIO& io, cudaStream_t stream) override {
    py::gil_scoped_acquire gil;
    fn_(reinterpret_cast<std::uintptr_t>(io.input), reinterpret_cast<std::uintptr_t>(io.output),
        reinterpret_cast<std::uintptr_t>(stream), io.batch);
  }
  bool capturable() const override { return capturable_; }

 private:
  py::object fn_;
  bool capturable_;
};

// Per-image results copied out of the pipeline's pinned memory (so the lock can be dropped
// before numpy arrays are built with the GIL).
struct ImageResult {
  std::vector<float> rows;  // kept * 6
  DecodeStats stats;
  Geometry geometry;
};

py::list to_python(const std::vector<ImageResult>& images) {
  py::list out;
  for (const ImageResult& r : images) {
    const float* rows = r.rows.data();
    py::tuple t = py_results::detections_to_numpy(r.stats.kept, [rows](int i) {
      const float* row = rows + i * kDetectionWidth;
      return Detection{row[0], row[1], row[2], row[3], row[4], static_cast<int>(row[5])};
    });
    out.append(py::make_tuple(t[0], t[1], t[2], r.stats, r.geometry));
  }
  return out;
}

class PyPipeline {
 public:
  PyPipeline(std::shared_ptr<CallableEngine> engine, const HeadSpec& head, std::pair<int, int> input_size,
             const Recipe& recipe, const DecodeOptions& options, const std::optional<std::vector<int>>& classes,
             const py::object& input_dtype, const py::object& output_dtype, int device, bool use_graphs) {
    PipelineConfig c;
    c.device = device;
    c.input_h = input_size.first;
    c.input_w = input_size.second;
    c.input_dtype = parse_dtype(input_dtype, "input_dtype");
    c.output_dtype = parse_dtype(output_dtype, "output_dtype");
    c.head = head;
    c.recipe = recipe;
    c.options = options;
    c.classes = nonempty_classes(classes);
    c.use_graphs = use_graphs;
    pipeline_ = std::make_unique<Pipeline>(c, std::move(engine));
  }

  py::list run(const py::sequence& frames, bool rgb) {
    std::vector<FrameView> views;
    for (std::size_t i = 0; i < frames.size(); ++i)
      views.push_back(host_frame(frames[i], "frames[" + std::to_string(i) + "]", rgb));
    std::vector<ImageResult> images;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      collect(pipeline_->run_host(views), &images);
    }
    return to_python(images);
  }

  py::list run_device(const py::sequence& frames, bool rgb, std::uintptr_t stream) {
    std::vector<cudaStream_t> producers{as_stream(stream)};
    std::vector<FrameView> views = device_frames(frames, rgb, &producers);
    std::vector<ImageResult> images;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      collect(pipeline_->run_device(views, producers), &images);
    }
    return to_python(images);
  }

  // run() holds mutex_ without the GIL and takes the GIL inside CallableEngine::enqueue: taking
  // mutex_ while holding the GIL would deadlock against it, so every locker drops the GIL first.
  void set_options(const DecodeOptions& options, const std::optional<std::vector<int>>& classes) {
    std::vector<int> ids = nonempty_classes(classes);
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(mutex_);
    pipeline_->set_options(options, ids);
  }

  void set_use_graphs(bool on) {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(mutex_);
    pipeline_->set_use_graphs(on);
  }

  Pipeline& get() { return *pipeline_; }

 private:
  static void collect(const PipelineResult& r, std::vector<ImageResult>* images) {
    images->resize(r.batch);
    for (int b = 0; b < r.batch; ++b) {
      ImageResult& out = (*images)[b];
      const int* st = r.stats + b * kStatsPerImage;
      out.stats = DecodeStats{st[0], st[1], st[2], st[3]};
      const float* rows = r.detections + static_cast<std::size_t>(b) * r.max_det * kDetectionWidth;
      out.rows.assign(rows, rows + static_cast<std::size_t>(st[2]) * kDetectionWidth);
      out.geometry = r.geometries[b];
    }
  }

  std::unique_ptr<Pipeline> pipeline_;
  std::mutex mutex_;
};

std::vector<Geometry> cuda_letterbox(const py::sequence& frames, std::uintptr_t out, int out_h, int out_w,
                                     const Recipe& recipe, const py::object& out_dtype, bool rgb,
                                     std::uintptr_t stream) {
  const int device = current_device();
  const DType dtype = parse_dtype(out_dtype, "out_dtype");
  if (!out) throw InvalidArgument("out: expected a device pointer, got 0");
  check_size(out_h, out_w, "out size");
  check_recipe(recipe);
  std::vector<cudaStream_t> producers;
  const std::vector<FrameView> views = device_frames(frames, rgb, &producers);
  check_frames(views, true, device);
  std::vector<Geometry> geometries;
  std::vector<LetterboxItem> items;
  for (const FrameView& f : views) {
    geometries.push_back(make_geometry(f.height, f.width, out_h, out_w, recipe.placement, recipe.scaleup));
    items.push_back(make_letterbox_item(f.data, f.row_stride, f.channels, f.rgb, recipe, geometries.back()));
  }
  {
    py::gil_scoped_release release;
    StandaloneOps& ops = StandaloneOps::on(device);
    std::lock_guard<std::mutex> lock(ops.mutex);
    const cudaStream_t s = as_stream(stream);
    for (cudaStream_t p : producers)
      if (p != s) {
        ops.producer_ready.record(p);
        FASTDET_CUDA_CHECK(cudaStreamWaitEvent(s, ops.producer_ready.get(), 0));
      }
    ops.upload(items.data(), items.size() * sizeof(LetterboxItem), s);
    enqueue_letterbox(ops.table_dev.as<LetterboxItem>(), static_cast<int>(items.size()), out_h, out_w,
                      reinterpret_cast<void*>(out), dtype, s);
    ops.done.record(s);
  }
  return geometries;
}

void cuda_decode_nms(std::uintptr_t output, int batch, const HeadSpec& head, const std::vector<Geometry>& geometries,
                     const DecodeOptions& options, std::uintptr_t detections, std::uintptr_t stats,
                     const py::object& output_dtype, const std::optional<std::vector<int>>& classes,
                     std::uintptr_t stream) {
  const int device = current_device();
  const DType dtype = parse_dtype(output_dtype, "output_dtype");
  if (batch < 1 || batch > 65535) throw InvalidArgument("batch: expected 1 to 65535 images, got " + std::to_string(batch));
  if (static_cast<int>(geometries.size()) != batch)
    throw InvalidArgument("geometries: expected one per image (" + std::to_string(batch) + "), got " +
                          std::to_string(geometries.size()));
  if (!output || !detections || !stats)
    throw InvalidArgument("output, detections, stats: expected device pointers, got 0");
  const int nc = std::max(head.num_classes, 1);
  // Table: geometries, then the class mask.
  const std::size_t mask_at = align256(geometries.size() * sizeof(Geometry));
  std::vector<unsigned char> table(mask_at + nc, 0);
  std::memcpy(table.data(), geometries.data(), geometries.size() * sizeof(Geometry));
  if (classes) nonempty_classes(classes);
  if (classes)
    for (int c : *classes) {
      if (c < 0 || c >= nc)
        throw InvalidArgument("classes: expected ids in [0, " + std::to_string(nc) + "), got " + std::to_string(c));
      table[mask_at + c] = 1;
    }
  py::gil_scoped_release release;
  StandaloneOps& ops = StandaloneOps::on(device);
  std::lock_guard<std::mutex> lock(ops.mutex);
  const cudaStream_t s = as_stream(stream);
  ops.upload(table.data(), table.size(), s);
  if (!ops.decode.fits(batch, head, options, dtype)) {
    ops.done.synchronize();
    ops.decode.reserve(batch, head, options, dtype);
  }
  DecodeNmsArgs a;
  a.output = reinterpret_cast<const void*>(output);
  a.dtype = dtype;
  a.batch = batch;
  a.head = head;
  a.options = options;
  a.geometries = ops.table_dev.as<Geometry>();
  a.class_mask = classes ? ops.table_dev.as<std::uint8_t>(mask_at) : nullptr;
  a.detections = reinterpret_cast<float*>(detections);
  a.stats = reinterpret_cast<int*>(stats);
  ops.decode.enqueue(a, s);
  ops.done.record(s);
}

}  // namespace

void bind_cuda(py::module_& m) {
  // CUDA runtime errors -> fastdet.CudaError (a RuntimeError), message naming the call.
  static PyObject* cuda_error = py::object(py::module_::import("fastdet.errors").attr("CudaError")).release().ptr();
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const fastdet::cuda::CudaError& e) {
      PyErr_SetString(cuda_error, e.what());
    }
  });
  m.def("cuda_available", [] { return fastdet::cuda::device_count() > 0; },
        "True when this CUDA build finds a usable GPU at run time.");
  m.def("cuda_device_count", &fastdet::cuda::device_count);
  m.def("cuda_device_name", &fastdet::cuda::device_name, py::arg("index") = 0);

  py::module_ c = m.def_submodule("cuda", "CUDA core: letterbox and decode + NMS kernels, and the GPU pipeline.");
  c.attr("DETECTION_WIDTH") = kDetectionWidth;
  c.attr("STATS_WIDTH") = kStatsPerImage;

  c.def("letterbox", &cuda_letterbox, py::arg("frames"), py::arg("out"), py::arg("out_h"), py::arg("out_w"),
        py::arg("recipe"), py::arg("out_dtype") = "float32", py::arg("rgb") = false, py::arg("stream") = 0,
        R"doc(Letterbox device frames into out, enqueued on `stream` (returns before it runs).
frames: list of device uint8[H, W, 3|4] (BGR(A) unless rgb), each an object with
__cuda_array_interface__ or a tuple (ptr, height, width, channels[, row_stride_bytes]);
out: device pointer (int) to out_dtype[len(frames), 3, out_h, out_w], C-contiguous, on the
current device; out_dtype: "float32" or "float16"; stream: cudaStream_t as int (0: legacy default).
Returns one Geometry per frame.)doc");

  c.def("decode_nms", &cuda_decode_nms, py::arg("output"), py::arg("batch"), py::arg("head"),
        py::arg("geometries"), py::arg("options"), py::arg("detections"), py::arg("stats"),
        py::arg("output_dtype") = "float32", py::arg("classes") = py::none(), py::arg("stream") = 0,
        R"doc(Fused decode + exact greedy NMS on the device, enqueued on `stream` (no host sync).
output: device pointer (int) to output_dtype[batch, ...] laid out per head.format (float32 or float16);
geometries: one Geometry per image; detections: device pointer to float32[batch, options.max_det, 6]
(x1, y1, x2, y2, score, class in original-image pixels; rows past kept are left as they were);
stats: device pointer to int32[batch, 4] (candidates, dropped, kept, invalid); classes: ids to keep or None.)doc");

  py::class_<CallableEngine, std::shared_ptr<CallableEngine>>(
      c, "CallableEngine",
      R"doc(Engine backed by a Python callable fn(input_ptr, output_ptr, stream, batch) that enqueues
inference on `stream` (ints: device pointers and cudaStream_t): input is input_dtype[batch, 3, H, W]
and output output_dtype[batch, ...] per the head layout, both C-contiguous. capturable=True lets the
pipeline capture the callable's work into a CUDA graph (then the callable runs only for warm-up and
capture, never on replay): only for work that is stream-ordered, allocation-free and host-sync-free.)doc")
      .def(py::init<py::function, bool>(), py::arg("fn"), py::arg("capturable") = false)
      .def_property_readonly("capturable", &CallableEngine::capturable);

  py::class_<PyPipeline>(c, "CudaPipeline",
                         R"doc(GPU pipeline: frames -> letterbox kernel -> engine -> decode + NMS kernel ->
at most max_det rows per image, one host synchronisation per call, CUDA graph per shape.
Raises RuntimeError ("no CUDA device ...") where no GPU is usable.)doc")
      .def(py::init<std::shared_ptr<CallableEngine>, const HeadSpec&, std::pair<int, int>, const Recipe&,
                    const DecodeOptions&, const std::optional<std::vector<int>>&, const py::object&,
                    const py::object&, int, bool>(),
           py::arg("engine"), py::arg("head"), py::arg("input_size") = std::pair<int, int>(640, 640),
           py::arg("recipe") = Recipe(), py::arg("options") = DecodeOptions(), py::arg("classes") = py::none(),
           py::arg("input_dtype") = "float16", py::arg("output_dtype") = "float32", py::arg("device") = 0,
           py::arg("use_graphs") = true)
      .def("run", &PyPipeline::run, py::arg("frames"), py::arg("rgb") = false,
           R"doc(frames: list of host numpy uint8[H, W, 3|4] (BGR(A) unless rgb). Returns per frame
(xyxy float32[N, 4], scores float32[N], class_ids int32[N], DecodeStats, Geometry).)doc")
      .def("run_device", &PyPipeline::run_device, py::arg("frames"), py::arg("rgb") = false, py::arg("stream") = 0,
           R"doc(frames: list of device uint8[H, W, 3|4] on the pipeline's device (__cuda_array_interface__
objects or (ptr, height, width, channels[, row_stride]) tuples); stream: the producer stream the
pipeline waits for on the device (0: legacy default), as do interface streams. Same results as run.)doc")
      .def("set_options", &PyPipeline::set_options, py::arg("options"), py::arg("classes") = py::none())
      .def_property(
          "use_graphs", [](PyPipeline& p) { return p.get().config().use_graphs; },
          &PyPipeline::set_use_graphs)
      .def_property_readonly("graphs_cached", [](PyPipeline& p) { return p.get().graphs_cached(); })
      .def_property_readonly("graph_launches", [](PyPipeline& p) { return p.get().graph_launches(); })
      .def_property_readonly("eager_runs", [](PyPipeline& p) { return p.get().eager_runs(); })
      .def_property_readonly("capture_failures", [](PyPipeline& p) { return p.get().capture_failures(); },
                             "Shapes whose graph capture failed and that run eagerly since.")
      .def_property_readonly("last_capture_error", [](PyPipeline& p) { return p.get().last_capture_error(); })
      .def_property_readonly("stream", [](PyPipeline& p) { return reinterpret_cast<std::uintptr_t>(p.get().stream()); })
      .def_property_readonly("device", [](PyPipeline& p) { return p.get().config().device; })
      .def_property_readonly("input_size", [](PyPipeline& p) {
        return std::make_pair(p.get().config().input_h, p.get().config().input_w);
      });
}
