#include "fs/remote/s3/xml.h"

#include <charconv>
#include <utility>

#include "fs/remote/s3/sigv4.h"

namespace shardfs::remote::s3 {
namespace {

using util::Errc;
using util::Error;
using util::MakeError;
using util::Result;
using util::Status;

constexpr std::string_view kXmlHeader = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
constexpr std::string_view kS3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/";

// ---- A small bounded DOM parser: enough for S3's documents, nothing more. ----

struct Element {
  std::string name;  // local name (any "prefix:" dropped)
  std::string text;  // the element's character data, unescaped
  std::vector<Element> children;

  const Element* Child(std::string_view n) const {
    for (const Element& c : children) {
      if (c.name == n) return &c;
    }
    return nullptr;
  }
  std::string ChildText(std::string_view n) const {
    const Element* c = Child(n);
    return c == nullptr ? std::string() : c->text;
  }
};

Error Corrupt(std::string_view what) {
  return MakeError(Errc::kCorrupt, "malformed XML document: " + std::string(what));
}

bool IsXmlSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

class Parser {
 public:
  explicit Parser(std::string_view in) : in_(in) {}

  Result<Element> ParseDocument() {
    if (in_.size() > kMaxXmlBytes) return Corrupt("too large");
    SHARDFS_TRY(SkipMisc());
    Element root;
    SHARDFS_TRY(ParseElement(&root, 1));
    SHARDFS_TRY(SkipMisc());
    if (pos_ != in_.size()) return Corrupt("content after the root element");
    return root;
  }

 private:
  bool StartsWith(std::string_view s) const { return in_.substr(pos_, s.size()) == s; }

  // Moves past the next occurrence of end; false if there is none.
  bool SkipPast(std::string_view end) {
    size_t at = in_.find(end, pos_);
    if (at == std::string_view::npos) return false;
    pos_ = at + end.size();
    return true;
  }

  // Whitespace, comments and processing instructions between elements. No DTDs: they would
  // bring entity definitions, which S3 never sends.
  Status SkipMisc() {
    while (pos_ < in_.size()) {
      if (IsXmlSpace(in_[pos_])) {
        ++pos_;
      } else if (StartsWith("<?")) {
        if (!SkipPast("?>")) return Corrupt("unterminated processing instruction");
      } else if (StartsWith("<!--")) {
        if (!SkipPast("-->")) return Corrupt("unterminated comment");
      } else if (StartsWith("<!")) {
        return Corrupt("DTDs are not accepted");
      } else {
        break;
      }
    }
    return util::Ok();
  }

  Result<std::string> ParseName() {
    size_t start = pos_;
    while (pos_ < in_.size() && !IsXmlSpace(in_[pos_]) && in_[pos_] != '>' && in_[pos_] != '/' &&
           in_[pos_] != '<' && in_[pos_] != '=') {
      ++pos_;
    }
    if (pos_ == start) return Corrupt("empty element name");
    std::string_view name = in_.substr(start, pos_ - start);
    size_t colon = name.rfind(':');
    if (colon != std::string_view::npos) name.remove_prefix(colon + 1);
    return std::string(name);
  }

  // Skips attributes up to '>' or "/>"; returns true for an empty element.
  Result<bool> SkipAttributes() {
    while (pos_ < in_.size()) {
      char c = in_[pos_];
      if (c == '>') {
        ++pos_;
        return false;
      }
      if (c == '/' && StartsWith("/>")) {
        pos_ += 2;
        return true;
      }
      if (c == '"' || c == '\'') {
        size_t close = in_.find(c, pos_ + 1);
        if (close == std::string_view::npos) return Corrupt("unterminated attribute value");
        pos_ = close + 1;
      } else if (c == '<') {
        return Corrupt("'<' inside a tag");
      } else {
        ++pos_;
      }
    }
    return Corrupt("unterminated tag");
  }

