// bench/json_bench.cpp — zenws_json_bench: JSON handling of inbound exchange messages, side by side, in one run.
//
//   (a) route/<sample>/<variant>: the inbound routing scan — request id (kind + value), method, channel (Deribit
//       params.channel of a "subscription" / Binance combined "stream"), error presence (+ code) and heartbeat kind
//       (params.type of a Deribit "heartbeat") — with zenws::scan_json, simdjson On-Demand and Boost.JSON.
//   (b) typed/<sample>/<variant>: whole message text -> the zenws::deribit typed structs (AuthResult, Ticker,
//       OrderBook, OrderResult) with the project's parsers (zenws::deribit::parse_*), simdjson On-Demand and
//       Boost.JSON filling the very same structs.
//
// Variants:
//   zenws            scan_json / deribit::parse_* on the std::string_view as delivered (MessageView::data)
//   simdjson_copy    memcpy into a reused buffer with SIMDJSON_PADDING spare bytes, then ondemand iterate: what a
//                    zenws on_message handler must do (MessageView::data promises no padding)
//   simdjson_padded  ondemand iterate directly on a padded buffer (possible only if the read buffer reserved
//                    SIMDJSON_PADDING readable bytes after every message)
//   boostjson        boost::json::parse(text) (default heap storage; a new value each message) + value access
//   boostjson_mono   a reused boost::json::parser writing into a monotonic_resource over a reused 64 KiB buffer
//
// Before anything is timed, every variant's result for every sample is compared field by field with zenws's and
// with hand-written expectations; the program aborts on any difference (so the comparison is apples to apples).
//
//   cmake --build build-jsonbench --target zenws_json_bench
//   build-jsonbench/bench/zenws_json_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   extra flags (before the Google Benchmark ones): --simdjson-impl=NAME (force a simdjson kernel: icelake,
//   haswell, westmere, fallback), --callgrind-iters=N (no timing: run every variant N times between
//   CALLGRIND_ZERO_STATS / CALLGRIND_DUMP_STATS_AT("<name>"); use under valgrind --tool=callgrind)
//   bench/json_bench_table.py turns --benchmark_out=FILE.json (+ callgrind dumps) into the README table.
#include <benchmark/benchmark.h>
#include <simdjson.h>
#include <valgrind/callgrind.h>

#include <boost/json.hpp>
#include <boost/json/src.hpp>  // Boost.JSON header-only: compiled into this (the only) TU

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zenws/venues/deribit.hpp"
#include "zenws/json_scan.hpp"

namespace {

namespace od = simdjson::ondemand;
namespace bj = boost::json;
namespace deribit = zenws::deribit;

// ---- samples (shapes of src/core/mock_deribit.cpp / mock_binance.cpp and of the venues' documented messages) ----

const std::string_view kDeribitAuthReply =
    R"({"jsonrpc":"2.0","id":2,"result":{"access_token":"1704067200123.1.17.a","expires_in":900,"refresh_token":"170406)"
    R"(7200123.1.18.r","scope":"connection mainaccount","enabled_features":[],"token_type":"bearer"},"usIn":17040672001)"
    R"(23456,"usOut":1704067200123473,"usDiff":17,"testnet":true})";
const std::string_view kDeribitBuyReply =
    R"({"jsonrpc":"2.0","id":7,"result":{"trades":[{"trade_seq":187613442,"trade_id":"289371225","timestamp":1704067200)"
    R"(456,"tick_direction":1,"state":"filled","self_trade":false,"reduce_only":false,"price":42248.5,"post_only":false)"
    R"(,"order_type":"limit","order_id":"39281474301","matching_id":null,"mark_price":42248.43,"liquidity":"T","label":)"
    R"("mm-7","instrument_name":"BTC-PERPETUAL","index_price":42231.87,"fee_currency":"BTC","fee":1.18e-06,"direction":)"
    R"("buy","amount":100.0}],"order":{"web":false,"time_in_force":"good_til_cancelled","replaced":false,"reduce_only":)"
    R"(false,"price":42250.0,"post_only":false,"order_type":"limit","order_state":"filled","order_id":"39281474301","ma)"
    R"(x_show":100.0,"last_update_timestamp":1704067200456,"label":"mm-7","is_liquidation":false,"instrument_name":"BTC)"
    R"(-PERPETUAL","filled_amount":100.0,"direction":"buy","creation_timestamp":1704067200456,"average_price":42248.5,")"
    R"(api":true,"amount":100.0}},"usIn":1704067200455871,"usOut":1704067200457113,"usDiff":1242,"testnet":true})";
const std::string_view kDeribitTicker =
    R"({"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.100ms","data":{"timestamp":17)"
    R"(04067200123,"stats":{"volume_usd":412735890.0,"volume":9771.23104339,"price_change":1.0235,"low":41689.5,"high":)"
    R"(42880.0},"state":"open","settlement_price":42213.47,"open_interest":1023456780,"min_price":41614.5,"max_price":4)"
    R"(2882.0,"mark_price":42248.43,"last_price":42248.0,"interest_value":1234.5678,"instrument_name":"BTC-PERPETUAL",")"
    R"(index_price":42231.87,"funding_8h":0.00009281,"estimated_delivery_price":42231.87,"current_funding":0.00001234,")"
    R"(best_bid_price":42248.0,"best_bid_amount":31420.0,"best_ask_price":42248.5,"best_ask_amount":118730.0}}})";
const std::string_view kDeribitTestRequest =
    R"({"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}})";
const std::string_view kDeribitErrorReply =
    R"({"jsonrpc":"2.0","id":8,"error":{"code":-32602,"message":"Invalid params","data":{"reason":"instrument_name is r)"
    R"(equired","param":"instrument_name"}},"usIn":1704067200223456,"usOut":1704067200223473,"usDiff":17,"testnet":true)"
    R"(})";
const std::string_view kDeribitBook =
    R"({"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{"type":"snapshot)"
    R"(","timestamp":1704067200123,"instrument_name":"BTC-PERPETUAL","change_id":71023456789,"bids":[["new",42248.0,100)"
    R"(0.0],["new",42247.5,1500.0],["new",42247.0,10.0],["new",42246.5,5000.0],["new",42246.0,1000.0],["new",42245.5,10)"
    R"(.0],["new",42245.0,100.0],["new",42244.5,20.0],["new",42244.0,1500.0],["new",42243.5,100.0],["new",42243.0,5000.)"
    R"(0],["new",42242.5,10.0],["new",42242.0,20.0],["new",42241.5,31420.0],["new",42241.0,12340.0],["new",42240.5,1234)"
    R"(0.0],["new",42240.0,1500.0],["new",42239.5,100.0],["new",42239.0,5000.0],["new",42238.5,250.0],["new",42238.0,50)"
    R"(.0],["new",42237.5,20.0],["new",42237.0,250.0],["new",42236.5,31420.0],["new",42236.0,20.0],["new",42235.5,12340)"
    R"(.0],["new",42235.0,100.0],["new",42234.5,20.0],["new",42234.0,20.0],["new",42233.5,10.0],["new",42233.0,100.0],[)"
    R"("new",42232.5,31420.0],["new",42232.0,1500.0],["new",42231.5,2500.0],["new",42231.0,2500.0],["new",42230.5,250.0)"
    R"(],["new",42230.0,50.0],["new",42229.5,20.0],["new",42229.0,250.0],["new",42228.5,2500.0]],"asks":[["new",42248.5)"
    R"(,50.0],["new",42249.0,118730.0],["new",42249.5,20.0],["new",42250.0,20.0],["new",42250.5,12340.0],["new",42251.0)"
    R"(,5000.0],["new",42251.5,10.0],["new",42252.0,1500.0],["new",42252.5,20.0],["new",42253.0,20.0],["new",42253.5,15)"
    R"(00.0],["new",42254.0,12340.0],["new",42254.5,100.0],["new",42255.0,118730.0],["new",42255.5,10.0],["new",42256.0)"
    R"(,12340.0],["new",42256.5,10.0],["new",42257.0,10.0],["new",42257.5,50.0],["new",42258.0,1500.0],["new",42258.5,5)"
    R"(000.0],["new",42259.0,12340.0],["new",42259.5,5000.0],["new",42260.0,50.0],["new",42260.5,12340.0],["new",42261.)"
    R"(0,118730.0],["new",42261.5,1000.0],["new",42262.0,5000.0],["new",42262.5,12340.0],["new",42263.0,12340.0],["new")"
    R"(,42263.5,2500.0],["new",42264.0,5000.0],["new",42264.5,1000.0],["new",42265.0,12340.0],["new",42265.5,1000.0],[")"
    R"(new",42266.0,100.0],["new",42266.5,100.0],["new",42267.0,12340.0],["new",42267.5,5000.0],["new",42268.0,1000.0]])"
    R"(}}})";
