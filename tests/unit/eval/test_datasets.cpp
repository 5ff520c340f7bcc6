// Tests eval/prompts.hpp, eval/datasets.hpp and eval/image_batch.hpp: class names and templates from files
// and from the cache by name, prompts in class-major order; the image folder, CSV and caption tables of
// tests/data/eval against the lists tools/make_eval_fixtures.py wrote (Python's order); torchvision's
// file order; image lists; the batch loader; and the error for every bad input (missing class folder,
// empty data set, bad label, missing image, unreadable image, blank or missing lists).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/test_util.hpp"
#include "evaclip/eval/datasets.hpp"
#include "evaclip/eval/image_batch.hpp"

using namespace evaclip;
using namespace evaclip::eval;
namespace fs = std::filesystem;

namespace {

const std::string kEval = test::data_path("eval/");

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::path(::testing::TempDir()) / ("evaclip_eval_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

const SafetensorsFile& expected() {
  static const SafetensorsFile f(kEval + "e2e_expected.safetensors");
  return f;
}

// Sets $EVACLIP_CACHE for one scope (the named lists live there).
struct CacheDir {
  explicit CacheDir(const fs::path& dir) {
    if (const char* old = std::getenv("EVACLIP_CACHE")) saved = old, had = true;
    ::setenv("EVACLIP_CACHE", dir.c_str(), 1);
  }
  ~CacheDir() { had ? (void)::setenv("EVACLIP_CACHE", saved.c_str(), 1) : (void)::unsetenv("EVACLIP_CACHE"); }
  std::string saved;
  bool had = false;
};

}  // namespace

TEST(Prompts, ListsFromFilesAndPromptsInClassMajorOrder) {
  const auto names = read_classnames(kEval + "classnames.txt");
  const auto templates = read_templates(kEval + "templates.txt");
  EXPECT_EQ(names, (std::vector<std::string>{"red square", "green circle", "blue stripes", "empty class"}));
  ASSERT_EQ(templates.size(), 3u);
  const auto prompts = make_prompts(names, templates);
  ASSERT_EQ(prompts.size(), 12u);
  EXPECT_EQ(prompts[0], "a photo of a red square.");
  EXPECT_EQ(prompts[1], "a drawing of the red square, small.");
  EXPECT_EQ(prompts[2], "red square");
  EXPECT_EQ(prompts[3], "a photo of a green circle.");
  EXPECT_EQ(fill_template("{} and {}", "x"), "x and x");
}

TEST(Prompts, NamedListsComeFromTheCache) {
  const fs::path dir = fresh_dir("cache");
  const CacheDir cache(dir);
  EXPECT_THROW_MSG(read_classnames("imagenet"), "imagenet_classnames.txt not found; run tools/fetch_assets.py");
  EXPECT_THROW_MSG(read_templates("openai"), "openai_imagenet_templates.txt not found; run tools/fetch_assets.py");
  write(dir / "imagenet_classnames.txt", "tench\r\ngoldfish\n");
  write(dir / "openai_imagenet_templates.txt", "a bad photo of a {}.\n");
  EXPECT_EQ(read_classnames("imagenet"), (std::vector<std::string>{"tench", "goldfish"}));
  EXPECT_EQ(read_templates("openai"), (std::vector<std::string>{"a bad photo of a {}."}));
}

TEST(Prompts, BadListsAreErrors) {
  const fs::path dir = fresh_dir("lists");
  write(dir / "blank.txt", "cat\n \ndog\n");
  write(dir / "empty.txt", "");
  write(dir / "no_slot.txt", "a photo of a {}.\na photo\n");
  EXPECT_THROW_MSG(read_classnames((dir / "blank.txt").string()), "blank.txt:2: empty line");
  EXPECT_THROW_MSG(read_classnames((dir / "empty.txt").string()), "empty.txt: empty file");
  EXPECT_THROW_MSG(read_templates((dir / "no_slot.txt").string()), "no_slot.txt:2: \"a photo\" has no {}");
  EXPECT_THROW_MSG(read_classnames((dir / "missing.txt").string()), "missing.txt: cannot open");
}

TEST(Datasets, ImageFolderInTorchvisionOrder) {
  const LabelledImages d = image_folder(kEval + "images", 4, "classnames.txt");
  EXPECT_EQ(d.folders, (std::vector<std::string>{"a_red", "b_green", "c_blue", "d_empty"}));
  EXPECT_EQ(d.labels, test::int64_values(expected().tensor("zeroshot_folder.labels")));  // the Python tool's list
  ASSERT_EQ(d.paths.size(), 10u);
  EXPECT_EQ(d.paths[0], kEval + "images/a_red/0.png");
  EXPECT_EQ(d.paths[9], kEval + "images/c_blue/2.png");
}

TEST(Datasets, FilesSortByFolderThenName) {
  // os.walk + sorted orders by folder first: "x" < "x-y" < "x/sub" ('-' sorts before '/'), so x-y/c
  // comes between x's files and x/sub's, though the full path "x-y/c.png" sorts before "x/a.png".
  const fs::path d = fresh_dir("order");
  for (const char* f : {"x/b.png", "x/a.JPG", "x-y/c.png", "x/sub/d.bmp", "x/notes.txt"}) write(d / f, "");
  const auto paths = images_under(d);
  std::vector<std::string> rel;
  for (const auto& p : paths) rel.push_back(fs::relative(p, d).string());
  EXPECT_EQ(rel, (std::vector<std::string>{"x/a.JPG", "x/b.png", "x-y/c.png", "x/sub/d.bmp"}));
}

TEST(Datasets, ImageFolderErrors) {
  EXPECT_THROW_MSG(image_folder(kEval + "images", 3, "names.txt"),
                   "4 class sub-folders, but 3 class names in names.txt (sorted sub-folder i is class i");
  const fs::path d = fresh_dir("empty_set");
  for (const char* c : {"a", "b"}) fs::create_directories(d / c);
  EXPECT_THROW_MSG(image_folder(d, 2, "names.txt"), "no images in its 2 class folders");
}

TEST(Datasets, LabelledCsv) {
  const LabelledImages d = labelled_csv(data::read_csv(kEval + "labels.csv", ','), "filepath", "label", 4);
  EXPECT_EQ(d.labels, test::int64_values(expected().tensor("zeroshot_csv.labels")));
  EXPECT_EQ(d.paths[0], kEval + "images/a_red/0.png");  // relative to the CSV's folder
  const fs::path dir = fresh_dir("csv");
  write(dir / "bad_label.csv", "filepath,label\n" + kEval + "images/a_red/0.png,4\n");
  write(dir / "not_int.csv", "filepath,label\n" + kEval + "images/a_red/0.png,cat\n");
  write(dir / "missing.csv", "filepath,label\n\nnope.png,1\n");
  write(dir / "empty.csv", "filepath,label\n");
  auto load = [&](const char* f) {
    return labelled_csv(data::read_csv((dir / f).string(), ','), "filepath", "label", 4);
  };
  EXPECT_THROW_MSG(load("bad_label.csv"), "bad_label.csv:2: label '4' is not a class index 0..3");
  EXPECT_THROW_MSG(load("not_int.csv"), "not_int.csv:2: label 'cat' is not a class index 0..3");
  EXPECT_THROW_MSG(load("missing.csv"), "missing.csv:3: image " + (dir / "nope.png").string() + " does not exist");
  EXPECT_THROW_MSG(load("empty.csv"), "empty.csv: no rows");
  EXPECT_THROW_MSG(labelled_csv(data::read_csv(kEval + "labels.csv", ','), "path", "label", 4), "no column 'path'");
}

TEST(Datasets, CaptionsGroupByImage) {
  const CaptionedImages d = captioned_csv(data::read_csv(kEval + "retrieval.csv", ','), "filepath", "title");
  EXPECT_EQ(d.images.size(), 10u);
  EXPECT_EQ(d.captions.size(), 15u);
  EXPECT_EQ(d.caption_image, test::int64_values(expected().tensor("retrieval.caption_image")));
  EXPECT_EQ(d.captions[2], "small stripes green circle red square, photo 1");  // quoted, with a comma
  EXPECT_EQ(csv_separator("x.tsv", ""), '\t');
  EXPECT_EQ(csv_separator("x.csv", ""), ',');
  EXPECT_EQ(csv_separator("x.csv", "tab"), '\t');
  EXPECT_EQ(csv_separator("x.tsv", ";"), ';');
  EXPECT_THROW_MSG(csv_separator("x.csv", "ab"), "--separator 'ab'");
}

TEST(Datasets, ImageListsExpandFoldersAndListFiles) {
  const fs::path dir = fresh_dir("list");
  write(dir / "list.txt", "one.png\n\n" + kEval + "images/c_blue/1.png\n");
  write(dir / "one.png", "");
  const auto paths = list_images({kEval + "images/b_green", (dir / "list.txt").string(), kEval + "images/a_red/2.png"});
  EXPECT_EQ(paths, (std::vector<std::string>{kEval + "images/b_green/0.png", kEval + "images/b_green/1.png",
                                             kEval + "images/b_green/2.png", kEval + "images/b_green/3.png",
                                             (dir / "one.png").string(), kEval + "images/c_blue/1.png",
                                             kEval + "images/a_red/2.png"}));
  write(dir / "bad_list.txt", "gone.png\n");
  EXPECT_THROW_MSG(list_images({(dir / "bad_list.txt").string()}), "bad_list.txt:1: " + (dir / "gone.png").string());
  EXPECT_THROW_MSG(list_images({(dir / "nothing").string()}), "nothing: no such file or folder");
  EXPECT_THROW_MSG(list_images({kEval + "images/d_empty"}), "d_empty: no image files in this folder");
}

TEST(ImageBatch, StacksTheEvalTransformOfEachFile) {
  const std::vector<std::string> paths{kEval + "images/a_red/0.png", kEval + "images/b_green/1.png",
                                       kEval + "images/c_blue/2.png"};
  const Tensor batch = load_image_batch(paths, 32);
  ASSERT_EQ(batch.shape(), (Shape{3, 3, 32, 32}));
  for (std::int64_t i = 0; i < 3; ++i)
    EXPECT_TRUE(test::allclose(image::eval_transform(image::load_image(paths[std::size_t(i)]), 32),
                               batch.slice(0, i, i + 1).reshape({3, 32, 32}), 0, 0));
  const fs::path dir = fresh_dir("bad_image");
  write(dir / "broken.png", "\x89PNG\r\n\x1a\n not really");
  const std::vector<std::string> with_bad{paths[0], (dir / "broken.png").string(), (dir / "gone.png").string()};
  EXPECT_THROW_MSG(load_image_batch(with_bad, 32), "image " + (dir / "broken.png").string() + ": corrupt");
}
