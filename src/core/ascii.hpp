// ascii.hpp — owns the ASCII case helpers (internal) shared by the HTTP, URL, config and redaction code: HTTP header
// names, URL schemes and JSON member names compare case-insensitively in ASCII only, never by locale.
#pragma once

#include <cstddef>
#include <string_view>

namespace zenws::detail {

constexpr char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    }
    return true;
}

// `text` equals `lower` (already lower-case) ignoring ASCII case.
constexpr bool iequals_lower(std::string_view text, std::string_view lower) noexcept {
    if (text.size() != lower.size()) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (ascii_lower(text[i]) != lower[i]) return false;
    }
    return true;
}

}  // namespace zenws::detail