const std::string_view kBinanceDepth =
    R"({"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1704067200123,"s":"BTCUSDT","U":41234567890,"u":41)"
    R"(234567912,"b":[["42250.09000000","3.10000000"],["42250.08000000","0.50000000"],["42250.07000000","0.00150000"],[)"
    R"("42250.06000000","0.00042000"],["42250.05000000","0.12000000"],["42250.04000000","0.12000000"],["42250.03000000")"
    R"(,"1.25000000"],["42250.02000000","3.10000000"],["42250.01000000","0.00042000"],["42250.00000000","0.50000000"],[)"
    R"("42249.99000000","3.10000000"],["42249.98000000","0.00042000"],["42249.97000000","0.00042000"],["42249.96000000")"
    R"(,"0.00150000"]],"a":[["42250.10000000","1.25000000"],["42250.11000000","0.00042000"],["42250.12000000","0.001500)"
    R"(00"],["42250.13000000","1.25000000"],["42250.14000000","0.50000000"],["42250.15000000","1.25000000"],["42250.160)"
    R"(00000","0.00150000"],["42250.17000000","0.00150000"],["42250.18000000","0.00042000"],["42250.19000000","0.500000)"
    R"(00"],["42250.20000000","0.50000000"],["42250.21000000","1.25000000"],["42250.22000000","1.25000000"],["42250.230)"
    R"(00000","0.00150000"]]}})";

struct Sample {
    const char* name;
    std::string_view text;
};
const Sample kRouteSamples[] = {
    {"deribit_auth_reply", kDeribitAuthReply},   {"deribit_buy_reply", kDeribitBuyReply},
    {"deribit_ticker", kDeribitTicker},          {"deribit_book", kDeribitBook},
    {"deribit_test_request", kDeribitTestRequest}, {"binance_depth", kBinanceDepth},
    {"deribit_error_reply", kDeribitErrorReply},
};

// ---- (a) routing ---------------------------------------------------------------------------------------------------

// What the inbound router needs. Views point into the input (zenws), the simdjson parser's string buffer (valid until
// its next iterate) or the Boost.JSON value (valid until the next parse): consumed before the next message.
struct Route {
    bool valid = false;
    zenws::IdKind id_kind = zenws::IdKind::none;
    std::int64_t id_int = 0;     // id_kind == integer
    std::string_view id_text;    // id_kind == string (content) / number (text)
    std::string_view method;     // top-level "method" when a string
    std::string_view channel;    // params.channel of "subscription", or Binance "stream" (with "data")
    bool has_error = false;      // "error" present and not null, or Binance {"code","msg","id"} without "result"
    bool has_error_code = false;
    std::int64_t error_code = 0;
    zenws::HeartbeatKind heartbeat = zenws::HeartbeatKind::none;
};

// Same interpretation as scan_json once the members are known (see src/core/json_scan.cpp, end of scan_json).
struct RouteFacts {
    bool has_method = false, has_result = false, has_params_type = false, has_params_channel = false;
    bool has_stream = false, has_data = false, has_top_code = false, has_top_msg = false;
    std::string_view params_type, params_channel, stream;
    std::int64_t top_code = 0;

    void finish(Route& r) const {
        r.valid = true;
        if (!r.has_error && !has_result && r.id_kind != zenws::IdKind::none && has_top_code && has_top_msg) {
            r.has_error = true;
            r.has_error_code = true;
            r.error_code = top_code;
        }
        if (has_method && r.method == "heartbeat") {
            if (!has_params_type) r.heartbeat = zenws::HeartbeatKind::other;
            else if (params_type == "test_request") r.heartbeat = zenws::HeartbeatKind::test_request;
            else if (params_type == "heartbeat") r.heartbeat = zenws::HeartbeatKind::heartbeat;
            else r.heartbeat = zenws::HeartbeatKind::other;
        } else if (has_method && r.method == "subscription" && has_params_channel) {
            r.channel = params_channel;
        } else if (has_stream && has_data) {
            r.channel = stream;
        }
    }
};

Route route_zenws(std::string_view text) {
    zenws::JsonEnvelope env = zenws::scan_json(text);
    Route r;
    if (!env.valid) return r;
    r.valid = true;
    r.id_kind = env.id.kind;
    if (env.id.kind == zenws::IdKind::integer) r.id_int = env.id.as_int64().value_or(0);
    else r.id_text = env.id.content;
    if (env.has_method) r.method = env.method;
    r.channel = env.channel;
    r.has_error = env.has_error;
    r.has_error_code = env.has_error_code;
    r.error_code = env.error_code;
    r.heartbeat = env.heartbeat;
    return r;
}

// -- simdjson On-Demand: one forward pass over the top-level members (any key order), params one level down.

#define SJ_TRY(expr) \
    if ((expr) != simdjson::SUCCESS) return false

bool sj_string(od::value& v, std::string_view& out, bool& found) {
    od::json_type t;
    SJ_TRY(v.type().get(t));
    if (t != od::json_type::string) return true;  // not a string: ignored (skipped by the iteration)
    SJ_TRY(v.get_string().get(out));
    found = true;
    return true;
}

