#include "common/sha256.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace valet {
namespace {

// FIPS 180-2, appendix B, and the empty message.
TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Lengths at the padding boundaries: the length field fits in the last block (55), just does not
// (56), and whole blocks (64). Expected values from Python's hashlib.
TEST(Sha256Test, PaddingBoundaries) {
  const std::pair<size_t, const char*> kCases[] = {
      {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
      {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
      {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
      {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
      {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
      {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
      {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
  };
  for (const auto& [length, hex] : kCases) {
    EXPECT_EQ(Sha256Hex(std::string(length, 'a')), hex) << length;
  }
}

// Every length around the padding boundaries (55, 56, 63, 64 bytes), fed in every split, gives the
// digest of the whole: the buffering between Update calls loses and repeats nothing.
TEST(Sha256Test, SplitUpdatesMatchOneUpdate) {
  std::string data;
  for (int i = 0; i < 130; ++i) data.push_back(static_cast<char>(i * 7 + 3));
  for (size_t len = 0; len <= data.size(); ++len) {
    std::string whole = Sha256Hex(std::string_view(data).substr(0, len));
    for (size_t split = 0; split <= len; ++split) {
      Sha256 sha;
      sha.Update(std::string_view(data).substr(0, split));
      sha.Update(std::string_view(data).substr(split, len - split));
      ASSERT_EQ(ToHex(sha.Finish()), whole) << "len " << len << " split " << split;
    }
  }
}

}  // namespace
}  // namespace valet
