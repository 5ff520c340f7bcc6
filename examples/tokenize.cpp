// tokenize.cpp — evaclip-tokenize: CLIP-tokenises UTF-8 lines from stdin, one line of ids per input line.
//
//   evaclip-tokenize [--context-length N] [--vocab PATH] < captions.txt
//
// Each output line holds exactly N ids separated by spaces (<start_of_text> ... <end_of_text>, then the
// zero padding). Input lines end at '\n'; invalid UTF-8 bytes are read as U+FFFD.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <string>

#include "evaclip/text/tokenizer.hpp"

int main(int argc, char** argv) {
  CLI::App app{"CLIP-tokenise UTF-8 lines from stdin (open_clip's tokenizer, 49408 ids)"};
  int context_length = evaclip::text::kDefaultContextLength;
  std::string vocab;
  app.add_option("--context-length", context_length, "ids per output line")->check(CLI::Range(2, 1 << 20));
  app.add_option("--vocab", vocab, "bpe_simple_vocab_16e6.txt.gz (default: $EVACLIP_CACHE, else ~/.cache/evaclip)");
  CLI11_PARSE(app, argc, argv);
  try {
    const evaclip::text::Tokenizer tokenizer(vocab);
    std::ios::sync_with_stdio(false);
    std::string line, out;
    while (std::getline(std::cin, line)) {
      out.clear();
      for (std::int32_t id : tokenizer.tokenize(line, context_length)) {
        if (!out.empty()) out.push_back(' ');
        out += std::to_string(id);
      }
      out.push_back('\n');
      std::fwrite(out.data(), 1, out.size(), stdout);
    }
  } catch (const evaclip::Error& e) {
    std::fprintf(stderr, "evaclip-tokenize: %s\n", e.what());
    return 1;
  }
  return 0;
}
