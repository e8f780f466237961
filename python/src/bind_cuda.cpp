// Bindings of the CUDA core (compiled only in CUDA builds).
#include <pybind11/pybind11.h>

#include "runtime.hpp"

namespace py = pybind11;

void bind_cuda(py::module_& m) {
  m.def("cuda_available", [] { return fastdet::cuda::device_count() > 0; },
        "True when this CUDA build finds a usable GPU at run time.");
  m.def("cuda_device_count", &fastdet::cuda::device_count);
  m.def("cuda_device_name", &fastdet::cuda::device_name, py::arg("index") = 0);
}
