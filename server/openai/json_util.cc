#include "server/openai/json_util.h"

#include <cstddef>
#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/openai/errors.h"

namespace surge::server::openai {
namespace {

// nlohmann's message without its "[json.exception...] " prefix and without
// the "; last read: '...'" echo of the input (which may hold invalid UTF-8 or
// a megabyte of text); printable ASCII only, bounded length.
std::string CleanParseMessage(std::string_view what) {
  if (what.starts_with("[json.exception.")) {
    const size_t close = what.find("] ");
    if (close != what.npos) what.remove_prefix(close + 2);
  }
  std::string msg(what.substr(0, what.find("; last read: '")));
  const size_t last_read = what.find("; last read: '");
  if (last_read != what.npos) {
    const size_t expected = what.rfind("'; expected ");
    if (expected != what.npos && expected > last_read) msg += what.substr(expected + 1);
  }
  if (msg.size() > 200) msg = msg.substr(0, 200) + "...";
  for (char& c : msg) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F) c = '?';
  }
  return msg;
}

// Forwards SAX events to nlohmann's own DOM builder, but stops at
// kMaxJsonDepth and keeps the parse error's message instead of throwing.
class BoundedDomBuilder {
 public:
  using number_integer_t = JsonIn::number_integer_t;
  using number_unsigned_t = JsonIn::number_unsigned_t;
  using number_float_t = JsonIn::number_float_t;
  using string_t = JsonIn::string_t;
  using binary_t = JsonIn::binary_t;

  explicit BoundedDomBuilder(JsonIn& root) : dom_(root, /*allow_exceptions_=*/false) {}

  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(number_float_t v, const string_t& s) { return dom_.number_float(v, s); }
  bool string(string_t& v) { return dom_.string(v); }
  bool binary(binary_t& v) { return dom_.binary(v); }
  bool start_object(std::size_t n) { return Enter() && dom_.start_object(n); }
  bool key(string_t& k) { return dom_.key(k); }
  bool end_object() {
    --depth_;
    return dom_.end_object();
  }
  bool start_array(std::size_t n) { return Enter() && dom_.start_array(n); }
  bool end_array() {
    --depth_;
    return dom_.end_array();
  }
  template <class Exception>
  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const Exception& ex) {
    error_ = CleanParseMessage(ex.what());
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  bool Enter() {
    if (++depth_ <= kMaxJsonDepth) return true;
    error_ = absl::StrCat("nested deeper than ", kMaxJsonDepth, " levels");
    return false;
  }

  nlohmann::detail::json_sax_dom_parser<JsonIn> dom_;
  int depth_ = 0;
  std::string error_;
};

absl::Status InvalidJson(std::string_view why) {
  return WithErrorCode(absl::InvalidArgumentError(absl::StrCat("invalid JSON: ", std::string(why))),
                       "invalid_json");
}

}  // namespace

absl::StatusOr<JsonIn> ParseJsonObject(std::string_view body) {
  JsonIn root;
  std::string error;
  try {
    BoundedDomBuilder builder(root);
    const bool ok = JsonIn::sax_parse(body.begin(), body.end(), &builder);
    if (!ok) error = builder.error().empty() ? "malformed document" : builder.error();
  } catch (const std::exception& e) {  // allocation failure and the like
    error = CleanParseMessage(e.what());
  }
  if (!error.empty()) return InvalidJson(error);
  if (!root.is_object()) {
    return InvalidJson(
        absl::StrCat("the body must be a JSON object, not ", std::string(JsonTypeName(root))));
  }
  return root;
}

std::string DumpJson(const Json& value) {
  try {
    return value.dump(-1, ' ', false, Json::error_handler_t::replace);
  } catch (const std::exception&) {
    return R"({"error":{"message":"internal error: the response could not be encoded",)"
           R"("type":"server_error","param":null,"code":"internal_error"}})";
  }
}

std::string_view JsonTypeName(const JsonIn& value) {
  switch (value.type()) {
    case JsonIn::value_t::null:
      return "null";
    case JsonIn::value_t::object:
      return "an object";
    case JsonIn::value_t::array:
      return "an array";
    case JsonIn::value_t::string:
      return "a string";
    case JsonIn::value_t::boolean:
      return "a boolean";
    case JsonIn::value_t::number_integer:
    case JsonIn::value_t::number_unsigned:
    case JsonIn::value_t::number_float:
      return "a number";
    default:
      return "an unsupported value";
  }
}

}  // namespace surge::server::openai
