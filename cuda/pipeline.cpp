#include "pipeline.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "error.hpp"
#include "fastdet/error.hpp"
#include "fastdet/parallel.hpp"
#include "fastdet/validate.hpp"
#include "letterbox.cuh"
#include "runtime.hpp"

namespace fastdet::cuda {
namespace {

std::size_t align_up(std::size_t v) { return (v + 255) & ~std::size_t{255}; }

// Per-call parameter table, uploaded with one copy (also inside a graph, so replays see the
// current frame pointers and geometries): letterbox items, geometries, class mask.
struct TableLayout {
  std::size_t geometries, mask, total;
  TableLayout(int batch, int num_classes) {
    geometries = align_up(batch * sizeof(LetterboxItem));
    mask = geometries + align_up(batch * sizeof(Geometry));
    total = mask + align_up(static_cast<std::size_t>(std::max(num_classes, 1)));
  }
};

std::size_t detections_bytes(int batch, int max_det) {
  return align_up(static_cast<std::size_t>(batch) * max_det * kDetectionWidth * sizeof(float));
}

std::size_t results_bytes(int batch, int max_det) {
  return detections_bytes(batch, max_det) + static_cast<std::size_t>(batch) * kStatsPerImage * sizeof(int);
}

void check_options(const DecodeOptions& o, const std::vector<int>& classes, const HeadSpec& h) {
  check_decode_options(o);
  const int nc = std::max(h.num_classes, 1);
  for (int c : classes)
    if (c < 0 || c >= nc)
      throw InvalidArgument("classes: expected ids in [0, " + std::to_string(nc) + "), got " + std::to_string(c));
}

const PipelineConfig& checked(const PipelineConfig& c) {
  require_device(c.device);
  check_size(c.input_h, c.input_w, "input size");
  check_head_spec(c.head);
  check_recipe(c.recipe);
  check_options(c.options, c.classes, c.head);
  return c;
}

}  // namespace

void check_frames(const std::vector<FrameView>& frames, bool on_device, int device) {
  if (frames.empty()) throw InvalidArgument("frames: expected at least one frame, got none");
  if (frames.size() > 65535) throw InvalidArgument("frames: expected at most 65535 frames per batch");
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const FrameView& f = frames[i];
    const std::string name = "frames[" + std::to_string(i) + "]";
    check_frame(f, name);
    if (on_device) {
      cudaPointerAttributes attr{};
      const cudaError_t err = cudaPointerGetAttributes(&attr, f.data);
      if (err != cudaSuccess) cudaGetLastError();
      const bool device_memory =
          err == cudaSuccess && (attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged);
      if (!device_memory)
        throw InvalidArgument(name + ": expected device memory on cuda:" + std::to_string(device) +
                              ", got a host or unknown pointer");
      if (attr.type == cudaMemoryTypeDevice && attr.device != device)
        throw InvalidArgument(name + ": expected memory on cuda:" + std::to_string(device) + ", got cuda:" +
                              std::to_string(attr.device));
    }
  }
}

Pipeline::Pipeline(const PipelineConfig& config, std::shared_ptr<Engine> engine)
    : config_(checked(config)), engine_(std::move(engine)), graphs_(config.graph_cache_size) {
  if (!engine_) throw InvalidArgument("engine: expected an engine, got none");
  DeviceGuard guard(config_.device);
  stream_.emplace();
  producer_ready_.emplace();
}

Pipeline::~Pipeline() = default;

void Pipeline::set_options(const DecodeOptions& options, const std::vector<int>& classes) {
  check_options(options, classes, config_.head);
  config_.options = options;
  config_.classes = classes;
  graphs_.clear();
}

void Pipeline::set_use_graphs(bool on) {
  config_.use_graphs = on;
  if (!on) graphs_.clear();
}

const PipelineResult& Pipeline::run_host(const std::vector<FrameView>& frames) {
  return run(frames, false, {});
}

const PipelineResult& Pipeline::run_device(const std::vector<FrameView>& frames,
                                           const std::vector<cudaStream_t>& producers) {
  return run(frames, true, producers);
}