bool sj_route_impl(od::parser& parser, simdjson::padded_string_view in, Route& r) {
    od::document doc;
    SJ_TRY(parser.iterate(in).get(doc));
    od::object obj;
    SJ_TRY(doc.get_object().get(obj));
    RouteFacts f;
    for (auto member : obj) {
        od::field field;
        SJ_TRY(std::move(member).get(field));
        simdjson::ondemand::raw_json_string key = field.key();
        od::value& v = field.value();
        if (key == "id") {
            r.id_kind = zenws::IdKind::none;
            od::json_type t;
            SJ_TRY(v.type().get(t));
            if (t == od::json_type::string) {
                SJ_TRY(v.get_string().get(r.id_text));
                r.id_kind = zenws::IdKind::string;
            } else if (t == od::json_type::number) {
                std::int64_t i;
                if (v.get_int64().get(i) == simdjson::SUCCESS) {
                    r.id_kind = zenws::IdKind::integer;
                    r.id_int = i;
                } else {
                    std::string_view tok = v.raw_json_token();
                    while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\n' || tok.back() == '\r' ||
                                            tok.back() == '\t'))
                        tok.remove_suffix(1);
                    r.id_kind = zenws::IdKind::number;
                    r.id_text = tok;
                }
            }
        } else if (key == "method") {
            r.method = {};
            f.has_method = false;
            if (!sj_string(v, r.method, f.has_method)) return false;
        } else if (key == "params") {
            od::json_type t;
            SJ_TRY(v.type().get(t));
            if (t != od::json_type::object) continue;
            od::object params;
            SJ_TRY(v.get_object().get(params));
            for (auto pm : params) {
                od::field pf;
                SJ_TRY(std::move(pm).get(pf));
                simdjson::ondemand::raw_json_string pk = pf.key();
                if (pk == "type") {
                    if (!sj_string(pf.value(), f.params_type, f.has_params_type)) return false;
                } else if (pk == "channel") {
                    if (!sj_string(pf.value(), f.params_channel, f.has_params_channel)) return false;
                }
            }
        } else if (key == "result") {
            f.has_result = true;
        } else if (key == "error") {
            r.has_error = false;
            r.has_error_code = false;
            r.error_code = 0;
            od::json_type t;
            SJ_TRY(v.type().get(t));
            if (t == od::json_type::null) continue;
            r.has_error = true;
            if (t != od::json_type::object) continue;
            od::object e;
            SJ_TRY(v.get_object().get(e));
            for (auto em : e) {
                od::field ef;
                SJ_TRY(std::move(em).get(ef));
                if (ef.key() == "code") {
                    std::int64_t c;
                    if (ef.value().get_int64().get(c) == simdjson::SUCCESS) {
                        r.has_error_code = true;
                        r.error_code = c;
                    }
                }
            }
        } else if (key == "stream") {
            if (!sj_string(v, f.stream, f.has_stream)) return false;
        } else if (key == "data") {
            f.has_data = true;
        } else if (key == "code") {
            std::int64_t c;
            if (v.get_int64().get(c) == simdjson::SUCCESS) {
                f.has_top_code = true;
                f.top_code = c;
            }
        } else if (key == "msg") {
            std::string_view m;
            if (!sj_string(v, m, f.has_top_msg)) return false;
        }
    }
    f.finish(r);
    return true;
}

Route route_simdjson(od::parser& parser, simdjson::padded_string_view in) {
    Route r;
    if (!sj_route_impl(parser, in, r)) return Route{};
    return r;
}

// A reused buffer with SIMDJSON_PADDING spare bytes: the copy a handler must make from an unpadded view.
struct PadBuffer {
    std::vector<char> buf = std::vector<char>(64 * 1024 + simdjson::SIMDJSON_PADDING);
    simdjson::padded_string_view copy(std::string_view text) {
        if (text.size() + simdjson::SIMDJSON_PADDING > buf.size()) buf.resize(text.size() + simdjson::SIMDJSON_PADDING);
        std::memcpy(buf.data(), text.data(), text.size());
        return simdjson::padded_string_view(buf.data(), text.size(), buf.size());
    }
};

// -- Boost.JSON: parse to a DOM, then look the members up.

// boost::json::parse with the default (heap) storage: a new value per message, the previous one freed.
struct BoostHeap {
    std::optional<bj::value> v;
    const bj::value* parse(std::string_view text) {
        v.reset();
        boost::system::error_code ec;
        bj::value nv = bj::parse(text, ec);
        if (ec) return nullptr;
        v.emplace(std::move(nv));
        return &*v;
    }
};

// A reused parser (its temporary stack in a fixed buffer) writing into a monotonic_resource over a reused buffer;
// release() rewinds the resource before each message, nothing is freed per element.
struct BoostMono {
    std::vector<unsigned char> arena = std::vector<unsigned char>(64 * 1024);
    unsigned char temp[4096];
    bj::monotonic_resource mr{arena.data(), arena.size()};
    bj::parser p{bj::storage_ptr(), bj::parse_options(), temp, sizeof temp};
    std::optional<bj::value> v;
    const bj::value* parse(std::string_view text) {
        v.reset();
        mr.release();
        p.reset(bj::storage_ptr(&mr));
        boost::system::error_code ec;
        p.write(text.data(), text.size(), ec);
        if (ec) return nullptr;
        v.emplace(p.release());  // move-constructs: keeps the monotonic storage (move-assign would copy)
        return &*v;
    }
};

bool bj_string(const bj::value* v, std::string_view& out) {
    if (!v) return false;
    if (const bj::string* s = v->if_string()) {
        out = std::string_view(s->data(), s->size());
        return true;
    }
    return false;
}

Route route_boost_value(const bj::value* doc) {
    Route r;
    if (!doc) return r;
    const bj::object* o = doc->if_object();
    if (!o) return r;
    RouteFacts f;
    if (const bj::value* id = o->if_contains("id")) {
        if (id->is_string()) {
            r.id_kind = zenws::IdKind::string;
            bj_string(id, r.id_text);
        } else if (id->is_int64()) {
            r.id_kind = zenws::IdKind::integer;
            r.id_int = id->get_int64();
        } else if (id->is_uint64() || id->is_double()) {
            r.id_kind = zenws::IdKind::number;  // (text not kept by the DOM; no sample has such an id)
        }
    }
    f.has_method = bj_string(o->if_contains("method"), r.method);
    if (const bj::value* params = o->if_contains("params")) {
        if (const bj::object* po = params->if_object()) {
            f.has_params_type = bj_string(po->if_contains("type"), f.params_type);
            f.has_params_channel = bj_string(po->if_contains("channel"), f.params_channel);
        }
    }
    f.has_result = o->contains("result");
    if (const bj::value* e = o->if_contains("error")) {
        if (!e->is_null()) {
            r.has_error = true;
            if (const bj::object* eo = e->if_object()) {
                if (const bj::value* c = eo->if_contains("code"); c && c->is_int64()) {
                    r.has_error_code = true;
                    r.error_code = c->get_int64();
                }
            }
        }
    }
    f.has_stream = bj_string(o->if_contains("stream"), f.stream);
    f.has_data = o->contains("data");
    if (const bj::value* c = o->if_contains("code"); c && c->is_int64()) {
        f.has_top_code = true;
        f.top_code = c->get_int64();
    }
    std::string_view msg;
    f.has_top_msg = bj_string(o->if_contains("msg"), msg);
    f.finish(r);
    return r;
}

// ---- (b) typed Deribit messages ------------------------------------------------------------------------------------

enum class Kind { auth, ticker, book, order_result };
struct TypedSample {
    const char* name;
    std::string_view text;
    Kind kind;
};
const TypedSample kTypedSamples[] = {
    {"deribit_auth_reply", kDeribitAuthReply, Kind::auth},
    {"deribit_ticker", kDeribitTicker, Kind::ticker},
    {"deribit_book", kDeribitBook, Kind::book},
    {"deribit_buy_reply", kDeribitBuyReply, Kind::order_result},
};