  Status ParseElement(Element* out, int depth) {
    if (depth > kMaxXmlDepth) return Corrupt("nested too deeply");
    if (++elements_ > kMaxXmlElements) return Corrupt("too many elements");
    if (!StartsWith("<")) return Corrupt("expected an element");
    ++pos_;
    SHARDFS_ASSIGN_OR_RETURN(out->name, ParseName());
    SHARDFS_ASSIGN_OR_RETURN(bool empty, SkipAttributes());
    if (empty) return util::Ok();
    while (true) {
      if (pos_ >= in_.size()) return Corrupt("unterminated element <" + out->name + ">");
      if (StartsWith("</")) {
        pos_ += 2;
        SHARDFS_ASSIGN_OR_RETURN(std::string name, ParseName());
        while (pos_ < in_.size() && IsXmlSpace(in_[pos_])) ++pos_;
        if (name != out->name || pos_ >= in_.size() || in_[pos_] != '>') {
          return Corrupt("mismatched end tag for <" + out->name + ">");
        }
        ++pos_;
        return util::Ok();
      }
      if (StartsWith("<!--")) {
        if (!SkipPast("-->")) return Corrupt("unterminated comment");
      } else if (StartsWith("<![CDATA[")) {
        size_t start = pos_ + 9;
        if (!SkipPast("]]>")) return Corrupt("unterminated CDATA");
        out->text.append(in_.substr(start, pos_ - 3 - start));
      } else if (StartsWith("<?")) {
        if (!SkipPast("?>")) return Corrupt("unterminated processing instruction");
      } else if (StartsWith("<!")) {
        return Corrupt("unexpected declaration inside an element");
      } else if (in_[pos_] == '<') {
        out->children.emplace_back();
        SHARDFS_TRY(ParseElement(&out->children.back(), depth + 1));
      } else {
        size_t end = in_.find('<', pos_);
        if (end == std::string_view::npos) end = in_.size();
        SHARDFS_ASSIGN_OR_RETURN(std::string text, XmlUnescape(in_.substr(pos_, end - pos_)));
        out->text.append(text);
        pos_ = end;
      }
    }
  }

  std::string_view in_;
  size_t pos_ = 0;
  size_t elements_ = 0;
};

Result<Element> ParseRoot(std::string_view xml, std::string_view root_name) {
  SHARDFS_ASSIGN_OR_RETURN(Element root, Parser(xml).ParseDocument());
  if (root.name != root_name) {
    return Corrupt("the root element is <" + root.name.substr(0, 64) + ">, expected <" +
                   std::string(root_name) + ">");
  }
  return root;
}

Result<uint64_t> ParseU64(std::string_view s, std::string_view what) {
  while (!s.empty() && IsXmlSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsXmlSpace(s.back())) s.remove_suffix(1);
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
    return Corrupt(std::string(what) + " is not a number");
  }
  return v;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

void AppendElement(std::string& out, std::string_view name, std::string_view text) {
  out.append("<").append(name).append(">");
  out.append(XmlEscape(text));
  out.append("</").append(name).append(">");
}

std::string MaybeUrlEncode(std::string_view s, bool url) {
  return url ? UriEncode(s, false) : std::string(s);
}

Result<std::string> MaybeUrlDecode(std::string s, bool url) {
  if (!url) return s;
  Result<std::string> d = UriDecode(s, true);
  if (!d.ok()) return Corrupt("a url-encoded name has a bad escape");
  return d;
}

}  // namespace

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out.append("&amp;");
        break;
      case '<':
        out.append("&lt;");
        break;
      case '>':
        out.append("&gt;");
        break;
      case '"':
        out.append("&quot;");
        break;
      case '\'':
        out.append("&apos;");
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

Result<std::string> XmlUnescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t amp = text.find('&', pos);
    if (amp == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    out.append(text.substr(pos, amp - pos));
    size_t semi = text.find(';', amp);
    if (semi == std::string_view::npos || semi - amp > 12) return Corrupt("unterminated entity");
    std::string_view ent = text.substr(amp + 1, semi - amp - 1);
    if (ent == "amp") {
      out.push_back('&');
    } else if (ent == "lt") {
      out.push_back('<');
    } else if (ent == "gt") {
      out.push_back('>');
    } else if (ent == "quot") {
      out.push_back('"');
    } else if (ent == "apos") {
      out.push_back('\'');
    } else if (ent.size() >= 2 && ent[0] == '#') {
      bool hex = ent[1] == 'x' || ent[1] == 'X';
      std::string_view digits = ent.substr(hex ? 2 : 1);
      uint32_t cp = 0;
      auto [ptr, ec] =
          std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
      if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() || cp == 0 ||
          cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return Corrupt("bad character reference");
      }
      AppendUtf8(out, cp);
    } else {
      return Corrupt("unknown entity");
    }
    pos = semi + 1;
  }
  return out;
}

