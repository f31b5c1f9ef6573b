// deribit_messages_test.cpp — owns the unit tests of the pure adapter code: JSON readers (venue.hpp), Deribit
// request builders, client_signature, typed result parsers and error mapping (deribit.hpp).
#include <gtest/gtest.h>

#include "zenws/venues/deribit.hpp"
#include "zenws/venues/venue.hpp"
#include "zenws/json_scan.hpp"
#include "zenws/mock/dialects.hpp"

namespace zenws::test {
namespace {

using namespace zenws::deribit;
using adapters::ErrorAction;

TEST(AdapterJson, Members) {
    std::string_view o = R"( {"a":1, "s":"x\"y", "n":{"k":[1,2,{"z":"}"}]}, "p":"12.5", "b":true, "a":2} )";
    EXPECT_EQ(adapters::json_int(o, "a"), 2);  // last one wins
    EXPECT_EQ(adapters::json_string(o, "s"), "x\"y");
    EXPECT_EQ(adapters::json_number(o, "p"), 12.5);
    EXPECT_EQ(adapters::json_bool(o, "b"), true);
    auto n = adapters::json_member(o, "n");
    ASSERT_TRUE(n);
    auto arr = adapters::json_array(*adapters::json_member(*n, "k"));
    ASSERT_TRUE(arr);
    ASSERT_EQ(arr->size(), 3u);
    EXPECT_EQ(adapters::json_string((*arr)[2], "z"), "}");
    EXPECT_FALSE(adapters::json_member(o, "missing"));
    EXPECT_FALSE(adapters::json_member("[1]", "a"));
}

TEST(DeribitMessages, SignatureMatchesTheReference) {
    // Same HMAC the mock exchange checks.
    EXPECT_EQ(client_signature("secret", 1700000000000, "abcd", ""),
              mock::deribit_signature("secret", 1700000000000, "abcd", ""));
    EXPECT_EQ(client_signature("secret", 1, "n", "d").size(), 64u);
    auto p = auth_params(Credentials{"id", "secret", Grant::client_signature}, 1700000000000, "abcd");
    auto env = scan_json(p);
    ASSERT_TRUE(env.valid);
    EXPECT_EQ(adapters::json_string(p, "grant_type"), "client_signature");
    EXPECT_EQ(adapters::json_int(p, "timestamp"), 1700000000000);
    EXPECT_EQ(adapters::json_string(p, "signature"), client_signature("secret", 1700000000000, "abcd"));
    auto cc = auth_params(Credentials{"i\"d", "s"});
    EXPECT_EQ(adapters::json_string(cc, "client_id"), "i\"d");
    EXPECT_EQ(adapters::json_string(cc, "grant_type"), "client_credentials");
    EXPECT_EQ(make_nonce().size(), 16u);
}

TEST(DeribitMessages, Builders) {
    EXPECT_EQ(set_heartbeat_params(30), R"({"interval":30})");
    EXPECT_EQ(set_heartbeat_params(0.2), R"({"interval":0.2})");
    EXPECT_EQ(refresh_params("tok"), R"({"grant_type":"refresh_token","refresh_token":"tok"})");
    EXPECT_EQ(get_order_book_params("BTC-PERPETUAL", 5), R"({"instrument_name":"BTC-PERPETUAL","depth":5})");
    EXPECT_EQ(get_instruments_params("BTC", "future"), R"({"currency":"BTC","kind":"future"})");
    OrderRequest o;
    o.instrument_name = "BTC-PERPETUAL";
    o.amount = 10;
    o.price = 50000.5;
    o.post_only = true;
    EXPECT_EQ(order_params(o),
              R"({"instrument_name":"BTC-PERPETUAL","amount":10,"type":"limit","price":50000.5,"post_only":true})");
    EXPECT_EQ(cancel_params("X-1"), R"({"order_id":"X-1"})");
    EXPECT_EQ(open_orders_request({}).first, "private/get_open_orders");
    EXPECT_EQ(open_orders_request({.currency = "BTC"}).first, "private/get_open_orders_by_currency");
    EXPECT_EQ(open_orders_request({.instrument_name = "BTC-PERPETUAL"}).first,
              "private/get_open_orders_by_instrument");
}