// The zenws way: replies straight into deribit::parse_*; notifications: scan_json (the client's routing scan, which
// also yields params.data) then deribit::parse_ticker_object / parse_order_book on the data object.
bool typed_zenws(Kind kind, std::string_view text, deribit::AuthResult& a, deribit::Ticker& t, deribit::OrderBook& b,
                 deribit::OrderResult& o) {
    switch (kind) {
        case Kind::auth: {
            auto r = deribit::parse_auth(text);
            if (!r) return false;
            a = std::move(r.value());
            return true;
        }
        case Kind::ticker: {
            zenws::JsonEnvelope env = zenws::scan_json(text);
            if (env.data_raw.empty()) return false;
            auto r = deribit::parse_ticker_object(env.data_raw);
            if (!r) return false;
            t = std::move(r.value());
            return true;
        }
        case Kind::book: {
            zenws::JsonEnvelope env = zenws::scan_json(text);
            if (env.data_raw.empty()) return false;
            auto r = deribit::parse_order_book(env.data_raw);
            if (!r) return false;
            b = std::move(r.value());
            return true;
        }
        case Kind::order_result: {
            auto r = deribit::parse_order_result(text);
            if (!r) return false;
            o = std::move(r.value());
            return true;
        }
    }
    return false;
}

// -- simdjson On-Demand: same field semantics as src/core/deribit_messages.cpp (str_or / num_or / int_or / json_bool:
// strings must be strings, numbers may also be quoted numbers, ints fall back to a double, missing -> default).

bool from_chars_double(std::string_view s, double& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

bool sj_num(od::value& v, double& out) {
    od::json_type t;
    if (v.type().get(t)) return false;
    if (t == od::json_type::number) return v.get_double().get(out) == simdjson::SUCCESS;
    if (t == od::json_type::string) {
        std::string_view s;
        if (v.get_string().get(s)) return false;
        return from_chars_double(s, out);
    }
    return false;
}
double sj_num_or(od::value& v) {
    double d = 0;
    return sj_num(v, d) ? d : 0;
}
std::int64_t sj_int_or(od::value& v) {
    od::json_type t;
    if (v.type().get(t)) return 0;
    std::int64_t i = 0;
    if (t == od::json_type::number) {
        if (v.get_int64().get(i) == simdjson::SUCCESS) return i;
        double d = 0;
        if (v.get_double().get(d) == simdjson::SUCCESS && std::isfinite(d) && std::fabs(d) < 9.2e18)
            return static_cast<std::int64_t>(d);
        return 0;
    }
    if (t == od::json_type::string) {
        std::string_view s;
        if (v.get_string().get(s)) return 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
        if (ec == std::errc() && p == s.data() + s.size()) return i;
        double d = 0;
        if (from_chars_double(s, d) && std::isfinite(d) && std::fabs(d) < 9.2e18) return static_cast<std::int64_t>(d);
    }
    return 0;
}
void sj_str_into(od::value& v, std::string& out) {
    od::json_type t;
    std::string_view s;
    if (v.type().get(t) == simdjson::SUCCESS && t == od::json_type::string && v.get_string().get(s) == simdjson::SUCCESS)
        out.assign(s);
}
bool sj_bool_or(od::value& v) {
    bool b = false;
    return v.get_bool().get(b) == simdjson::SUCCESS ? b : false;
}

bool sj_auth(od::object obj, deribit::AuthResult& a) {
    for (auto m : obj) {
        od::field f;
        SJ_TRY(std::move(m).get(f));
        simdjson::ondemand::raw_json_string k = f.key();
        if (k == "access_token") sj_str_into(f.value(), a.access_token);
        else if (k == "refresh_token") sj_str_into(f.value(), a.refresh_token);
        else if (k == "expires_in") a.expires_in = sj_int_or(f.value());
        else if (k == "scope") sj_str_into(f.value(), a.scope);
        else if (k == "token_type") sj_str_into(f.value(), a.token_type);
    }
    return !a.access_token.empty();
}

bool sj_ticker(od::object obj, deribit::Ticker& t) {
    bool named = false;
    for (auto m : obj) {
        od::field f;
        SJ_TRY(std::move(m).get(f));
        simdjson::ondemand::raw_json_string k = f.key();
        od::value& v = f.value();
        if (k == "instrument_name") {
            named = true;
            sj_str_into(v, t.instrument_name);
        } else if (k == "state") sj_str_into(v, t.state);
        else if (k == "timestamp") t.timestamp = sj_int_or(v);
        else if (k == "best_bid_price") t.best_bid_price = sj_num_or(v);
        else if (k == "best_bid_amount") t.best_bid_amount = sj_num_or(v);
        else if (k == "best_ask_price") t.best_ask_price = sj_num_or(v);
        else if (k == "best_ask_amount") t.best_ask_amount = sj_num_or(v);
        else if (k == "last_price") t.last_price = sj_num_or(v);
        else if (k == "mark_price") t.mark_price = sj_num_or(v);
        else if (k == "index_price") t.index_price = sj_num_or(v);
        else if (k == "open_interest") t.open_interest = sj_num_or(v);
    }
    return named;
}

// [price, amount] or ["new"|"change"|"delete", price, amount]: the last two cells of rows with >= 2 cells.
bool sj_levels(od::value& v, std::vector<deribit::PriceLevel>& out) {
    od::array rows;
    if (v.get_array().get(rows)) return true;  // not an array: no levels
    for (auto row_r : rows) {
        od::value row;
        SJ_TRY(std::move(row_r).get(row));
        od::array cells;
        if (row.get_array().get(cells)) continue;
        double last[2] = {0, 0};
        bool ok[2] = {false, false};
        std::size_t n = 0;
        for (auto cell_r : cells) {
            od::value cell;
            SJ_TRY(std::move(cell_r).get(cell));
            last[0] = last[1];
            ok[0] = ok[1];
            ok[1] = sj_num(cell, last[1]);
            ++n;
        }
        if (n >= 2 && ok[0] && ok[1]) out.push_back({last[0], last[1]});
    }
    return true;
}

bool sj_book(od::object obj, deribit::OrderBook& b) {
    bool named = false;
    for (auto m : obj) {
        od::field f;
        SJ_TRY(std::move(m).get(f));
        simdjson::ondemand::raw_json_string k = f.key();
        od::value& v = f.value();
        if (k == "instrument_name") {
            named = true;
            sj_str_into(v, b.instrument_name);
        } else if (k == "state") sj_str_into(v, b.state);
        else if (k == "timestamp") b.timestamp = sj_int_or(v);
        else if (k == "change_id") b.change_id = sj_int_or(v);
        else if (k == "bids") {
            b.bids.clear();
            if (!sj_levels(v, b.bids)) return false;
        } else if (k == "asks") {
            b.asks.clear();
            if (!sj_levels(v, b.asks)) return false;
        } else if (k == "best_bid_price") b.best_bid_price = sj_num_or(v);
        else if (k == "best_ask_price") b.best_ask_price = sj_num_or(v);
        else if (k == "last_price") b.last_price = sj_num_or(v);
        else if (k == "mark_price") b.mark_price = sj_num_or(v);
        else if (k == "index_price") b.index_price = sj_num_or(v);
    }
    return named;
}

bool sj_order(od::object obj, deribit::Order& x) {
    bool has_id = false;
    for (auto m : obj) {
        od::field f;
        SJ_TRY(std::move(m).get(f));
        simdjson::ondemand::raw_json_string k = f.key();
        od::value& v = f.value();
        if (k == "order_id") {
            has_id = true;
            sj_str_into(v, x.order_id);
        } else if (k == "instrument_name") sj_str_into(v, x.instrument_name);
        else if (k == "direction") sj_str_into(v, x.direction);
        else if (k == "order_type") sj_str_into(v, x.order_type);
        else if (k == "order_state") sj_str_into(v, x.order_state);
        else if (k == "label") sj_str_into(v, x.label);
        else if (k == "time_in_force") sj_str_into(v, x.time_in_force);
        else if (k == "price") x.price = sj_num_or(v);
        else if (k == "amount") x.amount = sj_num_or(v);
        else if (k == "filled_amount") x.filled_amount = sj_num_or(v);
        else if (k == "average_price") x.average_price = sj_num_or(v);
        else if (k == "post_only") x.post_only = sj_bool_or(v);
        else if (k == "reduce_only") x.reduce_only = sj_bool_or(v);
        else if (k == "creation_timestamp") x.creation_timestamp = sj_int_or(v);
        else if (k == "last_update_timestamp") x.last_update_timestamp = sj_int_or(v);
    }
    return has_id;
}

bool sj_trade(od::object obj, deribit::Trade& x) {
    for (auto m : obj) {
        od::field f;
        SJ_TRY(std::move(m).get(f));
        simdjson::ondemand::raw_json_string k = f.key();
        od::value& v = f.value();
        if (k == "trade_id") sj_str_into(v, x.trade_id);
        else if (k == "order_id") sj_str_into(v, x.order_id);
        else if (k == "instrument_name") sj_str_into(v, x.instrument_name);
        else if (k == "direction") sj_str_into(v, x.direction);
        else if (k == "price") x.price = sj_num_or(v);
        else if (k == "amount") x.amount = sj_num_or(v);
        else if (k == "timestamp") x.timestamp = sj_int_or(v);
    }
    return true;
}

bool sj_order_result(od::object obj, deribit::OrderResult& o) {
    bool has_order = false;
    for (auto m : obj) {
        od::field f;
        SJ_TRY(std::move(m).get(f));
        simdjson::ondemand::raw_json_string k = f.key();
        od::value& v = f.value();
        if (k == "order") {
            od::object oo;
            SJ_TRY(v.get_object().get(oo));
            if (!sj_order(oo, o.order)) return false;
            has_order = true;
        } else if (k == "trades") {
            od::array arr;
            if (v.get_array().get(arr)) continue;
            for (auto tr : arr) {
                od::value tv;
                SJ_TRY(std::move(tr).get(tv));
                deribit::Trade t;  // a non-object entry gives an empty Trade, as in zenws's trade_of()
                od::object to;
                if (tv.get_object().get(to) == simdjson::SUCCESS && !sj_trade(to, t)) return false;
                o.trades.push_back(std::move(t));
            }
        }
    }
    return has_order;
}

// Top level: a reply's "result" (an "error" fails), or a notification's params.data.
bool typed_simdjson(od::parser& parser, simdjson::padded_string_view in, Kind kind, deribit::AuthResult& a,
                    deribit::Ticker& t, deribit::OrderBook& b, deribit::OrderResult& o) {
    od::document doc;
    SJ_TRY(parser.iterate(in).get(doc));
    od::object top;
    SJ_TRY(doc.get_object().get(top));
    bool done = false;
    for (auto m : top) {
        od::field f;
        SJ_TRY(std::move(m).get(f));
        simdjson::ondemand::raw_json_string k = f.key();
        od::value& v = f.value();
        if (k == "error") {
            bool null = false;
            SJ_TRY(v.is_null().get(null));
            if (!null) return false;
        } else if (k == "result" && (kind == Kind::auth || kind == Kind::order_result)) {
            od::object r;
            SJ_TRY(v.get_object().get(r));
            if (kind == Kind::auth ? !sj_auth(r, a) : !sj_order_result(r, o)) return false;
            done = true;
        } else if (k == "params" && (kind == Kind::ticker || kind == Kind::book)) {
            od::object p;
            SJ_TRY(v.get_object().get(p));
            for (auto pm : p) {
                od::field pf;
                SJ_TRY(std::move(pm).get(pf));
                if (pf.key() != "data") continue;
                od::object d;
                SJ_TRY(pf.value().get_object().get(d));
                if (kind == Kind::ticker ? !sj_ticker(d, t) : !sj_book(d, b)) return false;
                done = true;
            }
        }
    }
    return done;
}

// -- Boost.JSON: DOM lookups with the same semantics.

void bj_str_into(const bj::object& o, std::string_view k, std::string& out) {
    if (const bj::value* v = o.if_contains(k))
        if (const bj::string* s = v->if_string()) out.assign(s->data(), s->size());
}
bool bj_num(const bj::value* v, double& out) {
    if (!v) return false;
    switch (v->kind()) {
        case bj::kind::double_: out = v->get_double(); return true;
        case bj::kind::int64: out = static_cast<double>(v->get_int64()); return true;
        case bj::kind::uint64: out = static_cast<double>(v->get_uint64()); return true;
        case bj::kind::string: return from_chars_double(std::string_view(v->get_string()), out);
        default: return false;
    }
}
double bj_num_or(const bj::object& o, std::string_view k) {
    double d = 0;
    return bj_num(o.if_contains(k), d) ? d : 0;
}
std::int64_t bj_int_or(const bj::object& o, std::string_view k) {
    const bj::value* v = o.if_contains(k);
    if (!v) return 0;
    double d = 0;
    switch (v->kind()) {
        case bj::kind::int64: return v->get_int64();
        case bj::kind::uint64:
            return v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX) ? static_cast<std::int64_t>(v->get_uint64())
                                                                            : 0;
        case bj::kind::double_: d = v->get_double(); break;
        case bj::kind::string: {
            std::string_view s(v->get_string());
            std::int64_t i = 0;
            auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
            if (ec == std::errc() && p == s.data() + s.size()) return i;
            if (!from_chars_double(s, d)) return 0;
            break;
        }
        default: return 0;
    }
    return std::isfinite(d) && std::fabs(d) < 9.2e18 ? static_cast<std::int64_t>(d) : 0;
}
bool bj_bool_or(const bj::object& o, std::string_view k) {
    const bj::value* v = o.if_contains(k);
    return v && v->is_bool() ? v->get_bool() : false;
}

