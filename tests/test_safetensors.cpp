// Tests of the safetensors reader/writer (engine/safetensors.h): round trips through the writer,
// and one test per malformed-file case, each building the bad bytes in memory and checking that
// the FormatError names the problem.
#include "engine/safetensors.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <initializer_list>
#include <optional>
#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace fs = std::filesystem;
using aha::DType;
using aha::FormatError;
using aha::IoError;
using aha::SafetensorsFile;
using aha::TensorToWrite;

namespace {

// [u64 LE length][header][data]; `len` overrides the length field to build lying files.
std::vector<uint8_t> make_file(const std::string& header, const std::vector<uint8_t>& data = {},
                               std::optional<uint64_t> len = std::nullopt) {
  const uint64_t n = len.value_or(header.size());
  std::vector<uint8_t> out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(n >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::vector<uint8_t> zeros(size_t n) { return std::vector<uint8_t>(n, 0); }

// Parses `bytes` expecting a FormatError whose message starts with the origin and contains
// every one of `words`.
void expect_format_error(std::vector<uint8_t> bytes, std::initializer_list<const char*> words) {
  try {
    SafetensorsFile::parse(std::move(bytes), "bad.safetensors");
    ADD_FAILURE() << "parse accepted a malformed file";
  } catch (const FormatError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("bad.safetensors: ", 0), 0u) << msg;
    for (const char* w : words) EXPECT_NE(msg.find(w), std::string::npos) << "'" << w << "' not in: " << msg;
  }
}

// A one-tensor header with the given entry body.
std::string one(const std::string& entry) { return R"({"w":)" + entry + "}"; }

class SafetensorsIo : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("aha_st_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add);
    fs::remove_all(dir_);
  }
  // Files in dir_ other than the expected ones: a failed write must leave no temporary behind.
  std::vector<std::string> listing() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  static std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  fs::path dir_;
};

}  // namespace

// ---- round trips ----

TEST(Safetensors, DtypeNamesAndSizes) {
  EXPECT_STREQ(aha::dtype_name(DType::BF16), "BF16");
  EXPECT_STREQ(aha::dtype_name(DType::F8_E5M2), "F8_E5M2");
  EXPECT_EQ(aha::dtype_size(DType::F64), 8u);
  EXPECT_EQ(aha::dtype_size(DType::F16), 2u);
  EXPECT_EQ(aha::dtype_size(DType::BOOL), 1u);
}

TEST_F(SafetensorsIo, RoundTripSeveralDtypesAndShapes) {
  const std::vector<float> f32 = {1.5f, -2.f, 3.25f, 0.f, 1e-30f, 7.f};
  const std::vector<uint16_t> bf16 = {0x3f80, 0xc000, 0x7f80, 0x0001};
  const int64_t scalar = -1234567890123LL;
  const std::vector<double> f64 = {3.141592653589793};
  const std::vector<uint8_t> flags = {1, 0, 1};
  const std::vector<int8_t> i8 = {-1, 2, -3};
  const fs::path p = dir_ / "m.safetensors";
  aha::write_safetensors(p.string(), {
      {"layer.weight", DType::F32, {2, 3}, f32.data()},
      {"emb", DType::BF16, {4}, bf16.data()},
      {"step", DType::I64, {}, &scalar},             // a scalar: shape [], one element
      {"empty", DType::U8, {0}, nullptr},             // zero-sized tensors need no data
      {"empty2d", DType::F16, {3, 0}, nullptr},
      {"pi", DType::F64, {1, 1, 1}, f64.data()},
      {"flags", DType::BOOL, {3}, flags.data()},
      {"i8", DType::I8, {3}, i8.data()},
  });
  const SafetensorsFile f = SafetensorsFile::read(p.string());
  EXPECT_EQ(f.origin(), p.string());
  EXPECT_EQ(f.names(), (std::vector<std::string>{"emb", "empty", "empty2d", "flags", "i8", "layer.weight", "pi", "step"}));
  EXPECT_EQ(f.get_f32("layer.weight", {2, 3}), f32);

  const auto& e = f.get("emb");
  EXPECT_EQ(e.dtype, DType::BF16);
  EXPECT_EQ(e.shape, (std::vector<int64_t>{4}));
  ASSERT_EQ(e.nbytes, 8u);
  EXPECT_EQ(std::memcmp(e.data, bf16.data(), 8), 0);

  const auto& s = f.get("step");
  EXPECT_TRUE(s.shape.empty());
  EXPECT_EQ(s.numel(), 1);
  int64_t back = 0;
  ASSERT_EQ(s.nbytes, sizeof back);
  std::memcpy(&back, s.data, sizeof back);
  EXPECT_EQ(back, scalar);

  EXPECT_EQ(f.get("empty").nbytes, 0u);
  EXPECT_EQ(f.get("empty").numel(), 0);
  EXPECT_EQ(f.get("empty2d").shape, (std::vector<int64_t>{3, 0}));
  EXPECT_EQ(f.get("empty2d").dtype, DType::F16);
  double pi = 0;
  std::memcpy(&pi, f.get("pi").data, 8);
  EXPECT_EQ(pi, f64[0]);
  EXPECT_EQ(std::memcmp(f.get("flags").data, flags.data(), 3), 0);
  EXPECT_EQ(f.get("i8").dtype, DType::I8);
  EXPECT_TRUE(f.metadata().empty());
  EXPECT_EQ(listing(), std::vector<std::string>{"m.safetensors"});  // no temporary left behind
}

