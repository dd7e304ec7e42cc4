# OpenBLAS built on OpenMP: its threads are the same pool as the engine's own
# `#pragma omp` loops, so a step never runs more threads than cores
# (a pthreads OpenBLAS next to OpenMP oversubscribes 2 cores; measured in README).
find_path(AHA_OPENBLAS_INCLUDE cblas.h PATHS /usr/include/x86_64-linux-gnu/openblas-openmp /usr/include/openblas NO_DEFAULT_PATH)
find_library(AHA_OPENBLAS_LIB NAMES openblas PATHS /usr/lib/x86_64-linux-gnu/openblas-openmp NO_DEFAULT_PATH)
if(NOT AHA_OPENBLAS_INCLUDE OR NOT AHA_OPENBLAS_LIB)
  message(FATAL_ERROR "OpenBLAS (OpenMP variant) not found: run packaging/install-deps.sh (libopenblas-openmp-dev)")
endif()
add_library(aha_blas INTERFACE)
add_library(aha::blas ALIAS aha_blas)
target_include_directories(aha_blas SYSTEM INTERFACE ${AHA_OPENBLAS_INCLUDE})
target_link_libraries(aha_blas INTERFACE ${AHA_OPENBLAS_LIB})
