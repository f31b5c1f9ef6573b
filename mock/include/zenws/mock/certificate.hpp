// zenws/mock/certificate.hpp — the one certificate maker of the tree: EC P-256 certificates and keys (PEM) made
// in-process with OpenSSL, for the mock exchange's wss and for the tests' TLS servers. Three kinds: the mock's own
// self-signed server certificate (also its own trust anchor), a CA, and a server certificate signed by such a CA.
// Test material only: no revocation, no key protection.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "zenws/error.hpp"

namespace zenws::mock {

// A certificate and its private key, both PEM.
struct Certificate {
    std::string cert_pem, key_pem;
};
using SelfSignedCert = Certificate;

enum class CertificateKind : std::uint8_t {
    // Self-signed, usable both as the server's certificate and as the client's trust anchor (CA:TRUE,
    // digitalSignature + keyCertSign, serverAuth, the subject alt names). What the mock exchange serves.
    self_signed_server,
    // A self-signed CA (CA:TRUE, keyCertSign + cRLSign); no subject alt names. Sign server certificates with it.
    ca,
    // A server certificate (CA:FALSE, digitalSignature + keyEncipherment, serverAuth, the subject alt names),
    // signed by the `issuer` given to make_certificate.
    server,
};

struct CertificateOptions {
    CertificateKind kind = CertificateKind::self_signed_server;
    std::string common_name = "localhost";
    std::string organization = "zenws mock exchange";  // empty = none
    // X509v3 subjectAltName syntax; empty = none (always none for a CA).
    std::string subject_alt_names = "DNS:localhost,IP:127.0.0.1";
    std::chrono::seconds valid_for{86400};              // from now; valid since an hour ago
};

// Makes a certificate of `options.kind`. A `server` certificate needs `issuer` (a `ca` made here); the other kinds
// ignore it. Errors are Errc::tls_setup_failed.
Result<Certificate> make_certificate(const CertificateOptions& options, const Certificate* issuer = nullptr);

// The mock exchange's certificate: self-signed, CN=localhost, SAN DNS:localhost, IP:127.0.0.1, valid for a day.
Result<Certificate> make_self_signed_cert();

// Writes cert_pem to `cert_path` and key_pem to `key_path` (replacing them). Errors are Errc::tls_setup_failed.
Status write_pem_files(const Certificate& certificate, const std::string& cert_path, const std::string& key_path);

}  // namespace zenws::mock