TEST_F(SafetensorsIo, MetadataRoundTrip) {
  const fs::path p = dir_ / "meta.safetensors";
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"step", "42"}, {"note", "ünïcode \"quoted\""}};
  const float x = 2.f;
  aha::write_safetensors(p.string(), {{"x", DType::F32, {1}, &x}}, meta);
  const auto f = SafetensorsFile::read(p.string());
  EXPECT_EQ(f.metadata(), meta);
  EXPECT_EQ(f.names(), std::vector<std::string>{"x"});  // __metadata__ is not a tensor
}

TEST_F(SafetensorsIo, WrittenLayoutIsSortedContiguousAndAligned) {
  const fs::path p = dir_ / "layout.safetensors";
  const std::vector<float> a(3, 1.f), b(5, 2.f);
  const uint16_t c = 7;
  aha::write_safetensors(p.string(), {{"b", DType::F32, {5}, b.data()}, {"c", DType::F16, {}, &c}, {"a", DType::F32, {3}, a.data()}});
  const std::string raw = slurp(p);
  ASSERT_GE(raw.size(), 8u);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(raw[i])) << (8 * i);
  EXPECT_EQ(n % 8, 0u) << "header padded to a multiple of 8";
  const std::string header = raw.substr(8, n);
  EXPECT_LT(header.find("\"a\""), header.find("\"b\""));  // keys sorted
  EXPECT_LT(header.find("\"b\""), header.find("\"c\""));
  const auto j = nlohmann::json::parse(header);
  EXPECT_EQ(j["a"]["data_offsets"], nlohmann::json({0, 12}));
  EXPECT_EQ(j["b"]["data_offsets"], nlohmann::json({12, 32}));
  EXPECT_EQ(j["c"]["data_offsets"], nlohmann::json({32, 34}));
  EXPECT_EQ(raw.size(), 8 + n + 34);
}

TEST_F(SafetensorsIo, OverwritesExistingFile) {
  const fs::path p = dir_ / "w.safetensors";
  const float one_f = 1.f, two_f = 2.f;
  aha::write_safetensors(p.string(), {{"x", DType::F32, {1}, &one_f}});
  aha::write_safetensors(p.string(), {{"y", DType::F32, {1}, &two_f}});
  const auto f = SafetensorsFile::read(p.string());
  EXPECT_EQ(f.get_f32("y", {1}), std::vector<float>{2.f});
  EXPECT_FALSE(f.has("x"));
}

TEST(Safetensors, ParsesInMemoryWithGapsAndUnalignedData) {
  // One byte of gap before "a" and between tensors, and a trailing byte: some writers align
  // or pad; the reader accepts gaps (never overlap). The F32 data is at an odd address.
  const float v[2] = {1.25f, -8.f};
  std::vector<uint8_t> data(1 + 8 + 1 + 1 + 1, 0xAB);
  std::memcpy(data.data() + 1, v, 8);
  data[10] = 5;
  const std::string h = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[1,9]},"b":{"dtype":"U8","shape":[1],"data_offsets":[10,11]}})";
  const auto f = SafetensorsFile::parse(make_file(h, data), "mem");
  EXPECT_EQ(f.get_f32("a", {2}), (std::vector<float>{1.25f, -8.f}));
  EXPECT_EQ(f.get("b").data[0], 5);
}

TEST(Safetensors, EmptyHeaderObjectIsAValidFileWithNoTensors) {
  const auto f = SafetensorsFile::parse(make_file("{}  "), "mem");
  EXPECT_TRUE(f.names().empty());
}