void bj_levels(const bj::object& o, std::string_view k, std::vector<deribit::PriceLevel>& out) {
    const bj::value* v = o.if_contains(k);
    if (!v || !v->is_array()) return;
    for (const bj::value& row : v->get_array()) {
        const bj::array* cells = row.if_array();
        if (!cells || cells->size() < 2) continue;
        std::size_t off = cells->size() >= 3 ? cells->size() - 2 : 0;
        double p = 0, a = 0;
        if (bj_num(&(*cells)[off], p) && bj_num(&(*cells)[off + 1], a)) out.push_back({p, a});
    }
}

bool bj_order(const bj::object& o, deribit::Order& x) {
    if (!o.contains("order_id")) return false;
    bj_str_into(o, "order_id", x.order_id);
    bj_str_into(o, "instrument_name", x.instrument_name);
    bj_str_into(o, "direction", x.direction);
    bj_str_into(o, "order_type", x.order_type);
    bj_str_into(o, "order_state", x.order_state);
    bj_str_into(o, "label", x.label);
    bj_str_into(o, "time_in_force", x.time_in_force);
    x.price = bj_num_or(o, "price");
    x.amount = bj_num_or(o, "amount");
    x.filled_amount = bj_num_or(o, "filled_amount");
    x.average_price = bj_num_or(o, "average_price");
    x.post_only = bj_bool_or(o, "post_only");
    x.reduce_only = bj_bool_or(o, "reduce_only");
    x.creation_timestamp = bj_int_or(o, "creation_timestamp");
    x.last_update_timestamp = bj_int_or(o, "last_update_timestamp");
    return true;
}