bool Pipeline::reserve(const std::vector<FrameView>& frames, bool on_device) {
  const int batch = static_cast<int>(frames.size());
  const std::size_t in_bytes =
      static_cast<std::size_t>(batch) * 3 * config_.input_h * config_.input_w * dtype_size(config_.input_dtype);
  const std::size_t out_bytes = static_cast<std::size_t>(batch) * config_.head.image_stride() * dtype_size(config_.output_dtype);
  const std::size_t table = TableLayout(batch, config_.head.num_classes).total;
  const std::size_t results = results_bytes(batch, config_.options.max_det);
  bool grew = input_.reserve(in_bytes);
  grew |= output_.reserve(out_bytes);
  grew |= table_dev_.reserve(table);
  grew |= table_host_.reserve(table);
  grew |= results_dev_.reserve(results);
  grew |= results_host_.reserve(results);
  grew |= decode_.reserve(batch, config_.head, config_.options, config_.output_dtype);
  if (!on_device) {
    staging_offsets_.resize(frames.size());
    staging_bytes_ = 0;
    for (std::size_t i = 0; i < frames.size(); ++i) {
      staging_offsets_[i] = staging_bytes_;
      staging_bytes_ += align_up(static_cast<std::size_t>(frames[i].height) * frames[i].width * frames[i].channels);
    }
    grew |= staging_dev_.reserve(staging_bytes_);
    grew |= staging_host_.reserve(staging_bytes_);
  }
  return grew;
}

void Pipeline::stage_host_frames(const std::vector<FrameView>& frames) {
  // Rows of all frames, packed, copied into pinned memory on the core's thread pool.
  std::vector<int> first_row(frames.size() + 1, 0);
  for (std::size_t i = 0; i < frames.size(); ++i) first_row[i + 1] = first_row[i] + frames[i].height;
  auto* staging = staging_host_.as<std::uint8_t>();
  parallel_for(first_row.back(), 64, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      const std::size_t i = std::upper_bound(first_row.begin(), first_row.end(), r) - first_row.begin() - 1;
      const FrameView& f = frames[i];
      const int y = r - first_row[i];
      const std::size_t row_bytes = static_cast<std::size_t>(f.width) * f.channels;
      std::memcpy(staging + staging_offsets_[i] + y * row_bytes, f.data + y * f.row_stride, row_bytes);
    }
  });
}

void Pipeline::fill_table(const std::vector<FrameView>& frames, bool on_device) {
  const int batch = static_cast<int>(frames.size());
  const TableLayout layout(batch, config_.head.num_classes);
  auto* table = table_host_.as<char>();
  for (int i = 0; i < batch; ++i) {
    const FrameView& f = frames[i];
    const std::uint8_t* src = on_device ? f.data : staging_dev_.as<std::uint8_t>(staging_offsets_[i]);
    const long long stride = on_device ? f.row_stride : static_cast<long long>(f.width) * f.channels;
    const LetterboxItem item = make_letterbox_item(src, stride, f.channels, f.rgb, config_.recipe, result_.geometries[i]);
    std::memcpy(table + i * sizeof(LetterboxItem), &item, sizeof(item));
  }
  std::memcpy(table + layout.geometries, result_.geometries.data(), batch * sizeof(Geometry));
  auto* mask = reinterpret_cast<std::uint8_t*>(table + layout.mask);
  std::memset(mask, 0, layout.total - layout.mask);
  for (int c : config_.classes) mask[c] = 1;
}

void Pipeline::enqueue_pre(int batch, bool on_device) {
  const cudaStream_t s = stream_->get();
  FASTDET_CUDA_CHECK(cudaMemcpyAsync(table_dev_.data(), table_host_.data(),
                                     TableLayout(batch, config_.head.num_classes).total, cudaMemcpyHostToDevice, s));
  if (!on_device)
    FASTDET_CUDA_CHECK(
        cudaMemcpyAsync(staging_dev_.data(), staging_host_.data(), staging_bytes_, cudaMemcpyHostToDevice, s));
  enqueue_letterbox(table_dev_.as<LetterboxItem>(), batch, config_.input_h, config_.input_w, input_.data(),
                    config_.input_dtype, s);
}

void Pipeline::enqueue_infer(int batch) {
  EngineIO io;
  io.input = input_.data();
  io.input_dtype = config_.input_dtype;
  io.batch = batch;
  io.input_h = config_.input_h;
  io.input_w = config_.input_w;
  io.output = output_.data();
  io.output_dtype = config_.output_dtype;
  io.head = config_.head;
  engine_->enqueue(io, stream_->get());
}

