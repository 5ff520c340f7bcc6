// bench_tokenizer.cpp — CLIP tokenizer throughput (captions/s, counter items_per_second) on the parity
// fixture corpus tests/data/tokenizer_fixtures.tsv (or $EVACLIP_BENCH_CORPUS in the same format): the
// whole corpus per iteration into an i64 (N, 77) tensor, one thread, BPE cache warm after the first pass
// (as in open_clip, whose cache also persists). benchmarks/peers/tokenizer_peer.py compares with open_clip.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "evaclip/text/tokenizer.hpp"

namespace {

// The fixture's input column with its escapes (\\ \t \n \r \xHH) undone.
std::vector<std::string> corpus() {
  const char* env = std::getenv("EVACLIP_BENCH_CORPUS");
  const std::filesystem::path path = env != nullptr ? std::filesystem::path(env)
                                                     : std::filesystem::path(__FILE__).parent_path().parent_path() /
                                                           "tests" / "data" / "tokenizer_fixtures.tsv";
  std::ifstream f(path, std::ios::binary);
  if (!f) evaclip::fail("bench_tokenizer: cannot read corpus ", path.string());
  std::vector<std::string> texts;
  for (std::string line; std::getline(f, line);) {
    if (line.empty() || line[0] == '#') continue;
    const std::string s = line.substr(0, line.rfind('\t'));
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] != '\\' || i + 1 >= s.size()) {
        out.push_back(s[i]);
      } else if (s[++i] == 'x') {
        out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
        i += 2;
      } else {
        out.push_back(s[i] == 't' ? '\t' : s[i] == 'n' ? '\n' : s[i] == 'r' ? '\r' : s[i]);
      }
    }
    texts.push_back(std::move(out));
  }
  return texts;
}

void BM_tokenize_corpus(benchmark::State& st) {
  const evaclip::text::Tokenizer tok;
  const std::vector<std::string> texts = corpus();
  benchmark::DoNotOptimize(tok.tokenize(texts, 77).raw());  // warm the BPE cache
  for (auto _ : st) {
    evaclip::Tensor t = tok.tokenize(texts, 77);
    benchmark::DoNotOptimize(t.raw());
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * texts.size()));
  st.counters["captions"] = static_cast<double>(texts.size());
}

}  // namespace

BENCHMARK(BM_tokenize_corpus)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_MAIN();
