// The CUDA detection pipeline: frames in, at most max_det boxes per image out, with one
// host synchronisation per batch. Host frames: pinned staging -> async H2D of uint8 ->
// letterbox kernel into the engine input -> engine -> decode + NMS on the engine output ->
// async D2H of the compact results. Device frames skip the copy. For each shape the whole
// sequence is captured once into a CUDA graph (after a warm-up run) and replayed.
#pragma once

#include <cuda_runtime_api.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "buffer.hpp"
#include "decode_nms.cuh"
#include "dtype.hpp"
#include "engine.hpp"
#include "fastdet/letterbox.hpp"
#include "graph.hpp"
#include "stream.hpp"

namespace fastdet::cuda {

struct PipelineConfig {
  int device = 0;
  int input_h = 640, input_w = 640;  // engine input size
  DType input_dtype = DType::Float16;
  HeadSpec head;
  DType output_dtype = DType::Float32;
  Recipe recipe;
  DecodeOptions options;
  std::vector<int> classes;  // class ids to keep; empty keeps all
  bool use_graphs = true;
  int graph_cache_size = 8;
};

// Views into the pipeline's pinned memory, valid until its next run.
struct PipelineResult {
  int batch = 0;
  int max_det = 0;
  const float* detections = nullptr;  // float32[batch, max_det, 6]: x1 y1 x2 y2 score class; rows < kept valid
  const int* stats = nullptr;         // int32[batch, 4]: candidates, dropped, kept, invalid
  std::vector<Geometry> geometries;   // one per frame
};

// Validates frames (null, size, channels, row stride; for device frames that the memory is on
// `device`), throwing InvalidArgument that names the frame.
void check_frames(const std::vector<FrameView>& frames, bool on_device, int device);

class Pipeline {
 public:
  // Throws CudaError ("no CUDA device") when config.device is not a usable GPU.
  Pipeline(const PipelineConfig& config, std::shared_ptr<Engine> engine);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // frames: host uint8[H, W, 3|4] (any row stride). Blocks until the results are in.
  const PipelineResult& run_host(const std::vector<FrameView>& frames);
  // frames: device uint8[H, W, 3|4] on config.device; `producers` are the streams that wrote
  // them: the pipeline's stream waits for each on the device (no host wait) before reading.
  const PipelineResult& run_device(const std::vector<FrameView>& frames, const std::vector<cudaStream_t>& producers);

  // New thresholds/caps/class filter; captured graphs are dropped (they hold the old values).
  void set_options(const DecodeOptions& options, const std::vector<int>& classes);
  void set_use_graphs(bool on);

  const PipelineConfig& config() const { return config_; }
  cudaStream_t stream() const { return stream_->get(); }
  int graphs_cached() const { return static_cast<int>(graphs_.size()); }
  long long graph_launches() const { return graph_launches_; }
  long long eager_runs() const { return eager_runs_; }
  // Captures that failed (the engine did something a graph cannot hold); each such shape then
  // runs eagerly for good. last_capture_error() says why the latest one failed.
  long long capture_failures() const { return capture_failures_; }
  const std::string& last_capture_error() const { return last_capture_error_; }

 private:
  struct GraphEntry {
    bool warmed = false;  // one eager run done for this shape
    bool uncapturable = false;  // capture failed once: run eagerly, never retry
    GraphExec full;       // whole sequence (capturable engine)
    GraphExec pre, post;  // around a non-capturable engine
  };

  const PipelineResult& run(const std::vector<FrameView>& frames, bool on_device,
                            const std::vector<cudaStream_t>& producers);
  bool reserve(const std::vector<FrameView>& frames, bool on_device);
  void stage_host_frames(const std::vector<FrameView>& frames);
  void fill_table(const std::vector<FrameView>& frames, bool on_device);
  void enqueue_pre(int batch, bool on_device);
  void enqueue_infer(int batch);
  void enqueue_post(int batch);
  void execute(const std::vector<FrameView>& frames, bool on_device);

  PipelineConfig config_;
  std::shared_ptr<Engine> engine_;
  std::optional<Stream> stream_;  // created on config.device
  std::optional<Event> producer_ready_;
  DeviceBuffer input_, output_, table_dev_, staging_dev_, results_dev_;
  PinnedBuffer table_host_, staging_host_, results_host_;
  DecodeNms decode_;
  GraphCache<GraphEntry> graphs_;
  std::vector<std::size_t> staging_offsets_;
  std::size_t staging_bytes_ = 0;
  PipelineResult result_;
  long long graph_launches_ = 0, eager_runs_ = 0, capture_failures_ = 0;
  std::string last_capture_error_;
};

}  // namespace fastdet::cuda