std::string BuildListObjectsV2(const ListObjectsResult& r) {
  const bool url = r.url_encoding;
  std::string out(kXmlHeader);
  out.append("<ListBucketResult xmlns=\"").append(kS3Namespace).append("\">");
  AppendElement(out, "Name", r.bucket);
  AppendElement(out, "Prefix", MaybeUrlEncode(r.prefix, url));
  if (!r.delimiter.empty()) AppendElement(out, "Delimiter", MaybeUrlEncode(r.delimiter, url));
  if (r.v1) {
    AppendElement(out, "Marker", MaybeUrlEncode(r.marker, url));
    if (r.is_truncated) AppendElement(out, "NextMarker", MaybeUrlEncode(r.next_marker, url));
  } else {
    if (!r.start_after.empty()) {
      AppendElement(out, "StartAfter", MaybeUrlEncode(r.start_after, url));
    }
    if (!r.continuation_token.empty()) {
      AppendElement(out, "ContinuationToken", r.continuation_token);
    }
    if (r.is_truncated) AppendElement(out, "NextContinuationToken", r.next_continuation_token);
    AppendElement(out, "KeyCount", std::to_string(r.contents.size() + r.common_prefixes.size()));
  }
  if (url) AppendElement(out, "EncodingType", "url");
  AppendElement(out, "MaxKeys", std::to_string(r.max_keys));
  AppendElement(out, "IsTruncated", r.is_truncated ? "true" : "false");
  for (const ObjectEntry& e : r.contents) {
    out.append("<Contents>");
    AppendElement(out, "Key", MaybeUrlEncode(e.key, url));
    AppendElement(out, "LastModified", e.last_modified);
    AppendElement(out, "ETag", e.etag);
    AppendElement(out, "Size", std::to_string(e.size));
    AppendElement(out, "StorageClass", "STANDARD");
    out.append("</Contents>");
  }
  for (const std::string& p : r.common_prefixes) {
    out.append("<CommonPrefixes>");
    AppendElement(out, "Prefix", MaybeUrlEncode(p, url));
    out.append("</CommonPrefixes>");
  }
  out.append("</ListBucketResult>");
  return out;
}

