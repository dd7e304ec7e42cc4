# Project-wide compile policy as interface targets: warnings and sanitizers.
add_library(aha_options INTERFACE)
add_library(aha::options ALIAS aha_options)
target_compile_options(aha_options INTERFACE -Wall -Wextra -Wno-unused-parameter)
# Release builds target any x86-64-v3 machine; the AVX-512 kernels are compiled
# per-function with target attributes and chosen at run time (kernels/cpu/dispatch.h).
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  if(AHA_NATIVE)
    target_compile_options(aha_options INTERFACE -march=native)
  else()
    target_compile_options(aha_options INTERFACE -march=x86-64-v3)
  endif()
endif()
if(AHA_ASAN)
  target_compile_options(aha_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
  target_link_options(aha_options INTERFACE -fsanitize=address,undefined)
endif()