TEST(Safetensors, ViewsSurviveMovingTheFile) {
  const float v = 3.f;
  std::vector<uint8_t> d(4);
  std::memcpy(d.data(), &v, 4);
  auto f = SafetensorsFile::parse(make_file(one(R"({"dtype":"F32","shape":[],"data_offsets":[0,4]})"), d), "mem");
  SafetensorsFile g = std::move(f);
  EXPECT_EQ(g.get_f32("w", {}), std::vector<float>{3.f});
}

// ---- malformed files: one test per case ----

TEST(Safetensors, RejectsFileShorterThan8Bytes) {
  expect_format_error({1, 2, 3}, {"3 bytes", "shorter"});
  expect_format_error({}, {"0 bytes", "shorter"});
}

TEST(Safetensors, RejectsHeaderLengthPastEndOfFile) {
  expect_format_error(make_file("{}", {}, 100), {"header length 100", "past the end", "only 2 bytes"});
}

TEST(Safetensors, RejectsAbsurdHeaderLength) {
  expect_format_error(make_file("{}", {}, 200'000'000), {"header length 200000000", "absurd"});
  expect_format_error(make_file("{}", {}, UINT64_MAX), {"header length 18446744073709551615", "absurd"});
}

TEST(Safetensors, RejectsHeaderThatIsNotJson) {
  expect_format_error(make_file("{\"w\": "), {"not valid JSON"});
  expect_format_error(make_file(""), {"not valid JSON"});
  expect_format_error(make_file(std::string("{}\0\0", 4)), {"not valid JSON", "NUL"});  // NUL is not JSON whitespace
  expect_format_error(make_file("{}x"), {"not valid JSON"});  // trailing garbage
  expect_format_error(make_file("{\"\xff\":1}"), {"not valid JSON"});  // invalid UTF-8
}

TEST(Safetensors, RejectsHeaderThatIsNotAnObject) {
  expect_format_error(make_file("[1,2]"), {"must be a JSON object", "array"});
  expect_format_error(make_file("42"), {"must be a JSON object"});
}

TEST(Safetensors, RejectsDeeplyNestedHeader) {
  expect_format_error(make_file(std::string(1000, '[') + std::string(1000, ']')), {"nests deeper"});
}

TEST(Safetensors, RejectsTensorEntryThatIsNotAnObject) {
  expect_format_error(make_file(one("[1]")), {"tensor 'w'", "must be an object"});
}

TEST(Safetensors, RejectsTensorEntryWithMissingField) {
  expect_format_error(make_file(one(R"({"dtype":"F32","data_offsets":[0,0]})")), {"tensor 'w'", "missing field 'shape'"});
  expect_format_error(make_file(one(R"({"shape":[],"data_offsets":[0,0]})")), {"missing field 'dtype'"});
  expect_format_error(make_file(one(R"({"dtype":"F32","shape":[0]})")), {"missing field 'data_offsets'"});
}

TEST(Safetensors, RejectsTensorEntryWithExtraField) {
  expect_format_error(make_file(one(R"({"dtype":"F32","shape":[0],"data_offsets":[0,0],"strides":[1]})")),
                      {"tensor 'w'", "unexpected field 'strides'"});
}

TEST(Safetensors, RejectsUnknownDtype) {
  expect_format_error(make_file(one(R"({"dtype":"F128","shape":[0],"data_offsets":[0,0]})")), {"tensor 'w'", "unknown dtype 'F128'"});
  expect_format_error(make_file(one(R"({"dtype":"f32","shape":[0],"data_offsets":[0,0]})")), {"unknown dtype 'f32'"});
  expect_format_error(make_file(one(R"({"dtype":4,"shape":[0],"data_offsets":[0,0]})")), {"dtype must be a string"});
}

TEST(Safetensors, RejectsShapeThatIsNotAnArrayOfNonNegativeIntegers) {
  for (const char* shape : {R"("2")", "[-1]", "[1.5]", "[2e0]", R"(["2"])", "[[2]]", "null", "[9223372036854775808]"}) {
    SCOPED_TRACE(shape);
    expect_format_error(make_file(one(std::string(R"({"dtype":"U8","shape":)") + shape + R"(,"data_offsets":[0,2]})"), zeros(2)),
                        {"tensor 'w'", "shape", "non-negative integers"});
  }
}

TEST(Safetensors, RejectsNumelOverflow) {
  expect_format_error(make_file(one(R"({"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]})")),
                      {"tensor 'w'", "overflow"});
  // numel fits int64 but numel * 8 bytes does not fit 64 bits.
  expect_format_error(make_file(one(R"({"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,0]})")),
                      {"tensor 'w'", "overflow"});
}

