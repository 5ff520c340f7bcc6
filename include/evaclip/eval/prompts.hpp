// prompts.hpp — defines read_lines, the zero-shot class names and prompt templates (a file, or a list
// by name that tools/fetch_assets.py puts into the cache), and the prompts: every template filled with
// every class name, class-major.
//
// Named lists: classnames "imagenet" = open_clip's IMAGENET_CLASSNAMES (the 1000 OpenAI names), templates
// "openai" = OPENAI_IMAGENET_TEMPLATES (80), both from the open_clip_torch 2.32.0 wheel. Files hold one
// entry per line (UTF-8); a template marks the class name with "{}".
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "evaclip/core/error.hpp"
#include "evaclip/text/tokenizer.hpp"

namespace evaclip::eval {

// The lines of a text file without their "\n" or "\r\n"; no entry after a final newline.
inline std::vector<std::string> read_lines(const std::string& path, const char* what) {
  std::ifstream f(path, std::ios::binary);
  EVACLIP_CHECK(f, what, " ", path, ": cannot open");
  std::vector<std::string> lines;
  for (std::string line; std::getline(f, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  EVACLIP_CHECK(!f.bad(), what, " ", path, ": read error");
  return lines;
}

namespace detail {
// The list in `path` ("named" when it is a cached list chosen by name): no blank entries, at least one.
inline std::vector<std::string> read_list(const std::string& path, const char* what, bool named) {
  EVACLIP_CHECK(!named || std::filesystem::exists(path), what, ": ", path,
                " not found; run tools/fetch_assets.py to fetch it");
  std::vector<std::string> items = read_lines(path, what);
  for (std::size_t i = 0; i < items.size(); ++i)
    EVACLIP_CHECK(items[i].find_first_not_of(" \t") != std::string::npos, what, " ", path, ":", i + 1, ": empty line");
  EVACLIP_CHECK(!items.empty(), what, " ", path, ": empty file");
  return items;
}

// A file in evaclip's asset cache (where the tokenizer's vocabulary lives).
inline std::string cached_asset(const char* file) {
  return (std::filesystem::path(text::default_vocab_path()).parent_path() / file).string();
}
}  // namespace detail

// "imagenet" or a file of class names.
inline std::vector<std::string> read_classnames(const std::string& name_or_path) {
  const bool named = name_or_path == "imagenet";
  return detail::read_list(named ? detail::cached_asset("imagenet_classnames.txt") : name_or_path, "classnames", named);
}

// "openai" or a file of templates; each must hold "{}".
inline std::vector<std::string> read_templates(const std::string& name_or_path) {
  const bool named = name_or_path == "openai";
  const std::string path = named ? detail::cached_asset("openai_imagenet_templates.txt") : name_or_path;
  std::vector<std::string> t = detail::read_list(path, "templates", named);
  for (std::size_t i = 0; i < t.size(); ++i)
    EVACLIP_CHECK(t[i].find("{}") != std::string::npos, "templates ", path, ":", i + 1, ": \"", t[i],
                  "\" has no {} where the class name goes");
  return t;
}

// Every "{}" in `tmpl` replaced by `name`.
inline std::string fill_template(const std::string& tmpl, const std::string& name) {
  std::string out;
  std::size_t from = 0;
  for (std::size_t at; (at = tmpl.find("{}", from)) != std::string::npos; from = at + 2)
    out.append(tmpl, from, at - from).append(name);
  return out.append(tmpl, from);
}

// (C * T) prompts, class-major: prompt c * T + t is template t filled with class name c.
inline std::vector<std::string> make_prompts(const std::vector<std::string>& classnames,
                                             const std::vector<std::string>& templates) {
  std::vector<std::string> prompts;
  prompts.reserve(classnames.size() * templates.size());
  for (const std::string& c : classnames)
    for (const std::string& t : templates) prompts.push_back(fill_template(t, c));
  return prompts;
}

}  // namespace evaclip::eval
