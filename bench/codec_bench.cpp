// bench/codec_bench.cpp — Google Benchmark of the pure codec (no sockets): masking, client frame encoding,
// FrameDecoder::feed over many pipelined 64 B server frames, and UTF-8 validation.
//
//   ninja -C build-bench zenws_codec_bench && taskset -c 1 build-bench/bench/zenws_codec_bench
#include <benchmark/benchmark.h>
#include <zenws/frame.hpp>
#include <zenws/utf8.hpp>

#include <cstring>
#include <string>
#include <vector>

namespace {

std::string ascii(std::size_t n) {
    std::string s(n, ' ');
    for (std::size_t i = 0; i < n; ++i) s[i] = char('a' + (i * 7) % 26);
    return s;
}

// Mixed 1-4 byte code points (valid UTF-8), about n bytes.
std::string multibyte(std::size_t n) {
    static const char* pieces[] = {"a", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "bc", "\xE6\x97\xA5"};
    std::string s;
    for (std::size_t i = 0; s.size() < n; ++i) s += pieces[i % 6];
    return s;
}

// Unmasked server frames of `size` bytes each, back to back.
std::vector<std::uint8_t> server_frames(std::size_t count, std::size_t size, std::uint8_t opcode) {
    std::string payload = ascii(size);
    std::vector<std::uint8_t> out;
    for (std::size_t i = 0; i < count; ++i) {
        out.push_back(std::uint8_t(0x80 | opcode));
        if (size < 126) {
            out.push_back(std::uint8_t(size));
        } else if (size <= 0xFFFF) {
            out.push_back(126);
            out.push_back(std::uint8_t(size >> 8));
            out.push_back(std::uint8_t(size));
        } else {
            out.push_back(127);
            for (int b = 7; b >= 0; --b) out.push_back(std::uint8_t(std::uint64_t(size) >> (8 * b)));
        }
        out.insert(out.end(), payload.begin(), payload.end());
    }
    return out;
}

struct CountingEvents final : zenws::FrameEvents {
    std::size_t messages = 0, bytes = 0;
    void on_message(zenws::Opcode, std::string_view p) override {
        ++messages;
        bytes += p.size();
    }
    void on_ping(std::string_view) override {}
    void on_pong(std::string_view) override {}
    void on_close(std::uint16_t, std::string_view) override {}
};

void BM_Mask(benchmark::State& state) {
    std::vector<std::uint8_t> buf(std::size_t(state.range(0)), 0x5A);
    for (auto _ : state) {
        zenws::apply_mask(buf.data(), buf.size(), 0x12345678u);
        benchmark::DoNotOptimize(buf.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(std::int64_t(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Mask)->Arg(64)->Arg(16384);

// What a send costs in the codec: header + copy + mask into a reused buffer.
void BM_EncodeClientFrame(benchmark::State& state) {
    std::string payload = ascii(std::size_t(state.range(0)));
    std::vector<std::uint8_t> out(payload.size() + zenws::max_client_frame_header_size);
    zenws::MaskKeyGenerator keys(1, 2);
    for (auto _ : state) {
        std::uint32_t key = keys.next();
        std::size_t h = zenws::encode_client_frame_header(out.data(), zenws::Opcode::text, true, payload.size(), key);
        std::memcpy(out.data() + h, payload.data(), payload.size());
        zenws::apply_mask(out.data() + h, payload.size(), key);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(std::int64_t(state.iterations()));
    state.SetBytesProcessed(std::int64_t(state.iterations()) * state.range(0));
}
BENCHMARK(BM_EncodeClientFrame)->Arg(64)->Arg(16384);

// 1000 pipelined text frames in one buffer, fed in one call (as after one large read).
void BM_DecoderFeed(benchmark::State& state) {
    const std::size_t count = 1000, size = std::size_t(state.range(0));
    auto wire = server_frames(count, size, size < 1024 ? 0x1 : 0x2);
    zenws::FrameDecoder dec;
    CountingEvents ev;
    for (auto _ : state) {
        std::size_t used = dec.feed(wire.data(), wire.size(), ev);
        if (used != wire.size() || dec.failed()) {
            state.SkipWithError("decoder did not consume the frames");
            break;
        }
        benchmark::DoNotOptimize(ev.bytes);
    }
    state.SetItemsProcessed(std::int64_t(state.iterations() * count));
    state.SetBytesProcessed(std::int64_t(state.iterations() * wire.size()));
}
BENCHMARK(BM_DecoderFeed)->Arg(64)->Arg(16384);

void BM_Utf8Ascii(benchmark::State& state) {
    std::string s = ascii(std::size_t(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(zenws::is_valid_utf8(s));
    state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(s.size()));
}
BENCHMARK(BM_Utf8Ascii)->Arg(64)->Arg(16384);

void BM_Utf8Multibyte(benchmark::State& state) {
    std::string s = multibyte(std::size_t(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(zenws::is_valid_utf8(s));
    state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(s.size()));
}
BENCHMARK(BM_Utf8Multibyte)->Arg(64)->Arg(16384);

}  // namespace

BENCHMARK_MAIN();
