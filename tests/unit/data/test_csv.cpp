// CSV/TSV tables: field splitting against Python's csv.reader (tools/make_data_fixtures.py ->
// tests/data/data/csv_cases.json), the documented differences (blank lines, BOM, unterminated quotes), and
// the error messages (file, line, missing column and the columns present).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/test_util.hpp"
#include "evaclip/data/csv.hpp"

namespace evaclip::test {
namespace {

nlohmann::json load_json(const std::string& rel) {
  std::ifstream f(data_path(rel));
  EXPECT_TRUE(f.good()) << "missing fixture " << rel << " (run tools/make_data_fixtures.py)";
  return nlohmann::json::parse(f);
}

TEST(Csv, MatchesPythonCsvReader) {
  const auto j = load_json("data/csv_cases.json");
  ASSERT_GE(j["cases"].size(), 10u);
  for (const auto& [name, c] : j["cases"].items()) {
    const auto expected = c["rows"].get<std::vector<std::vector<std::string>>>();
    const data::CsvTable t =
        data::read_csv(data_path("data/csv_cases/" + name + ".csv"), c["sep"].get<std::string>()[0]);
    ASSERT_FALSE(expected.empty()) << name;
    EXPECT_EQ(t.header, expected.front()) << name;
    EXPECT_EQ(t.rows, std::vector<std::vector<std::string>>(expected.begin() + 1, expected.end())) << name;
    EXPECT_EQ(t.lines.size(), t.rows.size()) << name;
  }
}

TEST(Csv, RowLinesCountPhysicalLines) {
  // Lines as an editor numbers them: "\r\n" is one line end, a quoted newline starts a new line.
  const data::CsvTable t = data::parse_csv("h,i\r\n\"a\nb\",1\r\n\r\nc,2\rd,3\n", ',', "mem");
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.lines, (std::vector<std::size_t>{2, 5, 6}));
  EXPECT_EQ(t.rows[0][0], "a\nb");
}

TEST(Csv, RaggedRowNamesFileAndLine) {
  const auto j = load_json("data/csv_cases.json");
  ASSERT_EQ(j["errors"].size(), 2u);
  for (const auto& [name, e] : j["errors"].items()) {
    const std::string path = data_path("data/csv_cases/" + name + ".csv");
    std::ostringstream msg;
    msg << path << ":" << e["line"].get<int>() << ": " << e["fields"].get<int>() << " fields, but the header has "
        << e["header"].get<int>();
    EXPECT_THROW_MSG(data::read_csv(path, e["sep"].get<std::string>()[0]), msg.str());
  }
}

TEST(Csv, UnreadableEmptyAndUnterminated) {
  const std::string missing = data_path("data/csv_cases/no_such_file.csv");
  EXPECT_THROW_MSG(data::read_csv(missing, ','), "csv " + missing + ": cannot open (No such file or directory)");
  const std::string empty = data_path("data/csv_cases/empty.csv");
  EXPECT_THROW_MSG(data::read_csv(empty, ','), "csv " + empty + ": empty file, no header row");
  const std::string open = data_path("data/csv_cases/unterminated.csv");
  EXPECT_THROW_MSG(data::read_csv(open, ','), open + ":3: quoted field not closed before the end of the file");
  EXPECT_THROW_MSG(data::parse_csv("a\n", '"', "q.csv"), "q.csv: the separator cannot be a quote or a newline");
}

TEST(Csv, ColumnLookup) {
  const data::CsvTable t = data::read_csv(data_path("data/train.tsv"), '\t');
  EXPECT_EQ(t.column("filepath"), 0u);
  EXPECT_EQ(t.column("title"), 1u);
  EXPECT_EQ(t.column("extra"), 2u);
  EXPECT_THROW_MSG(t.column("caption"), "csv " + data_path("data/train.tsv") +
                                            ": no column 'caption' (columns: 'filepath', 'title', 'extra')");
  // The same file read with the wrong separator has one column named after the whole header line.
  EXPECT_THROW_MSG(data::read_csv(data_path("data/train.tsv"), ',').column("title"),
                   "columns: 'filepath\ttitle\textra'");
}

}  // namespace
}  // namespace evaclip::test