void Pipeline::enqueue_post(int batch) {
  const TableLayout layout(batch, config_.head.num_classes);
  DecodeNmsArgs a;
  a.output = output_.data();
  a.dtype = config_.output_dtype;
  a.batch = batch;
  a.head = config_.head;
  a.options = config_.options;
  a.geometries = table_dev_.as<Geometry>(layout.geometries);
  a.class_mask = config_.classes.empty() ? nullptr : table_dev_.as<std::uint8_t>(layout.mask);
  a.detections = results_dev_.as<float>();
  a.stats = results_dev_.as<int>(detections_bytes(batch, config_.options.max_det));
  decode_.enqueue(a, stream_->get());
  FASTDET_CUDA_CHECK(cudaMemcpyAsync(results_host_.data(), results_dev_.data(),
                                     results_bytes(batch, config_.options.max_det), cudaMemcpyDeviceToHost,
                                     stream_->get()));
}

void Pipeline::execute(const std::vector<FrameView>& frames, bool on_device) {
  const int batch = static_cast<int>(frames.size());
  auto eager = [&] {
    enqueue_pre(batch, on_device);
    enqueue_infer(batch);
    enqueue_post(batch);
    ++eager_runs_;
  };
  if (!config_.use_graphs) return eager();

  // Frame sizes fix the staging copy; pointers and geometries travel in the table.
  GraphKey key{on_device ? 1 : 0, batch};
  for (const FrameView& f : frames) {
    key.push_back(f.height);
    key.push_back(f.width);
    key.push_back(f.channels);
  }
  GraphEntry* entry = graphs_.find(key);
  if (!entry) {
    eager();  // warm-up: sizes buffers, loads modules, lets the engine settle
    graphs_.insert(key).warmed = true;
    return;
  }
  const cudaStream_t s = stream_->get();
  if (!entry->full && !entry->pre && !entry->uncapturable) {
    try {
      if (engine_->capturable()) {
        entry->full = capture_graph(s, [&] {
          enqueue_pre(batch, on_device);
          enqueue_infer(batch);
          enqueue_post(batch);
        });
      } else {
        entry->pre = capture_graph(s, [&] { enqueue_pre(batch, on_device); });
        entry->post = capture_graph(s, [&] { enqueue_post(batch); });
      }
    } catch (const std::exception& e) {
      // Nothing ran (a capture only records). Retrying would fail the same way on every call,
      // so this shape runs eagerly from now on; an engine that is broken outright raises from
      // the eager run below as it did on warm-up.
      entry->full = GraphExec();
      entry->pre = GraphExec();
      entry->post = GraphExec();
      entry->uncapturable = true;
      ++capture_failures_;
      last_capture_error_ = e.what();
      cudaGetLastError();
    }
  }
  if (entry->uncapturable) return eager();
  if (entry->full) {
    entry->full.launch(s);
  } else {
    entry->pre.launch(s);
    enqueue_infer(batch);
    entry->post.launch(s);
  }
  ++graph_launches_;
}

const PipelineResult& Pipeline::run(const std::vector<FrameView>& frames, bool on_device,
                                    const std::vector<cudaStream_t>& producers) {
  DeviceGuard guard(config_.device);
  check_frames(frames, on_device, config_.device);
  const int batch = static_cast<int>(frames.size());
  result_.geometries.resize(batch);
  for (int i = 0; i < batch; ++i)
    result_.geometries[i] = make_geometry(frames[i].height, frames[i].width, config_.input_h, config_.input_w,
                                          config_.recipe.placement, config_.recipe.scaleup);
  // A problem decode refuses is refused here, before any buffer grows: the captured graphs stay
  // valid. Anything reserve() throws after that (an allocation failing part-way) may have moved
  // some buffers already, so the graphs go.
  DecodeNms::check(batch, config_.head, config_.options);
  bool grew = false;
  try {
    grew = reserve(frames, on_device);
  } catch (...) {
    graphs_.clear();
    throw;
  }
  if (grew) graphs_.clear();  // captured graphs hold the old pointers
  if (!on_device) stage_host_frames(frames);
  fill_table(frames, on_device);
  for (std::size_t i = 0; i < producers.size(); ++i)
    if (std::find(producers.begin(), producers.begin() + i, producers[i]) == producers.begin() + i)
      stream_->wait_for(producers[i], *producer_ready_);
  try {
    execute(frames, on_device);
    stream_->synchronize();
  } catch (...) {
    // Leave no queued work reading buffers the next call rewrites.
    cudaStreamSynchronize(stream_->get());
    throw;
  }
  result_.batch = batch;
  result_.max_det = config_.options.max_det;
  result_.detections = results_host_.as<float>();
  result_.stats = results_host_.as<int>(detections_bytes(batch, config_.options.max_det));
  return result_;
}

}  // namespace fastdet::cuda