TEST(Safetensors, RejectsDataOffsetsThatAreNotTwoIntegers) {
  for (const char* off : {"[0]", "[0,1,2]", "[-1,0]", "[0,1.0]", "\"0,1\"", "[0,18446744073709551616]"}) {
    SCOPED_TRACE(off);
    expect_format_error(make_file(one(std::string(R"({"dtype":"U8","shape":[1],"data_offsets":)") + off + "}"), zeros(2)),
                        {"tensor 'w'", "data_offsets must be two non-negative integers"});
  }
}

TEST(Safetensors, RejectsDataOffsetsBeginAfterEnd) {
  expect_format_error(make_file(one(R"({"dtype":"U8","shape":[1],"data_offsets":[2,1]})"), zeros(4)),
                      {"tensor 'w'", "begin 2 > end 1"});
}

TEST(Safetensors, RejectsOffsetsOutOfRange) {
  expect_format_error(make_file(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})"), zeros(4)),
                      {"tensor 'w'", "[0, 8)", "out of range", "4 bytes"});
  // Offsets near 2^64 must not wrap around in the checks.
  expect_format_error(make_file(one(R"({"dtype":"U8","shape":[1],"data_offsets":[18446744073709551614,18446744073709551615]})"), zeros(4)),
                      {"tensor 'w'", "out of range"});
}

TEST(Safetensors, RejectsDataSizeNotMatchingShape) {
  expect_format_error(make_file(one(R"({"dtype":"F32","shape":[2,3],"data_offsets":[0,20]})"), zeros(24)),
                      {"tensor 'w'", "size mismatch", "expects 24 bytes", "give 20 bytes"});
  // A scalar holds exactly one element.
  expect_format_error(make_file(one(R"({"dtype":"I32","shape":[],"data_offsets":[0,0]})"), zeros(4)),
                      {"tensor 'w'", "expects 4 bytes", "give 0 bytes"});
}

TEST(Safetensors, RejectsOverlappingTensors) {
  const std::string h = R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                        R"("b":{"dtype":"U8","shape":[4],"data_offsets":[6,10]}})";
  expect_format_error(make_file(h, zeros(10)), {"'a' [0, 8)", "'b' [6, 10)", "overlap"});
  // A tensor nested inside another one, listed first.
  const std::string h2 = R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[3,5]},)"
                         R"("z":{"dtype":"U8","shape":[10],"data_offsets":[0,10]}})";
  expect_format_error(make_file(h2, zeros(10)), {"'a'", "'z'", "overlap"});
}

TEST(Safetensors, EmptyTensorsDoNotOverlapAnything) {
  const std::string h = R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                        R"("e":{"dtype":"F32","shape":[0,4],"data_offsets":[4,4]}})";
  EXPECT_NO_THROW(SafetensorsFile::parse(make_file(h, zeros(8)), "mem"));
}

TEST(Safetensors, RejectsDuplicateTensorNames) {
  const std::string h = R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                        R"("w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})";
  expect_format_error(make_file(h, zeros(2)), {"duplicate tensor name 'w'"});
  expect_format_error(make_file(one(R"({"dtype":"U8","dtype":"U8","shape":[0],"data_offsets":[0,0]})")), {"duplicate key 'dtype'"});
}

TEST(Safetensors, RejectsMetadataThatIsNotAnObjectOfStrings) {
  expect_format_error(make_file(R"({"__metadata__":["a"]})"), {"__metadata__", "object of strings"});
  expect_format_error(make_file(R"({"__metadata__":{"step":42}})"), {"__metadata__", "'step'", "must be a string"});
}

// ---- lookups ----

TEST(Safetensors, GetOfMissingTensorNamesIt) {
  const auto f = SafetensorsFile::parse(make_file("{}"), "m.st");
  EXPECT_FALSE(f.has("nope"));
  try {
    f.get("nope");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_STREQ(e.what(), "m.st: missing tensor 'nope'");
  }
  EXPECT_THROW(f.get_f32("nope", {}), FormatError);
}

TEST(Safetensors, GetF32ChecksDtypeAndShape) {
  const auto f = SafetensorsFile::parse(make_file(one(R"({"dtype":"F32","shape":[2,2],"data_offsets":[0,16]})"), zeros(16)), "m.st");
  try {
    f.get_f32("w", {4});
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("'w' has shape [2, 2], expected [4]"), std::string::npos) << e.what();
  }
  const auto g = SafetensorsFile::parse(make_file(one(R"({"dtype":"BF16","shape":[2],"data_offsets":[0,4]})"), zeros(4)), "m.st");
  try {
    g.get_f32("w", {2});
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("'w' has dtype BF16, expected F32"), std::string::npos) << e.what();
  }
}

