// certificate.cpp — owns the one certificate maker of the tree (zenws/mock/certificate.hpp): EC P-256 keys and X.509
// certificates built and signed in-process with OpenSSL, written out as PEM.
#include "zenws/mock/certificate.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <memory>
#include <utility>
#include <vector>

namespace zenws::mock {

namespace {

struct Free {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
    void operator()(X509* p) const { X509_free(p); }
    void operator()(BIO* p) const { BIO_free(p); }
};
template <class T>
using Owned = std::unique_ptr<T, Free>;


std::string bio_text(BIO* b) {
    char* p = nullptr;
    long n = BIO_get_mem_data(b, &p);
    return n > 0 && p ? std::string(p, static_cast<std::size_t>(n)) : std::string();
}

Owned<EVP_PKEY> read_key(const std::string& pem) {
    Owned<BIO> b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    return Owned<EVP_PKEY>(b ? PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, nullptr) : nullptr);
}

Owned<X509> read_cert(const std::string& pem) {
    Owned<BIO> b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    return Owned<X509>(b ? PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr) : nullptr);
}

bool add_name_entry(X509_NAME* name, const char* field, const std::string& value) {
    return value.empty() || X509_NAME_add_entry_by_txt(name, field, MBSTRING_ASC,
                                                       reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                                       0) == 1;
}

// A positive random 63-bit serial, so that certificates made in the same second by one issuer differ.
bool set_serial(X509* x) {
    unsigned char bytes[8];
    if (RAND_bytes(bytes, sizeof bytes) != 1) return false;
    long serial = 0;
    for (unsigned char b : bytes) serial = static_cast<long>((static_cast<unsigned long>(serial) << 8) | b);
    serial &= 0x7fffffffffffffffL;
    if (serial == 0) serial = 1;
    return ASN1_INTEGER_set(X509_get_serialNumber(x), serial) == 1;
}

std::vector<std::pair<const char*, std::string>> extensions_of(const CertificateOptions& o) {
    switch (o.kind) {
        case CertificateKind::self_signed_server: {
            std::vector<std::pair<const char*, std::string>> e;
            if (!o.subject_alt_names.empty()) e.emplace_back("subjectAltName", o.subject_alt_names);
            e.emplace_back("basicConstraints", "critical,CA:TRUE");
            e.emplace_back("keyUsage", "critical,digitalSignature,keyCertSign");
            e.emplace_back("extendedKeyUsage", "serverAuth");
            return e;
        }
        case CertificateKind::ca:
            return {{"basicConstraints", "critical,CA:TRUE"},
                    {"keyUsage", "critical,keyCertSign,cRLSign"},
                    {"subjectKeyIdentifier", "hash"}};
        case CertificateKind::server: {
            std::vector<std::pair<const char*, std::string>> e = {
                {"basicConstraints", "CA:FALSE"},
                {"keyUsage", "critical,digitalSignature,keyEncipherment"},
                {"extendedKeyUsage", "serverAuth"},
                {"subjectKeyIdentifier", "hash"},
                {"authorityKeyIdentifier", "keyid"}};
            if (!o.subject_alt_names.empty()) e.emplace_back("subjectAltName", o.subject_alt_names);
            return e;
        }
    }
    return {};
}

// Errors read "<prefix>: <what>".
Result<Certificate> make(const CertificateOptions& options, const Certificate* issuer, const char* prefix) {
    auto fail = [prefix](const std::string& what) { return Error(Errc::tls_setup_failed, prefix + (": " + what)); };
    const bool signed_by_issuer = options.kind == CertificateKind::server;
    Owned<EVP_PKEY> issuer_key;
    Owned<X509> issuer_cert;
    if (signed_by_issuer) {
        if (!issuer) return fail("a server certificate needs an issuer (a CA)");
        issuer_key = read_key(issuer->key_pem);
        issuer_cert = read_cert(issuer->cert_pem);
        if (!issuer_key || !issuer_cert) return fail("cannot read the issuer's certificate or key");
    }
    Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
    if (!key) return fail("key generation failed");
    Owned<X509> x(X509_new());
    if (!x) return fail("X509_new failed");

    bool ok = X509_set_version(x.get(), 2) == 1 && set_serial(x.get());
    ok = ok && X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600) != nullptr;
    ok = ok && X509_gmtime_adj(X509_getm_notAfter(x.get()), static_cast<long>(options.valid_for.count())) != nullptr;
    ok = ok && X509_set_pubkey(x.get(), key.get()) == 1;
    X509_NAME* name = X509_get_subject_name(x.get());
    ok = ok && add_name_entry(name, "O", options.organization) && add_name_entry(name, "CN", options.common_name);
    X509* issuer_x = signed_by_issuer ? issuer_cert.get() : x.get();
    EVP_PKEY* signing_key = signed_by_issuer ? issuer_key.get() : key.get();
    ok = ok && X509_set_issuer_name(x.get(), X509_get_subject_name(issuer_x)) == 1;
    if (!ok) return fail("cannot fill in the certificate");

    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer_x, x.get(), nullptr, nullptr, 0);
    for (auto& [ext_name, value] : extensions_of(options)) {
        X509_EXTENSION* ext = X509V3_EXT_conf(nullptr, &ctx, ext_name, value.c_str());
        if (!ext) return fail(std::string("bad extension ") + ext_name + "=" + value);
        ok = X509_add_ext(x.get(), ext, -1) == 1;
        X509_EXTENSION_free(ext);
        if (!ok) return fail(std::string("cannot add extension ") + ext_name);
    }
    if (X509_sign(x.get(), signing_key, EVP_sha256()) <= 0) return fail("signing failed");

    Certificate out;
    Owned<BIO> cb(BIO_new(BIO_s_mem())), kb(BIO_new(BIO_s_mem()));
    if (cb && PEM_write_bio_X509(cb.get(), x.get()) == 1) out.cert_pem = bio_text(cb.get());
    if (kb && PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1)
        out.key_pem = bio_text(kb.get());
    if (out.cert_pem.empty() || out.key_pem.empty()) return fail("cannot write PEM");
    return out;
}

}  // namespace

Result<Certificate> make_certificate(const CertificateOptions& options, const Certificate* issuer) {
    return make(options, issuer, "certificate");
}

Result<Certificate> make_self_signed_cert() { return make(CertificateOptions{}, nullptr, "self-signed cert"); }

Status write_pem_files(const Certificate& certificate, const std::string& cert_path, const std::string& key_path) {
    auto write = [](const std::string& path, const std::string& text) {
        std::ofstream f(path, std::ios::binary | std::ios::trunc);
        f << text;
        f.close();
        return static_cast<bool>(f);
    };
    for (auto& [path, text] : {std::pair{&cert_path, &certificate.cert_pem}, std::pair{&key_path, &certificate.key_pem}})
        if (!write(*path, *text)) return Error(Errc::tls_setup_failed, "certificate: cannot write " + *path);
    return {};
}

}  // namespace zenws::mock
