// zenws/async.hpp — the asynchronous operations with Asio completion tokens: one API for callbacks, std::future
// (boost::asio::use_future) and C++20 coroutines (boost::asio::use_awaitable).
//   async_connect(runtime, config, handlers, token)          completes with void(Result<Client>)
//   async_request(client, text, token[, timeout])            completes with void(Result<std::string>)
//   async_call(client, method, params_json, token[, timeout]) completes with void(Result<std::string>)
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/system_executor.hpp>
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

namespace detail {
// Wraps a completion handler as a Client::ReplyCallback that resumes it on its associated executor.
template <class Handler>
Client::ReplyCallback reply_to(Handler handler) {
    auto executor = boost::asio::get_associated_executor(handler, boost::asio::system_executor());
    auto shared = std::make_shared<Handler>(std::move(handler));
    return [shared, executor](Result<std::string> result) {
        boost::asio::dispatch(executor, [shared, result = std::move(result)]() mutable {
            std::move (*shared)(std::move(result));
        });
    };
}
}  // namespace detail

template <class CompletionToken>
auto async_request(Client client, std::string text, CompletionToken&& token, std::chrono::milliseconds timeout = {}) {
    return boost::asio::async_initiate<CompletionToken, void(Result<std::string>)>(
        [](auto handler, Client c, std::string t, std::chrono::milliseconds to) {
            c.request(std::move(t), detail::reply_to(std::move(handler)), to);
        },
        token, std::move(client), std::move(text), timeout);
}

template <class CompletionToken>
auto async_call(Client client, std::string_view method, std::string_view params_json, CompletionToken&& token,
                std::chrono::milliseconds timeout = {}) {
    return boost::asio::async_initiate<CompletionToken, void(Result<std::string>)>(
        [](auto handler, Client c, std::string m, std::string p, std::chrono::milliseconds to) {
            c.call(m, p, detail::reply_to(std::move(handler)), to);
        },
        token, std::move(client), std::string(method), std::string(params_json), timeout);
}

}  // namespace zenws
