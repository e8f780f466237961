// fastdet._core: the native core bound to Python.
#include <pybind11/pybind11.h>

#include "fastdet/error.hpp"
#include "fastdet/parallel.hpp"
#include "fastdet/validate.hpp"

namespace py = pybind11;

void bind_types(py::module_& m);
void bind_letterbox(py::module_& m);
void bind_decode(py::module_& m);
#ifdef FASTDET_WITH_CUDA
void bind_cuda(py::module_& m);
#endif

namespace {

// fastdet.errors' classes, looked up once while the module loads (that module imports nothing
// of fastdet, so importing it from here cannot cycle). Kept alive for the process's life.
PyObject* input_error = nullptr;
PyObject* input_type_error = nullptr;

PyObject* error_class(const py::module_& errors, const char* name) {
  return py::object(errors.attr(name)).release().ptr();
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastdet native core: letterbox, decode + NMS (CPU), and the CUDA pipeline when built with it.";
  const py::module_ errors = py::module_::import("fastdet.errors");
  input_error = error_class(errors, "InputError");
  input_type_error = error_class(errors, "InputTypeError");
  // InvalidArgument -> fastdet.InputError (a ValueError), TypeMismatch -> fastdet.InputTypeError
  // (a TypeError); anything else keeps pybind11's mapping (std::exception -> RuntimeError).
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const fastdet::TypeMismatch& e) {
      PyErr_SetString(input_type_error, e.what());
    } catch (const fastdet::InvalidArgument& e) {
      PyErr_SetString(input_error, e.what());
    }
  });
  bind_types(m);
  bind_letterbox(m);
  bind_decode(m);
  m.def("num_threads", &fastdet::parallel_threads, "Threads the CPU core spreads work over.");
  m.def(
      "_pool_callers_overlap",
      [](int callers, int timeout_ms) {
        py::gil_scoped_release release;
        return fastdet::parallel_callers_overlap(callers, timeout_ms);
      },
      py::arg("callers"), py::arg("timeout_ms"),
      "Test hook: call from `callers` threads at once; True when all were inside the thread pool's "
      "loops together (the pool does not serialise independent callers).");
  m.def(
      "_pool_throw_at",
      [](int n, int failing) {
        py::gil_scoped_release release;
        fastdet::parallel_throw_at(n, failing);
      },
      py::arg("n"), py::arg("failing"),
      "Test hook: a parallel loop over n items whose chunk holding `failing` throws (RuntimeError).");
  // The native limits, so Python checks against them instead of copies of the numbers.
  m.attr("MAX_DETECTIONS") = fastdet::kMaxDetections;
  m.attr("MAX_FRAME_SIDE") = fastdet::kMaxFrameSide;
#ifdef FASTDET_SANITIZED
  m.attr("sanitized") = true;  // an ASan + UBSan test build (large, slow): never shipped
#else
  m.attr("sanitized") = false;
#endif
#ifdef FASTDET_WITH_CUDA
  m.attr("built_with_cuda") = true;
  bind_cuda(m);
#else
  m.attr("built_with_cuda") = false;
  m.def("cuda_available", [] { return false; }, "True when a usable CUDA GPU is present (never, in a CPU build).");
#endif
}
