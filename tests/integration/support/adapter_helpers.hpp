// support/adapter_helpers.hpp — owns what the exchange-adapter integration tests (binance_adapter_test.cpp,
// deribit_adapter_test.cpp) share: the mock exchange's names and a bounded poll of a condition.
#pragma once

#include <chrono>
#include <thread>

#include "zenws/mock/exchange.hpp"

namespace zenws::test {

using mock::EndReason;
using mock::MockExchange;
using mock::MockExchangeOptions;
using mock::MockStatus;

// Polls pred() every 10 ms until it holds or `timeout` has passed; the result of a last call after the deadline.
template <class P>
bool eventually(P pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pred();
}

}  // namespace zenws::test
