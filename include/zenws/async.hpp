// zenws/async.hpp — async_connect with an Asio completion token: one API for callbacks, std::future
// (boost::asio::use_future) and C++20 coroutines (boost::asio::use_awaitable). The completion signature is
// void(zenws::Result<zenws::Client>).
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <memory>

#include "zenws/client.hpp"
#include "zenws/runtime.hpp"

namespace zenws {

template <class CompletionToken>
auto async_connect(Runtime& runtime, Config config, Handlers handlers, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(Result<Client>)>(
        [](auto handler, Runtime* rt, Config cfg, Handlers hs) {
            using Handler = decltype(handler);
            auto executor = boost::asio::get_associated_executor(handler, rt->context().get_executor());
            auto shared = std::make_shared<Handler>(std::move(handler));
            Client::start(*rt, std::move(cfg), std::move(hs), [shared, executor](Result<Client> result) {
                boost::asio::post(executor, [shared, result = std::move(result)]() mutable {
                    std::move (*shared)(std::move(result));
                });
            });
        },
        token, &runtime, std::move(config), std::move(handlers));
}

}  // namespace zenws
