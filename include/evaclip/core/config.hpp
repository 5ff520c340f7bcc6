// config.hpp — defines EVACLIP_HOST_DEVICE and EVACLIP_INLINE so shared headers build with g++ and nvcc.
#pragma once

#if defined(__CUDACC__)
#define EVACLIP_HOST_DEVICE __host__ __device__
#else
#define EVACLIP_HOST_DEVICE
#endif

#define EVACLIP_INLINE EVACLIP_HOST_DEVICE inline
