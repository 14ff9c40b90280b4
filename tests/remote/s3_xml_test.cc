// S3 XML documents: build/parse round trips, entity handling, documents from real servers, and
// hostile input (truncation at every byte, deep nesting, bad entities) never crashing.
#include "fs/remote/s3/xml.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace shardfs::remote::s3 {
namespace {

ListObjectsResult SampleListing(bool url) {
  ListObjectsResult r;
  r.bucket = "b";
  r.prefix = "dir/<&>\"'";
  r.delimiter = "/";
  r.start_after = "a";
  r.continuation_token = "tok1";
  r.next_continuation_token = "tok2";
  r.max_keys = 2;
  r.is_truncated = true;
  r.url_encoding = url;
  r.contents = {{"dir/a & b.txt", 12, "\"abc\"", "2024-05-01T12:00:00.000Z"},
                {"dir/\xE1\x88\xB4+%", 0, "\"def\"", "2024-05-01T12:00:01.000Z"}};
  r.common_prefixes = {"dir/sub/"};
  return r;
}

void ExpectSame(const ListObjectsResult& a, const ListObjectsResult& b) {
  EXPECT_EQ(a.bucket, b.bucket);
  EXPECT_EQ(a.prefix, b.prefix);
  EXPECT_EQ(a.delimiter, b.delimiter);
  EXPECT_EQ(a.start_after, b.start_after);
  EXPECT_EQ(a.continuation_token, b.continuation_token);
  EXPECT_EQ(a.next_continuation_token, b.next_continuation_token);
  EXPECT_EQ(a.max_keys, b.max_keys);
  EXPECT_EQ(a.is_truncated, b.is_truncated);
  ASSERT_EQ(a.contents.size(), b.contents.size());
  for (size_t i = 0; i < a.contents.size(); ++i) {
    EXPECT_EQ(a.contents[i].key, b.contents[i].key);
    EXPECT_EQ(a.contents[i].size, b.contents[i].size);
    EXPECT_EQ(a.contents[i].etag, b.contents[i].etag);
    EXPECT_EQ(a.contents[i].last_modified, b.contents[i].last_modified);
  }
  EXPECT_EQ(a.common_prefixes, b.common_prefixes);
}

TEST(S3Xml, ListObjectsRoundTrip) {
  for (bool url : {false, true}) {
    ListObjectsResult in = SampleListing(url);
    std::string xml = BuildListObjectsV2(in);
    auto out = ParseListObjectsV2(xml);
    ASSERT_TRUE(out.ok()) << out.error().message;
    ExpectSame(in, *out);
    EXPECT_EQ(out->url_encoding, url);
  }
  EXPECT_NE(BuildListObjectsV2(SampleListing(false)).find("a &amp; b.txt"), std::string::npos);
  EXPECT_NE(BuildListObjectsV2(SampleListing(true)).find("a%20%26%20b.txt"), std::string::npos);
}

TEST(S3Xml, ParsesARealServersListing) {
  // Shaped like AWS/RGW output: namespace, Owner, whitespace, a character reference, CDATA.
  const char* xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name><Prefix/><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys>
  <IsTruncated>false</IsTruncated>
  <!-- a comment -->
  <Contents>
    <Key>caf&#xE9;&#233;<![CDATA[<raw>]]></Key>
    <LastModified>2009-10-12T17:50:30.000Z</LastModified>
    <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>
    <Size>434234</Size>
    <StorageClass>STANDARD</StorageClass>
    <Owner><ID>x</ID></Owner>
  </Contents>
</ListBucketResult>)";
  auto r = ParseListObjectsV2(xml);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->contents.size(), 1u);
  EXPECT_EQ(r->contents[0].key, "caf\xC3\xA9\xC3\xA9<raw>");
  EXPECT_EQ(r->contents[0].etag, "\"fba9dede5f27731c9771645a39863328\"");
  EXPECT_EQ(r->contents[0].size, 434234u);
  EXPECT_FALSE(r->is_truncated);
}

TEST(S3Xml, ErrorAndBucketsRoundTrip) {
  ErrorDocument e{"NoSuchKey", "The key <x> & \"y\" does not exist", "/b/k", "req-1"};
  auto parsed = ParseError(BuildError(e));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->code, e.code);
  EXPECT_EQ(parsed->message, e.message);
  EXPECT_EQ(parsed->resource, e.resource);
  EXPECT_EQ(parsed->request_id, e.request_id);
  auto buckets = ParseListBuckets(BuildListBuckets(
      "me", {{"a", "2024-01-01T00:00:00.000Z"}, {"b&c", "2024-01-02T00:00:00.000Z"}}));
  ASSERT_TRUE(buckets.ok());
  ASSERT_EQ(buckets->size(), 2u);
  EXPECT_EQ((*buckets)[1].name, "b&c");
}

TEST(S3Xml, EntityEdgeCases) {
  EXPECT_EQ(XmlEscape("<a href='x'>&\"</a>"), "&lt;a href=&apos;x&apos;&gt;&amp;&quot;&lt;/a&gt;");
  EXPECT_EQ(*XmlUnescape("&lt;&amp;lt;&gt;"), "<&lt;>");
  EXPECT_EQ(*XmlUnescape("&#x1F600;"), "\xF0\x9F\x98\x80");
  for (const char* bad : {"&", "&amp", "&unknown;", "&#;", "&#x;", "&#0;", "&#xD800;", "&#x110000;",
                          "&#99999999999999;", "&#-1;", "&#x-1;"}) {
    EXPECT_FALSE(XmlUnescape(bad).ok()) << bad;
  }
}

TEST(S3Xml, RejectsMalformedDocuments) {
  for (const char* bad :
       {"", "<", "<Error>", "<Error></Err>", "<Error><Code>x</Code>", "<Error/><Error/>",
        "<!DOCTYPE x [<!ENTITY a 'b'>]><Error><Code>&a;</Code></Error>", "<Error a=\"></Error>",
        "<Error><Code>x</Code></Error>trailing", "<Other><Code>x</Code></Other>",
        "<Error><Message>no code</Message></Error>"}) {
    EXPECT_FALSE(ParseError(bad).ok()) << bad;
  }
  EXPECT_FALSE(ParseListObjectsV2("<ListBucketResult><IsTruncated>maybe</IsTruncated>"
                                  "</ListBucketResult>")
                   .ok());
  EXPECT_FALSE(ParseListObjectsV2("<ListBucketResult><IsTruncated>false</IsTruncated><Contents>"
                                  "<Key>k</Key><Size>-1</Size></Contents></ListBucketResult>")
                   .ok());
}

TEST(S3Xml, DeepNestingIsRefused) {
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "<a>";
  EXPECT_FALSE(ParseError(deep).ok());
}

TEST(S3Xml, EveryTruncationAndRandomCorruptionIsSafe) {
  std::string xml = BuildListObjectsV2(SampleListing(true));
  for (size_t n = 0; n < xml.size(); ++n) (void)ParseListObjectsV2(xml.substr(0, n));
  std::mt19937 rng(12345);
  for (int i = 0; i < 5000; ++i) {
    std::string m = xml;
    for (int j = 0; j < 4; ++j) m[rng() % m.size()] = static_cast<char>(rng() % 256);
    (void)ParseListObjectsV2(m);
    (void)ParseError(m);
  }
  SUCCEED();
}

}  // namespace
}  // namespace shardfs::remote::s3
