// support/certs.cpp — owns generation of the test certificates with the openssl CLI (see certs.hpp).
#include "integration/support/certs.hpp"

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <vector>

#include "integration/support/process.hpp"

namespace zenws::test {
namespace {

struct CertDir {
    TestCerts certs;
    ~CertDir() {
        if (!certs.dir.empty()) {
            std::error_code ec;
            std::filesystem::remove_all(certs.dir, ec);
        }
    }
};

std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') out += "'\\''";
        else out += c;
    }
    return out + "'";
}

bool run(const std::string& command, std::string& error) {
    int rc = std::system((command + " >/dev/null 2>&1").c_str());
    if (rc != 0) {
        error = "command failed (" + std::to_string(WIFEXITED(rc) ? WEXITSTATUS(rc) : -1) + "): " + command;
        return false;
    }
    return true;
}

bool generate(TestCerts& c) {
    std::string openssl = find_executable("openssl", "/usr/bin/openssl");
    if (openssl.empty()) {
        c.error = "openssl CLI not found";
        return false;
    }
    std::string tmpl = (std::filesystem::temp_directory_path() / "zenws-certs-XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) {
        c.error = "mkdtemp failed";
        return false;
    }
    c.dir = buf.data();
    auto p = [&](const char* name) { return c.dir + "/" + name; };
    const std::string o = quote(openssl);
    const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

    {
        std::ofstream(p("server.ext")) << "basicConstraints=CA:FALSE\n"
                                          "keyUsage=critical,digitalSignature,keyEncipherment\n"
                                          "extendedKeyUsage=serverAuth\n"
                                          "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
        std::ofstream(p("wrong.ext")) << "basicConstraints=CA:FALSE\n"
                                         "keyUsage=critical,digitalSignature,keyEncipherment\n"
                                         "extendedKeyUsage=serverAuth\n"
                                         "subjectAltName=DNS:wrong.example\n";
    }
    auto make_ca = [&](const char* name, const char* cn) {
        std::string base = p(name);
        return run(o + " req -x509" + key + " -keyout " + quote(base + ".key") + " -out " + quote(base + ".pem") +
                       " -days 3 -subj " + quote(std::string("/CN=") + cn) +
                       " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
                   c.error);
    };
    auto make_leaf = [&](const char* name, const char* cn, const char* ca, const char* ext) {
        std::string base = p(name), cab = p(ca);
        return run(o + " req" + key + " -keyout " + quote(base + ".key") + " -out " + quote(base + ".csr") +
                       " -subj " + quote(std::string("/CN=") + cn),
                   c.error) &&
               run(o + " x509 -req -in " + quote(base + ".csr") + " -CA " + quote(cab + ".pem") + " -CAkey " +
                       quote(cab + ".key") + " -CAcreateserial -out " + quote(base + ".pem") + " -days 3 -extfile " +
                       quote(p(ext)),
                   c.error);
    };
    if (!make_ca("ca", "zenws test CA") || !make_ca("untrusted-ca", "zenws UNTRUSTED test CA") ||
        !make_leaf("server", "localhost", "ca", "server.ext") ||
        !make_leaf("wrong", "wrong.example", "ca", "wrong.ext") ||
        !make_leaf("untrusted", "localhost", "untrusted-ca", "server.ext"))
        return false;
    c.ca_cert = p("ca.pem");
    c.server_cert = p("server.pem");
    c.server_key = p("server.key");
    c.wrong_host_cert = p("wrong.pem");
    c.wrong_host_key = p("wrong.key");
    c.untrusted_ca_cert = p("untrusted-ca.pem");
    c.untrusted_cert = p("untrusted.pem");
    c.untrusted_key = p("untrusted.key");
    return true;
}

}  // namespace

const TestCerts& test_certs() {
    static CertDir holder;
    static std::once_flag once;
    std::call_once(once, [] { holder.certs.ok = generate(holder.certs); });
    return holder.certs;
}

}  // namespace zenws::test
