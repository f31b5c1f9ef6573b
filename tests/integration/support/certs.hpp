// support/certs.hpp — owns test TLS material: a temp dir with certificates made by the `openssl` CLI.
//   * a test CA and a server cert it signed for CN=localhost, SAN DNS:localhost, IP:127.0.0.1
//   * a server cert signed by the same CA for the WRONG host (CN/SAN DNS:wrong.example)
//   * an UNTRUSTED CA (never given to the client) and a localhost/127.0.0.1 cert it signed
// Generated once per test process (EC P-256, fast) and removed at exit.
#pragma once

#include <string>

namespace zenws::test {

struct TestCerts {
    bool ok = false;
    std::string error;        // why generation failed (openssl missing, command failed)
    std::string dir;
    std::string ca_cert;      // give this to the client as TlsOptions::ca_file
    std::string server_cert, server_key;              // localhost / 127.0.0.1, signed by ca_cert
    std::string wrong_host_cert, wrong_host_key;      // wrong.example, signed by ca_cert
    std::string untrusted_ca_cert;                    // a CA the client does not trust
    std::string untrusted_cert, untrusted_key;        // localhost / 127.0.0.1, signed by untrusted_ca_cert
};

// The process-wide certificates (generated on first call; thread-safe).
const TestCerts& test_certs();

}  // namespace zenws::test
