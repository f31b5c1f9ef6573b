// main.cpp — a consumer of the installed zenws package: validates a config and fails a connection to a closed
// port on 127.0.0.1 with a typed error (no network beyond loopback).
#include <zenws/client.hpp>

#include <cstdio>

int main() {
    zenws::Config config;
    config.url = "ws://127.0.0.1:9/";
    config.retry_count = 0;
    if (auto st = config.validate(); !st) {
        std::printf("unexpected config error: %s\n", st.error().explain().c_str());
        return 1;
    }
    auto client = zenws::Client::connect(config);
    if (client || client.error().code != zenws::Errc::connection_refused) {
        std::printf("expected connection_refused\n");
        return 1;
    }
    std::printf("consumer ok: %s\n", client.error().explain().c_str());
    return 0;
}
