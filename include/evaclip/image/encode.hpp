// encode.hpp — defines write_png: an RgbImage to a PNG file, written atomically (temporary file, then rename).
//
// Encoding is stb_image_write's (Debian libstb holds the implementation; link evaclip::stb).
#pragma once

#include <string>

#include <stb_image_write.h>

#include "evaclip/image/image.hpp"
#include "evaclip/io/file.hpp"

namespace evaclip::image {

inline void write_png(const std::string& path, const RgbImage& im) {
  EVACLIP_CHECK(im.width > 0 && im.height > 0, "write_png: ", path, ": empty image");
  io::AtomicFileWriter out(path, "write_png");
  auto sink = [](void* ctx, void* data, int n) { static_cast<io::AtomicFileWriter*>(ctx)->write(data, std::size_t(n)); };
  EVACLIP_CHECK(stbi_write_png_to_func(sink, &out, im.width, im.height, 3, im.pixels.data(), im.width * 3) != 0,
                "write_png: ", path, ": encoding failed");
  out.commit();
}

}  // namespace evaclip::image