Result<ListObjectsResult> ParseListObjectsV2(std::string_view xml) {
  SHARDFS_ASSIGN_OR_RETURN(Element root, ParseRoot(xml, "ListBucketResult"));
  ListObjectsResult r;
  r.url_encoding = root.ChildText("EncodingType") == "url";
  const bool url = r.url_encoding;
  r.bucket = root.ChildText("Name");
  SHARDFS_ASSIGN_OR_RETURN(r.prefix, MaybeUrlDecode(root.ChildText("Prefix"), url));
  SHARDFS_ASSIGN_OR_RETURN(r.delimiter, MaybeUrlDecode(root.ChildText("Delimiter"), url));
  SHARDFS_ASSIGN_OR_RETURN(r.start_after, MaybeUrlDecode(root.ChildText("StartAfter"), url));
  r.continuation_token = root.ChildText("ContinuationToken");
  r.next_continuation_token = root.ChildText("NextContinuationToken");
  r.v1 = root.Child("Marker") != nullptr && root.Child("KeyCount") == nullptr;
  SHARDFS_ASSIGN_OR_RETURN(r.marker, MaybeUrlDecode(root.ChildText("Marker"), url));
  SHARDFS_ASSIGN_OR_RETURN(r.next_marker, MaybeUrlDecode(root.ChildText("NextMarker"), url));
  if (root.Child("MaxKeys") != nullptr) {
    SHARDFS_ASSIGN_OR_RETURN(r.max_keys, ParseU64(root.ChildText("MaxKeys"), "MaxKeys"));
  }
  std::string truncated = root.ChildText("IsTruncated");
  if (truncated != "true" && truncated != "false") return Corrupt("IsTruncated is not a boolean");
  r.is_truncated = truncated == "true";
  if (r.is_truncated && !r.v1 && r.next_continuation_token.empty()) {
    return Corrupt("a truncated listing without NextContinuationToken");
  }
  for (const Element& c : root.children) {
    if (c.name == "Contents") {
      ObjectEntry e;
      if (c.Child("Key") == nullptr) return Corrupt("Contents without a Key");
      SHARDFS_ASSIGN_OR_RETURN(e.key, MaybeUrlDecode(c.ChildText("Key"), url));
      SHARDFS_ASSIGN_OR_RETURN(e.size, ParseU64(c.ChildText("Size"), "Size"));
      e.etag = c.ChildText("ETag");
      e.last_modified = c.ChildText("LastModified");
      r.contents.push_back(std::move(e));
    } else if (c.name == "CommonPrefixes") {
      SHARDFS_ASSIGN_OR_RETURN(std::string p, MaybeUrlDecode(c.ChildText("Prefix"), url));
      r.common_prefixes.push_back(std::move(p));
    }
  }
  return r;
}

std::string BuildListBuckets(std::string_view owner_id, const std::vector<BucketEntry>& buckets) {
  std::string out(kXmlHeader);
  out.append("<ListAllMyBucketsResult xmlns=\"").append(kS3Namespace).append("\">");
  out.append("<Owner>");
  AppendElement(out, "ID", owner_id);
  AppendElement(out, "DisplayName", owner_id);
  out.append("</Owner><Buckets>");
  for (const BucketEntry& b : buckets) {
    out.append("<Bucket>");
    AppendElement(out, "Name", b.name);
    AppendElement(out, "CreationDate", b.creation_date);
    out.append("</Bucket>");
  }
  out.append("</Buckets></ListAllMyBucketsResult>");
  return out;
}

Result<std::vector<BucketEntry>> ParseListBuckets(std::string_view xml) {
  SHARDFS_ASSIGN_OR_RETURN(Element root, ParseRoot(xml, "ListAllMyBucketsResult"));
  std::vector<BucketEntry> out;
  const Element* buckets = root.Child("Buckets");
  if (buckets == nullptr) return out;
  for (const Element& b : buckets->children) {
    if (b.name != "Bucket") continue;
    if (b.Child("Name") == nullptr) return Corrupt("Bucket without a Name");
    out.push_back({b.ChildText("Name"), b.ChildText("CreationDate")});
  }
  return out;
}

std::string BuildError(const ErrorDocument& e) {
  std::string out(kXmlHeader);
  out.append("<Error>");
  AppendElement(out, "Code", e.code);
  AppendElement(out, "Message", e.message);
  if (!e.resource.empty()) AppendElement(out, "Resource", e.resource);
  if (!e.request_id.empty()) AppendElement(out, "RequestId", e.request_id);
  out.append("</Error>");
  return out;
}

Result<ErrorDocument> ParseError(std::string_view xml) {
  SHARDFS_ASSIGN_OR_RETURN(Element root, ParseRoot(xml, "Error"));
  ErrorDocument e{root.ChildText("Code"), root.ChildText("Message"), root.ChildText("Resource"),
                  root.ChildText("RequestId")};
  if (e.code.empty()) return Corrupt("Error without a Code");
  return e;
}

}  // namespace shardfs::remote::s3
