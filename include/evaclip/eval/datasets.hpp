// datasets.hpp — defines the evaluation inputs as lists of files: labelled images from an image folder
// (ImageNet layout, torchvision ImageFolder's order) or a CSV of path and label; image-caption pairs from
// a CSV/TSV, grouped by image; and image lists (files, folders, list files) for feature extraction.
//
// Relative paths in a CSV or list file are relative to that file's folder.
#pragma once

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "evaclip/core/error.hpp"
#include "evaclip/data/csv.hpp"
#include "evaclip/eval/prompts.hpp"

namespace evaclip::eval {

namespace fs = std::filesystem;

// torchvision's IMG_EXTENSIONS, case-insensitive: the files ImageFolder takes (decoding supports JPEG,
// PNG and BMP; the others fail with a clear error rather than silently shrinking the data set).
inline bool has_image_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  for (const char* e : {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"})
    if (ext == e) return true;
  return false;
}

// The image files under `dir`, in torchvision's order: sorted(os.walk(dir, followlinks=True)) by folder,
// then sorted file names within each folder (byte order, as Python compares UTF-8 names).
inline std::vector<std::string> images_under(const fs::path& dir) {
  std::vector<std::pair<std::string, std::string>> found;  // (folder, file name)
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink);
       it != fs::recursive_directory_iterator(); ++it)
    if (it->is_regular_file() && has_image_extension(it->path()))
      found.emplace_back(it->path().parent_path().string(), it->path().filename().string());
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  for (const auto& [folder, name] : found) paths.push_back((fs::path(folder) / name).string());
  return paths;
}

struct LabelledImages {
  std::vector<std::string> paths;
  std::vector<std::int64_t> labels;  // class index of each path
  std::vector<std::string> folders;  // image folder only: the class sub-folder of each class index
};

// An ImageNet-layout folder: one sub-folder per class; sorted sub-folder i is class i, so there must be
// exactly `classes` of them. A sub-folder without images is a class without samples.
inline LabelledImages image_folder(const fs::path& dir, std::size_t classes, const std::string& classnames) {
  LabelledImages d;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory()) d.folders.push_back(e.path().filename().string());
  std::sort(d.folders.begin(), d.folders.end());
  EVACLIP_CHECK(d.folders.size() == classes, "image folder ", dir.string(), ": ", d.folders.size(),
                " class sub-folders, but ", classes, " class names in ", classnames,
                " (sorted sub-folder i is class i: a class folder is missing or extra)");
  for (std::size_t c = 0; c < classes; ++c)
    for (std::string& p : images_under(dir / d.folders[c])) {
      d.paths.push_back(std::move(p));
      d.labels.push_back(std::int64_t(c));
    }
  EVACLIP_CHECK(!d.paths.empty(), "image folder ", dir.string(), ": no images in its ", classes, " class folders");
  return d;
}

// The CSV field separator: `given` ("tab" or one character) if set, else tab for .tsv and comma otherwise.
inline char csv_separator(const std::string& path, const std::string& given) {
  if (given == "tab" || given == "\t") return '\t';
  EVACLIP_CHECK(given.size() <= 1, "--separator '", given, "': give one character or 'tab'");
  if (!given.empty()) return given[0];
  return fs::path(path).extension() == ".tsv" ? '\t' : ',';
}

namespace detail {
inline std::string resolve_beside(const fs::path& list_file, const std::string& p) {
  return fs::path(p).is_absolute() ? p : (list_file.parent_path() / p).string();
}
inline void check_exists(const std::string& path, const data::CsvTable& t, std::size_t row) {
  EVACLIP_CHECK(fs::exists(path), "csv ", t.file, ":", t.lines[row], ": image ", path, " does not exist");
}
}  // namespace detail

// A CSV of image path and class index (0 .. classes-1).
inline LabelledImages labelled_csv(const data::CsvTable& t, const std::string& image_column,
                                   const std::string& label_column, std::size_t classes) {
  const std::size_t ic = t.column(image_column), lc = t.column(label_column);
  LabelledImages d;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const std::string& v = t.rows[r][lc];
    std::int64_t label = -1;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), label);
    EVACLIP_CHECK(ec == std::errc() && end == v.data() + v.size() && label >= 0 && label < std::int64_t(classes),
                  "csv ", t.file, ":", t.lines[r], ": label '", v, "' is not a class index 0..", classes - 1);
    d.paths.push_back(detail::resolve_beside(t.file, t.rows[r][ic]));
    detail::check_exists(d.paths.back(), t, r);
    d.labels.push_back(label);
  }
  EVACLIP_CHECK(!d.paths.empty(), "csv ", t.file, ": no rows");
  return d;
}

struct CaptionedImages {
  std::vector<std::string> images;          // each image once, in order of first appearance
  std::vector<std::string> captions;        // in row order
  std::vector<std::int64_t> caption_image;  // per caption: its index in `images`
};

// A CSV/TSV with one row per (image, caption) pair; rows with the same image path share that image.
inline CaptionedImages captioned_csv(const data::CsvTable& t, const std::string& image_column,
                                     const std::string& caption_column) {
  const std::size_t ic = t.column(image_column), cc = t.column(caption_column);
  CaptionedImages d;
  std::unordered_map<std::string, std::int64_t> index;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const std::string path = detail::resolve_beside(t.file, t.rows[r][ic]);
    auto [it, added] = index.emplace(path, std::int64_t(d.images.size()));
    if (added) {
      detail::check_exists(path, t, r);
      d.images.push_back(path);
    }
    d.captions.push_back(t.rows[r][cc]);
    d.caption_image.push_back(it->second);
  }
  EVACLIP_CHECK(!d.captions.empty(), "csv ", t.file, ": no rows");
  return d;
}

// Images for feature extraction, in the order given: a folder expands to images_under(folder), a file
// with an image extension is itself, any other file is a list of image paths, one per line.
inline std::vector<std::string> list_images(const std::vector<std::string>& inputs) {
  std::vector<std::string> paths;
  for (const std::string& in : inputs) {
    EVACLIP_CHECK(fs::exists(in), "--images ", in, ": no such file or folder");
    if (fs::is_directory(in)) {
      std::vector<std::string> found = images_under(in);
      EVACLIP_CHECK(!found.empty(), "--images ", in, ": no image files in this folder");
      paths.insert(paths.end(), found.begin(), found.end());
    } else if (has_image_extension(in)) {
      paths.push_back(in);
    } else {
      const std::vector<std::string> lines = read_lines(in, "image list");
      for (std::size_t i = 0; i < lines.size(); ++i) {
        if (lines[i].empty()) continue;
        paths.push_back(detail::resolve_beside(in, lines[i]));
        EVACLIP_CHECK(fs::is_regular_file(paths.back()), "image list ", in, ":", i + 1, ": ", paths.back(),
                      " is not a file");
      }
    }
  }
  EVACLIP_CHECK(!paths.empty(), "--images: no images");
  return paths;
}

}  // namespace evaclip::eval
