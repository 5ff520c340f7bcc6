// csv.hpp — defines CsvTable, parse_csv and read_csv: delimited text with a header row, split into fields
// exactly as Python's csv module (excel dialect, any one-character separator) splits it.
//
// Rules (those of csv.reader on a file opened with newline=''): a field that starts with '"' is quoted and
// may hold separators, newlines and doubled quotes ("" -> "); text after its closing quote is appended
// as is; a '"' inside an unquoted field is literal; \n, \r\n and \r end a record. Three deliberate
// differences, all as pandas (which open_clip's CsvDataset reads with) behaves: blank lines are skipped,
// a leading UTF-8 byte-order mark is dropped, and a quoted field still open at the end of the file is an
// error (csv.reader would silently swallow the rest of the file into it).
//
// Hand-written rather than libcsv (Debian libcsv-dev): libcsv reports no line numbers for errors, trims
// spaces and tabs around fields by default, and resolves malformed quoting differently from Python, so
// matching open_clip's tables would need more code around it than this reader is.
#pragma once

#include <cerrno>
#include <cstddef>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "evaclip/core/error.hpp"

namespace evaclip::data {

struct CsvTable {
  std::string file;  // the path (or name) the table came from, for messages
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // every row has header.size() fields
  std::vector<std::size_t> lines;              // the 1-based line each row starts on

  // The index of column `name` (its first occurrence).
  std::size_t column(const std::string& name) const {
    for (std::size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return i;
    std::string present;
    for (const std::string& h : header) present += (present.empty() ? "'" : ", '") + h + "'";
    fail("csv ", file, ": no column '", name, "' (columns: ", present, ")");
  }
};

// Splits `text` into a table; `name` goes into every error message ("csv <name>:<line>: ...").
inline CsvTable parse_csv(std::string_view text, char separator, const std::string& name) {
  EVACLIP_CHECK(separator != '"' && separator != '\n' && separator != '\r', "csv ", name,
                ": the separator cannot be a quote or a newline");
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  CsvTable t;
  t.file = name;
  std::vector<std::string> record;
  std::string field;
  std::size_t line = 1, record_line = 1;
  bool in_record = false;    // a field has started on this record (blank lines have none)
  bool quoted = false;       // inside a quoted field
  bool after_quote = false;  // just saw a '"' inside a quoted field: closing, or the first of ""
  std::size_t quote_line = 0;

  const auto end_record = [&] {
    record.push_back(std::move(field));
    field.clear();
    if (t.header.empty()) {
      t.header = std::move(record);
    } else {
      EVACLIP_CHECK(record.size() == t.header.size(), "csv ", name, ":", record_line, ": ", record.size(),
                    " fields, but the header has ", t.header.size());
      t.rows.push_back(std::move(record));
      t.lines.push_back(record_line);
    }
    record.clear();
    in_record = false;
  };

  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool newline = c == '\n' || c == '\r';
    if (c == '\n' || (c == '\r' && (i + 1 == text.size() || text[i + 1] != '\n'))) ++line;
    if (quoted) {
      if (after_quote) {
        after_quote = false;
        if (c == '"') {
          field.push_back('"');
          continue;
        }
        quoted = false;  // the quote closed the field; fall through to the unquoted rules
      } else {
        if (c == '"') after_quote = true;
        else field.push_back(c);
        continue;
      }
    }
    if (newline) {
      if (in_record) end_record();
      record_line = line;
      continue;
    }
    if (c == separator) {
      record.push_back(std::move(field));
      field.clear();
    } else if (c == '"' && field.empty() && (!in_record || text[i - 1] == separator)) {
      quoted = true;
      quote_line = line;
    } else {
      field.push_back(c);
    }
    in_record = true;
  }
  EVACLIP_CHECK(!quoted || after_quote, "csv ", name, ":", quote_line,
                ": quoted field not closed before the end of the file");
  if (in_record) end_record();
  EVACLIP_CHECK(!t.header.empty(), "csv ", name, ": empty file, no header row");
  return t;
}

// Reads a whole file and parses it; errors name the file (and the line, for malformed rows).
inline CsvTable read_csv(const std::string& path, char separator) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("csv ", path, ": cannot open (", std::generic_category().message(errno), ")");
  std::ostringstream ss;
  ss << f.rdbuf();
  EVACLIP_CHECK(!f.bad(), "csv ", path, ": read error");
  return parse_csv(ss.str(), separator, path);
}

}  // namespace evaclip::data
