// exception_error.hpp — owns exception_error() (internal): the Error for the exception being handled, for the
// supervisors' catch blocks around user callbacks. Call it only inside a catch block.
#pragma once

#include <exception>
#include <string>

#include "zenws/error.hpp"

namespace zenws::detail {

inline Error exception_error(const char* where) {
    try {
        throw;
    } catch (const std::exception& ex) {
        return Error(Errc::handler_exception, std::string(where) + " threw: " + ex.what());
    } catch (...) {
        return Error(Errc::handler_exception, std::string(where) + " threw a non-std exception");
    }
}

}  // namespace zenws::detail
