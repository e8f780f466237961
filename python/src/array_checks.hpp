// Input validation for numpy arrays crossing into the core. Messages name the
// argument, what was expected and what was seen.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <sstream>
#include <string>

#include "fastdet/error.hpp"

namespace fastdet::py_checks {

namespace py = pybind11;

inline std::string shape_str(const py::array& a) {
  std::ostringstream s;
  s << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s << (i ? ", " : "") << a.shape(i);
  if (a.ndim() == 1) s << ",";
  s << ")";
  return s.str();
}

inline std::string dtype_str(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

template <class T>
void require_dtype(const py::array& a, const char* name, const char* expected) {
  if (!py::isinstance<py::array_t<T>>(a) || !a.dtype().is(py::dtype::of<T>()))
    throw TypeMismatch(std::string(name) + ": expected dtype " + expected + ", got " + dtype_str(a));
}

inline void require_ndim(const py::array& a, const char* name, int ndim, const char* layout) {
  if (a.ndim() != ndim)
    throw InvalidArgument(std::string(name) + ": expected " + std::to_string(ndim) + " dimensions " +
                          layout + ", got shape " + shape_str(a));
}

inline void require_c_contiguous(const py::array& a, const char* name) {
  if (!(a.flags() & py::array::c_style))
    throw InvalidArgument(std::string(name) +
                          ": expected a C-contiguous array; pass numpy.ascontiguousarray(" + name + ")");
}

inline void require_writeable(const py::array& a, const char* name) {
  if (!a.writeable()) throw InvalidArgument(std::string(name) + ": expected a writeable array");
}

}  // namespace fastdet::py_checks
