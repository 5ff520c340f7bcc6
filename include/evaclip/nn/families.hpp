// families.hpp — defines CompiledBlocks, the list of vision block families every program can run, and
// with_vision_block(): the run-time choice of one of them by name.
//
// A new family is its type (a VisionBlock with a static `name`, and `flags` if official configs select
// it; docs/models.md) plus one entry in CompiledBlocks: config parsing, with_vision_block, the programs'
// --block option and the model statistics all iterate this list. A program may also dispatch over a
// list of its own (a subset built to compile faster, or one with a block of its own).
#pragma once

#include <concepts>
#include <string>
#include <string_view>
#include <type_traits>

#include "evaclip/core/error.hpp"
#include "evaclip/nn/vision_block.hpp"

namespace evaclip::nn {

template <class... Ts>
struct TypeList {};

using CompiledBlocks = TypeList<Eva01Block, Eva01LayerScaleBlock, Eva02Block, EvaPostNormBlock>;

template <class Block>
concept SelectedByFlags = requires {
  { Block::flags } -> std::convertible_to<VisionFlags>;
};

// "eva01, eva01-layer-scale, ..." for messages: the `name`s of a list (blocks or precision policies).
template <class... Ts>
std::string names_of(TypeList<Ts...>) {
  std::string out;
  ((out += (out.empty() ? "" : ", ") + std::string(Ts::name)), ...);
  return out;
}

template <class... Ts>
bool has_name(std::string_view name, TypeList<Ts...>) {
  return ((name == Ts::name) || ...);
}

// The name of the first block of the list that official configs with these flags select; empty if none.
template <class... Blocks>
std::string block_for_flags(const VisionFlags& f, TypeList<Blocks...>) {
  std::string found;
  auto try_one = [&]<class Block>(std::type_identity<Block>) {
    if constexpr (SelectedByFlags<Block>)
      if (found.empty() && Block::flags == f) found = Block::name;
  };
  (try_one(std::type_identity<Blocks>{}), ...);
  return found;
}

namespace detail {
template <class F, class T, class... Rest>
decltype(auto) with_named(std::string_view name, F& f) {
  if constexpr (sizeof...(Rest) == 0) {
    return f(std::type_identity<T>{});  // the caller checked that the name is in the list
  } else {
    if (name == T::name) return f(std::type_identity<T>{});
    return with_named<F, Rest...>(name, f);
  }
}
}  // namespace detail

// Calls f(std::type_identity<T>{}) for the T of the list whose T::name is `name` and returns its result
// (every T's call must return the same type); when none is, calls missing(), which must throw.
template <class... Ts, class F, class M>
decltype(auto) with_named(TypeList<Ts...> list, std::string_view name, F&& f, M&& missing) {
  if (!has_name(name, list)) missing();
  return detail::with_named<F, Ts...>(name, f);
}

// The one-line error for a block name that is not in `Blocks`: unknown, or registered in CompiledBlocks
// but left out of this program's build (the CMake option EVACLIP_BLOCKS). `where` prefixes it.
template <class Blocks>
[[noreturn]] void missing_block(std::string_view name, const std::string& where = "") {
  const std::string at = where.empty() ? "" : where + ": ";
  if (has_name(name, CompiledBlocks{}))
    fail(at, "vision block \"", std::string(name), "\" is not built into this program (built: ", names_of(Blocks{}),
         "; CMake option EVACLIP_BLOCKS)");
  fail(at, "unknown vision block \"", std::string(name), "\" (compiled: ", names_of(Blocks{}), ")");
}

// Calls f(std::type_identity<Block>{}) with the block of `Blocks` called `name`, e.g.
//   with_vision_block(cfg.block, [&]<class Block>(std::type_identity<Block>) { Clip<Block> m(init, cfg.clip); });
template <class Blocks = CompiledBlocks, class F>
decltype(auto) with_vision_block(std::string_view name, F&& f) {
  return with_named(Blocks{}, name, f, [&] { missing_block<Blocks>(name); });
}

}  // namespace evaclip::nn