bool typed_boost_value(const bj::value* doc, Kind kind, deribit::AuthResult& a, deribit::Ticker& t,
                       deribit::OrderBook& b, deribit::OrderResult& o) {
    if (!doc) return false;
    const bj::object* top = doc->if_object();
    if (!top) return false;
    if (const bj::value* e = top->if_contains("error"); e && !e->is_null()) return false;
    const bj::object* obj = nullptr;
    if (kind == Kind::auth || kind == Kind::order_result) {
        const bj::value* r = top->if_contains("result");
        obj = r ? r->if_object() : nullptr;
    } else {
        const bj::value* p = top->if_contains("params");
        const bj::object* po = p ? p->if_object() : nullptr;
        const bj::value* d = po ? po->if_contains("data") : nullptr;
        obj = d ? d->if_object() : nullptr;
    }
    if (!obj) return false;
    switch (kind) {
        case Kind::auth:
            bj_str_into(*obj, "access_token", a.access_token);
            if (a.access_token.empty()) return false;
            bj_str_into(*obj, "refresh_token", a.refresh_token);
            a.expires_in = bj_int_or(*obj, "expires_in");
            bj_str_into(*obj, "scope", a.scope);
            bj_str_into(*obj, "token_type", a.token_type);
            return true;
        case Kind::ticker:
            if (!obj->contains("instrument_name")) return false;
            bj_str_into(*obj, "instrument_name", t.instrument_name);
            bj_str_into(*obj, "state", t.state);
            t.timestamp = bj_int_or(*obj, "timestamp");
            t.best_bid_price = bj_num_or(*obj, "best_bid_price");
            t.best_bid_amount = bj_num_or(*obj, "best_bid_amount");
            t.best_ask_price = bj_num_or(*obj, "best_ask_price");
            t.best_ask_amount = bj_num_or(*obj, "best_ask_amount");
            t.last_price = bj_num_or(*obj, "last_price");
            t.mark_price = bj_num_or(*obj, "mark_price");
            t.index_price = bj_num_or(*obj, "index_price");
            t.open_interest = bj_num_or(*obj, "open_interest");
            return true;
        case Kind::book:
            if (!obj->contains("instrument_name")) return false;
            bj_str_into(*obj, "instrument_name", b.instrument_name);
            bj_str_into(*obj, "state", b.state);
            b.timestamp = bj_int_or(*obj, "timestamp");
            b.change_id = bj_int_or(*obj, "change_id");
            bj_levels(*obj, "bids", b.bids);
            bj_levels(*obj, "asks", b.asks);
            b.best_bid_price = bj_num_or(*obj, "best_bid_price");
            b.best_ask_price = bj_num_or(*obj, "best_ask_price");
            b.last_price = bj_num_or(*obj, "last_price");
            b.mark_price = bj_num_or(*obj, "mark_price");
            b.index_price = bj_num_or(*obj, "index_price");
            return true;
        case Kind::order_result: {
            const bj::value* ov = obj->if_contains("order");
            const bj::object* oo = ov ? ov->if_object() : nullptr;
            if (!oo || !bj_order(*oo, o.order)) return false;
            if (const bj::value* tv = obj->if_contains("trades"); tv && tv->is_array()) {
                for (const bj::value& tr : tv->get_array()) {
                    const bj::object* to = tr.if_object();
                    deribit::Trade x;
                    if (to) {
                        bj_str_into(*to, "trade_id", x.trade_id);
                        bj_str_into(*to, "order_id", x.order_id);
                        bj_str_into(*to, "instrument_name", x.instrument_name);
                        bj_str_into(*to, "direction", x.direction);
                        x.price = bj_num_or(*to, "price");
                        x.amount = bj_num_or(*to, "amount");
                        x.timestamp = bj_int_or(*to, "timestamp");
                    }
                    o.trades.push_back(std::move(x));
                }
            }
            return true;
        }
    }
    return false;
}

// ---- plumbing: engines, inputs, the sanity check -------------------------------------------------------------------

struct Engines {
    od::parser parser;  // reused: its buffers grow once to the largest message
    PadBuffer pad;
    BoostHeap heap;
    BoostMono mono;
};

struct Input {
    std::string text;                 // unpadded heap copy: what zenws and Boost.JSON read
    simdjson::padded_string padded;   // the same bytes + SIMDJSON_PADDING: what simdjson_padded reads
    explicit Input(std::string_view t) : text(t), padded(t) {}
};

enum class Variant { zenws, simdjson_copy, simdjson_padded, boostjson, boostjson_mono };
constexpr Variant kVariants[] = {Variant::zenws, Variant::simdjson_copy, Variant::simdjson_padded, Variant::boostjson,
                                 Variant::boostjson_mono};
const char* variant_name(Variant v) {
    switch (v) {
        case Variant::zenws: return "zenws";
        case Variant::simdjson_copy: return "simdjson_copy";
        case Variant::simdjson_padded: return "simdjson_padded";
        case Variant::boostjson: return "boostjson";
        case Variant::boostjson_mono: return "boostjson_mono";
    }
    return "?";
}

inline Route route_with(Variant v, Engines& e, const Input& in) {
    switch (v) {
        case Variant::zenws: return route_zenws(in.text);
        case Variant::simdjson_copy: return route_simdjson(e.parser, e.pad.copy(in.text));
        case Variant::simdjson_padded: return route_simdjson(e.parser, in.padded);
        case Variant::boostjson: return route_boost_value(e.heap.parse(in.text));
        case Variant::boostjson_mono: return route_boost_value(e.mono.parse(in.text));
    }
    return {};
}

struct Typed {
    deribit::AuthResult a;
    deribit::Ticker t;
    deribit::OrderBook b;
    deribit::OrderResult o;
    bool ok = false;
};

inline void typed_with(Variant v, Engines& e, const Input& in, Kind kind, Typed& out) {
    switch (v) {
        case Variant::zenws: out.ok = typed_zenws(kind, in.text, out.a, out.t, out.b, out.o); return;
        case Variant::simdjson_copy:
            out.ok = typed_simdjson(e.parser, e.pad.copy(in.text), kind, out.a, out.t, out.b, out.o);
            return;
        case Variant::simdjson_padded:
            out.ok = typed_simdjson(e.parser, in.padded, kind, out.a, out.t, out.b, out.o);
            return;
        case Variant::boostjson:
            out.ok = typed_boost_value(e.heap.parse(in.text), kind, out.a, out.t, out.b, out.o);
            return;
        case Variant::boostjson_mono:
            out.ok = typed_boost_value(e.mono.parse(in.text), kind, out.a, out.t, out.b, out.o);
            return;
    }
}

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "zenws_json_bench: SANITY CHECK FAILED: %s\n", what.c_str());
    std::abort();
}

// An owned copy of a Route (the views die with the next message).
struct RouteOwned {
    bool valid;
    int id_kind;
    std::int64_t id_int;
    std::string id_text, method, channel;
    bool has_error, has_error_code;
    std::int64_t error_code;
    int heartbeat;
    bool operator==(const RouteOwned&) const = default;
    std::string str() const {
        char buf[512];
        std::snprintf(buf, sizeof buf,
                      "{valid=%d id_kind=%d id_int=%lld id_text='%s' method='%s' channel='%s' has_error=%d "
                      "has_code=%d code=%lld heartbeat=%d}",
                      valid, id_kind, static_cast<long long>(id_int), id_text.c_str(), method.c_str(),
                      channel.c_str(), has_error, has_error_code, static_cast<long long>(error_code), heartbeat);
        return buf;
    }
};
RouteOwned own(const Route& r) {
    return {r.valid, static_cast<int>(r.id_kind), r.id_int, std::string(r.id_text), std::string(r.method),
            std::string(r.channel), r.has_error, r.has_error_code, r.error_code, static_cast<int>(r.heartbeat)};
}