TEST(DeribitMessages, ParsesResults) {
    auto a = parse_auth(
        R"({"jsonrpc":"2.0","id":1,"result":{"access_token":"A","expires_in":900,"refresh_token":"R","scope":"connection","token_type":"bearer"}})");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->access_token, "A");
    EXPECT_EQ(a->refresh_token, "R");
    EXPECT_EQ(a->expires_in, 900);

    auto book = parse_order_book(
        R"({"id":2,"result":{"instrument_name":"BTC-PERPETUAL","timestamp":5,"change_id":9,"bids":[[100.5,10],[100,20]],"asks":[[101,5]],"best_bid_price":100.5,"best_ask_price":101,"state":"open"}})");
    ASSERT_TRUE(book);
    ASSERT_EQ(book->bids.size(), 2u);
    EXPECT_EQ(book->bids[0].price, 100.5);
    EXPECT_EQ(book->asks[0].amount, 5);
    EXPECT_EQ(book->change_id, 9);

    auto r = parse_order_result(
        R"({"id":3,"result":{"order":{"order_id":"O1","instrument_name":"BTC-PERPETUAL","direction":"buy","order_type":"market","order_state":"filled","price":"market_price","amount":10,"filled_amount":10},"trades":[{"trade_id":"T1","price":100,"amount":10,"timestamp":7}]}})");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->order.order_id, "O1");
    EXPECT_EQ(r->order.price, 0);
    ASSERT_EQ(r->trades.size(), 1u);
    EXPECT_EQ(r->trades[0].trade_id, "T1");

    auto orders = parse_orders(R"({"id":4,"result":[{"order_id":"a"},{"order_id":"b"}]})");
    ASSERT_TRUE(orders);
    EXPECT_EQ(orders->size(), 2u);
    auto inst = parse_instruments(R"({"id":5,"result":[{"instrument_name":"BTC-PERPETUAL","kind":"future","tick_size":0.5,"is_active":true}]})");
    ASSERT_TRUE(inst);
    EXPECT_EQ((*inst)[0].tick_size, 0.5);
    EXPECT_TRUE((*inst)[0].is_active);

    auto bad = parse_ticker(R"({"id":6,"result":[1,2]})");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, Errc::invalid_request);
}

TEST(DeribitMessages, ErrorMapping) {
    auto e = parse_auth(R"({"jsonrpc":"2.0","id":1,"error":{"code":13004,"message":"invalid_credentials"}})");
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code, Errc::auth_failed);
    EXPECT_EQ(e.error().rpc_code, 13004);
    auto rl = parse_ticker(R"({"jsonrpc":"2.0","id":1,"error":{"code":10028,"message":"too_many_requests"}})");
    ASSERT_FALSE(rl);
    EXPECT_EQ(rl.error().code, Errc::rate_limited);
    EXPECT_TRUE(rl.error().retryable());
    EXPECT_EQ(classify_error(10028), ErrorAction::reconnect);
    EXPECT_EQ(classify_error(13009), ErrorAction::reauthenticate);
    EXPECT_EQ(classify_error(10000), ErrorAction::reauthenticate);
    EXPECT_EQ(classify_error(13004), ErrorAction::fatal);
    EXPECT_EQ(classify_error(13021), ErrorAction::fatal);
    EXPECT_EQ(classify_error(10047), ErrorAction::retry);
    EXPECT_EQ(classify_error(11044), ErrorAction::none);
    Error other(Errc::rpc_error, "x");
    other.rpc_code = 11044;
    EXPECT_EQ(map_error(other).code, Errc::rpc_error);
    EXPECT_EQ(map_error(Error(Errc::request_timeout, "t")).code, Errc::request_timeout);
}

}  // namespace
}  // namespace zenws::test
