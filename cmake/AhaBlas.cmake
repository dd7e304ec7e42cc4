# The GEMM library. tests/bench/gemm_libs.cpp measured OpenBLAS, BLIS and oneDNN on the
# shapes of a `tiny` training step (README, "Choosing the GEMM library"): oneDNN's sgemm
# was fastest on every shape, with 1 and 2 threads. Debian builds it on OpenMP (libgomp),
# so its threads are the same pool as the engine's own `#pragma omp` loops: a step never
# runs more threads than cores.
# (Debian's dnnl-config.cmake also demands OpenCL, which the CPU build never uses, so the
# header and library are found directly.)
find_path(AHA_DNNL_INCLUDE oneapi/dnnl/dnnl.h)
find_library(AHA_DNNL_LIB NAMES dnnl)
if(NOT AHA_DNNL_INCLUDE OR NOT AHA_DNNL_LIB)
  message(FATAL_ERROR "oneDNN not found: run packaging/install-deps.sh (libdnnl-dev)")
endif()
add_library(aha_blas INTERFACE)
add_library(aha::blas ALIAS aha_blas)
target_include_directories(aha_blas SYSTEM INTERFACE ${AHA_DNNL_INCLUDE})
target_link_libraries(aha_blas INTERFACE ${AHA_DNNL_LIB})
