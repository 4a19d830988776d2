// The one place that maps error codes to HTTP statuses, and the JSON shapes every endpoint
// answers with: {"error": {"code": "...", "message": "..."}}.
#pragma once

#include <string>
#include <string_view>

#include "plugin/core/error.h"

namespace httplib {
struct Response;
}

namespace afterglow {

int http_status(ErrorCode code);
// Sets status, JSON error body and content type.
void reply_error(httplib::Response& res, const Error& error);
void reply_error(httplib::Response& res, ErrorCode code, std::string_view message);
// Sets status 200 (or `status`) with a JSON body.
void reply_json(httplib::Response& res, std::string body, int status = 200);

}  // namespace afterglow