RouteOwned expected_route(std::string_view sample) {
    RouteOwned x{true, 0, 0, "", "", "", false, false, 0, 0};
    auto integer_id = [&](std::int64_t id) {
        x.id_kind = static_cast<int>(zenws::IdKind::integer);
        x.id_int = id;
    };
    if (sample == "deribit_auth_reply") integer_id(2);
    else if (sample == "deribit_buy_reply") integer_id(7);
    else if (sample == "deribit_ticker") x.method = "subscription", x.channel = "ticker.BTC-PERPETUAL.100ms";
    else if (sample == "deribit_book") x.method = "subscription", x.channel = "book.BTC-PERPETUAL.100ms";
    else if (sample == "deribit_test_request")
        x.method = "heartbeat", x.heartbeat = static_cast<int>(zenws::HeartbeatKind::test_request);
    else if (sample == "binance_depth") x.channel = "btcusdt@depth@100ms";
    else if (sample == "deribit_error_reply") integer_id(8), x.has_error = x.has_error_code = true, x.error_code = -32602;
    else fail("no expectation for sample " + std::string(sample));
    return x;
}

// Field-by-field comparison of the typed results; doubles must be bit-identical.
struct Diff {
    std::string where;
    void str(const char* f, const std::string& a, const std::string& b) {
        if (a != b) where += std::string(f) + ": '" + a + "' vs '" + b + "'; ";
    }
    void num(const char* f, double a, double b) {
        if (std::memcmp(&a, &b, sizeof a) != 0) {
            char buf[128];
            std::snprintf(buf, sizeof buf, "%s: %.17g vs %.17g; ", f, a, b);
            where += buf;
        }
    }
    void i64(const char* f, std::int64_t a, std::int64_t b) {
        if (a != b) where += std::string(f) + ": " + std::to_string(a) + " vs " + std::to_string(b) + "; ";
    }
    void order(const deribit::Order& a, const deribit::Order& b) {
        str("order_id", a.order_id, b.order_id);
        str("instrument_name", a.instrument_name, b.instrument_name);
        str("direction", a.direction, b.direction);
        str("order_type", a.order_type, b.order_type);
        str("order_state", a.order_state, b.order_state);
        str("label", a.label, b.label);
        str("time_in_force", a.time_in_force, b.time_in_force);
        num("price", a.price, b.price);
        num("amount", a.amount, b.amount);
        num("filled_amount", a.filled_amount, b.filled_amount);
        num("average_price", a.average_price, b.average_price);
        i64("post_only", a.post_only, b.post_only);
        i64("reduce_only", a.reduce_only, b.reduce_only);
        i64("creation_timestamp", a.creation_timestamp, b.creation_timestamp);
        i64("last_update_timestamp", a.last_update_timestamp, b.last_update_timestamp);
    }
    void levels(const char* f, const std::vector<deribit::PriceLevel>& a, const std::vector<deribit::PriceLevel>& b) {
        i64(f, static_cast<std::int64_t>(a.size()), static_cast<std::int64_t>(b.size()));
        for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
            num(f, a[i].price, b[i].price);
            num(f, a[i].amount, b[i].amount);
        }
    }
    void typed(Kind k, const Typed& a, const Typed& b) {
        i64("ok", a.ok, b.ok);
        switch (k) {
            case Kind::auth:
                str("access_token", a.a.access_token, b.a.access_token);
                str("refresh_token", a.a.refresh_token, b.a.refresh_token);
                i64("expires_in", a.a.expires_in, b.a.expires_in);
                str("scope", a.a.scope, b.a.scope);
                str("token_type", a.a.token_type, b.a.token_type);
                break;
            case Kind::ticker:
                str("instrument_name", a.t.instrument_name, b.t.instrument_name);
                str("state", a.t.state, b.t.state);
                i64("timestamp", a.t.timestamp, b.t.timestamp);
                num("best_bid_price", a.t.best_bid_price, b.t.best_bid_price);
                num("best_bid_amount", a.t.best_bid_amount, b.t.best_bid_amount);
                num("best_ask_price", a.t.best_ask_price, b.t.best_ask_price);
                num("best_ask_amount", a.t.best_ask_amount, b.t.best_ask_amount);
                num("last_price", a.t.last_price, b.t.last_price);
                num("mark_price", a.t.mark_price, b.t.mark_price);
                num("index_price", a.t.index_price, b.t.index_price);
                num("open_interest", a.t.open_interest, b.t.open_interest);
                break;
            case Kind::book:
                str("instrument_name", a.b.instrument_name, b.b.instrument_name);
                str("state", a.b.state, b.b.state);
                i64("timestamp", a.b.timestamp, b.b.timestamp);
                i64("change_id", a.b.change_id, b.b.change_id);
                levels("bids", a.b.bids, b.b.bids);
                levels("asks", a.b.asks, b.b.asks);
                num("best_bid_price", a.b.best_bid_price, b.b.best_bid_price);
                num("best_ask_price", a.b.best_ask_price, b.b.best_ask_price);
                num("last_price", a.b.last_price, b.b.last_price);
                num("mark_price", a.b.mark_price, b.b.mark_price);
                num("index_price", a.b.index_price, b.b.index_price);
                break;
            case Kind::order_result:
                order(a.o.order, b.o.order);
                i64("trades", static_cast<std::int64_t>(a.o.trades.size()), static_cast<std::int64_t>(b.o.trades.size()));
                for (std::size_t i = 0; i < std::min(a.o.trades.size(), b.o.trades.size()); ++i) {
                    const auto &x = a.o.trades[i], &y = b.o.trades[i];
                    str("trade_id", x.trade_id, y.trade_id);
                    str("trade.order_id", x.order_id, y.order_id);
                    str("trade.instrument_name", x.instrument_name, y.instrument_name);
                    str("trade.direction", x.direction, y.direction);
                    num("trade.price", x.price, y.price);
                    num("trade.amount", x.amount, y.amount);
                    i64("trade.timestamp", x.timestamp, y.timestamp);
                }
                break;
        }
    }
};

// Hand-written facts of each typed sample (so that all variants agreeing on a wrong answer is caught too).
void check_typed_expectation(const char* sample, Kind k, const Typed& z) {
    bool good = z.ok;
    switch (k) {
        case Kind::auth:
            good = good && z.a.access_token == "1704067200123.1.17.a" && z.a.refresh_token == "1704067200123.1.18.r" &&
                   z.a.expires_in == 900 && z.a.scope == "connection mainaccount" && z.a.token_type == "bearer";
            break;
        case Kind::ticker:
            good = good && z.t.instrument_name == "BTC-PERPETUAL" && z.t.state == "open" &&
                   z.t.timestamp == 1704067200123 && z.t.best_bid_price == 42248.0 && z.t.best_ask_price == 42248.5 &&
                   z.t.best_ask_amount == 118730.0 && z.t.mark_price == 42248.43 && z.t.open_interest == 1023456780.0;
            break;
        case Kind::book:
            good = good && z.b.instrument_name == "BTC-PERPETUAL" && z.b.change_id == 71023456789 &&
                   z.b.timestamp == 1704067200123 && z.b.bids.size() == 40 && z.b.asks.size() == 40 &&
                   z.b.bids[0].price == 42248.0 && z.b.bids[0].amount == 1000.0 && z.b.asks[39].price == 42268.0 &&
                   z.b.state.empty();
            break;
        case Kind::order_result:
            good = good && z.o.order.order_id == "39281474301" && z.o.order.order_state == "filled" &&
                   z.o.order.price == 42250.0 && z.o.order.filled_amount == 100.0 && z.o.order.label == "mm-7" &&
                   z.o.order.time_in_force == "good_til_cancelled" && !z.o.order.post_only &&
                   z.o.order.last_update_timestamp == 1704067200456 && z.o.trades.size() == 1 &&
                   z.o.trades[0].trade_id == "289371225" && z.o.trades[0].price == 42248.5 &&
                   z.o.trades[0].amount == 100.0;
            break;
    }
    if (!good) fail(std::string("typed/") + sample + ": zenws result differs from the hand-written expectation");
}