TEST(Safetensors, ExpectExactlyListsMissingAndUnexpectedNames) {
  const std::string h = R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},)"
                        R"("b":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},)"
                        R"("extra":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}})";
  const auto f = SafetensorsFile::parse(make_file(h), "m.st");
  EXPECT_NO_THROW(f.expect_exactly({"extra", "a", "b"}));
  try {
    f.expect_exactly({"a", "b", "c", "d"});
    FAIL();
  } catch (const FormatError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("m.st: "), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing 'c', 'd'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unexpected 'extra'"), std::string::npos) << msg;
  }
  try {
    f.expect_exactly({"a"});
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_EQ(std::string(e.what()).find("missing"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("unexpected 'b', 'extra'"), std::string::npos) << e.what();
  }
}

// ---- I/O failures ----

TEST_F(SafetensorsIo, ReadOfMissingFileIsIoError) {
  const std::string p = (dir_ / "absent.safetensors").string();
  try {
    SafetensorsFile::read(p);
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(std::strerror(ENOENT)), std::string::npos) << e.what();
  }
  EXPECT_THROW(SafetensorsFile::read(dir_.string()), IoError);  // a directory cannot be read
}

TEST_F(SafetensorsIo, ReadOfMalformedFileNamesThePath) {
  const fs::path p = dir_ / "trunc.safetensors";
  std::ofstream(p, std::ios::binary) << "abc";
  try {
    SafetensorsFile::read(p.string());
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(p.string() + ": ", 0), 0u) << e.what();
  }
}

TEST_F(SafetensorsIo, WriteIntoMissingDirectoryIsIoError) {
  const std::string p = (dir_ / "no" / "such" / "m.safetensors").string();
  const float x = 1.f;
  try {
    aha::write_safetensors(p, {{"x", DType::F32, {1}, &x}});
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(std::strerror(ENOENT)), std::string::npos) << e.what();
  }
}

// A write that fails half-way (here: the file size limit, which acts like a full disk and
// works even as root) leaves the old file untouched and no temporary behind.
TEST_F(SafetensorsIo, FailedWriteKeepsExistingFileAndRemovesTemporary) {
  const fs::path p = dir_ / "m.safetensors";
  const float old_v = 1.f;
  aha::write_safetensors(p.string(), {{"x", DType::F32, {1}, &old_v}});
  const std::string before = slurp(p);

  const std::vector<float> big(1 << 16, 3.f);  // 256 KiB, over the 64 KiB limit below
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  rlimit small = saved;
  small.rlim_cur = 64 * 1024;
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);  // get EFBIG instead of being killed
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string msg;
  try {
    aha::write_safetensors(p.string(), {{"big", DType::F32, {1 << 16}, big.data()}});
  } catch (const IoError& e) {
    msg = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::strerror(EFBIG)), std::string::npos) << msg;
  EXPECT_EQ(slurp(p), before);
  EXPECT_EQ(listing(), std::vector<std::string>{"m.safetensors"});
}

TEST_F(SafetensorsIo, RenameFailureIsIoErrorAndRemovesTemporary) {
  const fs::path p = dir_ / "target";
  fs::create_directories(p / "child");  // rename of a file over a non-empty directory fails
  const float x = 1.f;
  try {
    aha::write_safetensors(p.string(), {{"x", DType::F32, {1}, &x}});
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("rename"), std::string::npos) << e.what();
  }
  EXPECT_EQ(listing(), std::vector<std::string>{"target"});
}

TEST(Safetensors, WriteRejectsDuplicateNames) {
  const float x = 1.f;
  EXPECT_THROW(aha::write_safetensors("/nonexistent/x", {{"a", DType::F32, {1}, &x}, {"a", DType::F32, {1}, &x}}),
               aha::InvalidArgument);
}

// ---- the fuzz seed corpus: valid_* files parse, invalid_* files are rejected cleanly ----

TEST(Safetensors, FuzzSeedCorpusParsesAsNamed) {
  const fs::path dir = fs::path(AHA_SOURCE_DIR) / "fuzz" / "corpus" / "safetensors";
  ASSERT_TRUE(fs::exists(dir)) << dir;
  int seen = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    SCOPED_TRACE(name);
    ++seen;
    if (name.rfind("valid", 0) == 0)
      EXPECT_NO_THROW(SafetensorsFile::read(e.path().string()));
    else
      EXPECT_THROW(SafetensorsFile::read(e.path().string()), FormatError);
  }
  EXPECT_GE(seen, 3);
}
