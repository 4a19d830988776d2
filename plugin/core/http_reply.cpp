#include "plugin/core/http_reply.h"

#include <httplib.h>

#include "plugin/core/log.h"

namespace afterglow {

int http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kUnauthenticated: return 401;
    case ErrorCode::kForbidden: return 403;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kPayloadTooLarge: return 413;
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

void reply_error(httplib::Response& res, const Error& error) {
  std::string body = "{\"error\":{\"code\":\"";
  body += error_code_name(error.code);
  body += "\",\"message\":";
  log::append_json_string(body, error.message);
  body += "}}";
  res.status = http_status(error.code);
  res.set_content(body, "application/json");
}

void reply_error(httplib::Response& res, ErrorCode code, std::string_view message) {
  reply_error(res, Error{code, std::string(message)});
}

void reply_json(httplib::Response& res, std::string body, int status) {
  res.status = status;
  res.set_content(std::move(body), "application/json");
}

}  // namespace afterglow