std::vector<Input>* g_route_inputs;
std::vector<Input>* g_typed_inputs;
Engines* g_engines;

void sanity_check() {
    Engines& e = *g_engines;
    for (std::size_t i = 0; i < std::size(kRouteSamples); ++i) {
        const Input& in = (*g_route_inputs)[i];
        RouteOwned want = expected_route(kRouteSamples[i].name);
        for (Variant v : kVariants) {
            for (int round = 0; round < 2; ++round) {  // twice: reused parsers/buffers must give the same answer
                RouteOwned got = own(route_with(v, e, in));
                if (!(got == want))
                    fail(std::string("route/") + kRouteSamples[i].name + "/" + variant_name(v) + ": got " + got.str() +
                         ", want " + want.str());
            }
        }
    }
    for (std::size_t i = 0; i < std::size(kTypedSamples); ++i) {
        const Input& in = (*g_typed_inputs)[i];
        const Kind k = kTypedSamples[i].kind;
        Typed ref;
        typed_with(Variant::zenws, e, in, k, ref);
        check_typed_expectation(kTypedSamples[i].name, k, ref);
        for (Variant v : kVariants) {
            for (int round = 0; round < 2; ++round) {
                Typed got;
                typed_with(v, e, in, k, got);
                Diff d;
                d.typed(k, ref, got);
                if (!d.where.empty())
                    fail(std::string("typed/") + kTypedSamples[i].name + "/" + variant_name(v) + " vs zenws: " + d.where);
            }
        }
    }
    std::fprintf(stderr, "zenws_json_bench: sanity check passed (%zu routing samples, %zu typed samples, %zu variants, "
                         "all fields identical)\n",
                 std::size(kRouteSamples), std::size(kTypedSamples), std::size(kVariants));
}

// ---- registration: every case is one lambda, used by Google Benchmark and by the callgrind mode ---------------------

struct Case {
    std::string name;
    std::function<void(std::size_t)> run_n;  // runs the case n times (the lambda inlined in the loop)
};
std::vector<Case> g_cases;

double stat_min(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }
double stat_max(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }

template <class F>
void add_case(const std::string& name, std::size_t bytes, F f) {
    g_cases.push_back({name, [f](std::size_t n) {
                           for (std::size_t i = 0; i < n; ++i) f();
                       }});
    benchmark::RegisterBenchmark(name.c_str(),
                                 [f, bytes](benchmark::State& state) {
                                     for (auto _ : state) f();
                                     state.SetItemsProcessed(state.iterations());
                                     state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
                                 })
        ->ComputeStatistics("min", stat_min)
        ->ComputeStatistics("max", stat_max);
}

template <Variant V>
void add_route(std::size_t i) {
    const Input* in = &(*g_route_inputs)[i];
    Engines* e = g_engines;
    std::string name = std::string("route/") + kRouteSamples[i].name + "_" + std::to_string(in->text.size()) + "B/" +
                       variant_name(V);
    add_case(name, in->text.size(), [in, e] {
        Route r = route_with(V, *e, *in);
        benchmark::DoNotOptimize(r);
    });
}

template <Variant V>
void add_typed(std::size_t i) {
    const Input* in = &(*g_typed_inputs)[i];
    Engines* e = g_engines;
    const Kind k = kTypedSamples[i].kind;
    std::string name = std::string("typed/") + kTypedSamples[i].name + "_" + std::to_string(in->text.size()) + "B/" +
                       variant_name(V);
    add_case(name, in->text.size(), [in, e, k] {
        Typed t;  // fresh structs per message, as a parser returning by value gives
        typed_with(V, *e, *in, k, t);
        benchmark::DoNotOptimize(t);
    });
}

void register_all() {
    for (std::size_t i = 0; i < std::size(kRouteSamples); ++i) {
        add_route<Variant::zenws>(i);
        add_route<Variant::simdjson_copy>(i);
        add_route<Variant::simdjson_padded>(i);
        add_route<Variant::boostjson>(i);
        add_route<Variant::boostjson_mono>(i);
    }
    for (std::size_t i = 0; i < std::size(kTypedSamples); ++i) {
        add_typed<Variant::zenws>(i);
        add_typed<Variant::simdjson_copy>(i);
        add_typed<Variant::simdjson_padded>(i);
        add_typed<Variant::boostjson>(i);
        add_typed<Variant::boostjson_mono>(i);
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string impl_name;
    long callgrind_iters = 0;
    int out = 1;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a.rfind("--simdjson-impl=", 0) == 0) impl_name = std::string(a.substr(16));
        else if (a.rfind("--callgrind-iters=", 0) == 0) callgrind_iters = std::atol(argv[i] + 18);
        else argv[out++] = argv[i];
    }
    argc = out;
    if (!impl_name.empty()) {
        const simdjson::implementation* impl = simdjson::get_available_implementations()[impl_name];
        if (!impl || !impl->supported_by_runtime_system()) {
            std::fprintf(stderr, "zenws_json_bench: simdjson implementation '%s' unavailable here\n", impl_name.c_str());
            return 2;
        }
        simdjson::get_active_implementation() = impl;
    }

    g_route_inputs = new std::vector<Input>();
    for (const auto& s : kRouteSamples) g_route_inputs->emplace_back(s.text);
    g_typed_inputs = new std::vector<Input>();
    for (const auto& s : kTypedSamples) g_typed_inputs->emplace_back(s.text);
    g_engines = new Engines();  // after the implementation choice: the parser binds its kernel when it allocates

    sanity_check();
    register_all();

    if (callgrind_iters > 0) {
        // Instruction counts per call: run each case once (warm-up: buffers sized, caches of the allocator filled),
        // then zero the counters, run N times and dump under the case's name (bench/json_bench_table.py reads them).
        for (const Case& c : g_cases) {
            c.run_n(1);
            CALLGRIND_ZERO_STATS;
            c.run_n(static_cast<std::size_t>(callgrind_iters));
            CALLGRIND_DUMP_STATS_AT(c.name.c_str());
        }
        std::fprintf(stderr, "zenws_json_bench: %zu cases x %ld iterations under callgrind (simdjson kernel %s)\n",
                     g_cases.size(), callgrind_iters, simdjson::get_active_implementation()->name().c_str());
        return 0;
    }

    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::AddCustomContext("simdjson_version", SIMDJSON_STRINGIFY(SIMDJSON_VERSION));
    benchmark::AddCustomContext("simdjson_kernel", simdjson::get_active_implementation()->name());
    benchmark::AddCustomContext("simdjson_ondemand_builtin", simdjson::builtin_implementation()->name());
    benchmark::AddCustomContext("boost_json", BOOST_LIB_VERSION);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
