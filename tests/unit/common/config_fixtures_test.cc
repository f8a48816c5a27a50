// Walks tests/fixtures: every invalid config must be refused with the error its .expected file
// names, and every error line must start with the file it came from.
//
//   invalid/NAME.json       one app file;  invalid/NAME.expected       lines the error must contain
//   invalid_dirs/NAME/      a conf dir;    invalid_dirs/NAME.expected  lines the error must contain
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "common/conf_dir.h"

namespace valet {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kFixtures = VALET_FIXTURES_DIR;

struct Fixture {
  std::string name;   // NAME, also the test name.
  fs::path config;    // NAME.json or the NAME directory.
  fs::path expected;  // NAME.expected.
};

// Names the fixture in failure messages instead of dumping its bytes.
void PrintTo(const Fixture& f, std::ostream* os) { *os << f.config; }

std::vector<Fixture> ListFixtures(const std::string& subdir, bool dirs) {
  std::vector<Fixture> out;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(kFixtures / subdir, ec)) {
    const fs::path& p = e.path();
    if (p.extension() != ".expected") continue;
    fs::path config = p.parent_path() / p.stem();
    if (!dirs) config += ".json";
    out.push_back({p.stem().string(), config, p});
  }
  std::sort(out.begin(), out.end(),
            [](const Fixture& a, const Fixture& b) { return a.name < b.name; });
  return out;
}

std::vector<std::string> ExpectedLines(const fs::path& path) {
  absl::StatusOr<std::string> text = ReadFile(path.string());
  EXPECT_TRUE(text.ok()) << text.status();
  std::vector<std::string> lines;
  if (!text.ok()) return lines;
  size_t start = 0;
  while (start < text->size()) {
    size_t end = text->find('\n', start);
    if (end == std::string::npos) end = text->size();
    if (end > start) lines.push_back(text->substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string TestName(const ::testing::TestParamInfo<Fixture>& info) {
  std::string name = info.param.name;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

void CheckRefused(const Fixture& f, const absl::Status& status) {
  ASSERT_FALSE(status.ok()) << f.config << " was accepted";
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  std::string msg(status.message());
  std::vector<std::string> expected = ExpectedLines(f.expected);
  ASSERT_FALSE(expected.empty()) << f.expected << " is empty";
  for (const std::string& line : expected) EXPECT_THAT(msg, HasSubstr(line));
  // Every error line starts with the path of the file it is about.
  const std::string prefix = f.config.string();
  size_t start = 0;
  while (start < msg.size()) {
    size_t end = msg.find('\n', start);
    if (end == std::string::npos) end = msg.size();
    std::string line = msg.substr(start, end - start);
    EXPECT_EQ(line.rfind(prefix, 0), 0u) << "error line does not name its file: " << line;
    EXPECT_THAT(line, HasSubstr(".json: ")) << line;
    start = end + 1;
  }
}

class InvalidConfigFileTest : public ::testing::TestWithParam<Fixture> {};

TEST_P(InvalidConfigFileTest, IsRefusedWithExpectedError) {
  const Fixture& f = GetParam();
  ASSERT_TRUE(fs::is_regular_file(f.config)) << f.config << " is missing for " << f.expected;
  CheckRefused(f, LoadAppsFromPath(f.config.string()).status());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, InvalidConfigFileTest,
                         ::testing::ValuesIn(ListFixtures("invalid", /*dirs=*/false)), TestName);

class InvalidConfDirTest : public ::testing::TestWithParam<Fixture> {};

TEST_P(InvalidConfDirTest, IsRefusedWithExpectedError) {
  const Fixture& f = GetParam();
  ASSERT_TRUE(fs::is_directory(f.config)) << f.config << " is missing for " << f.expected;
  CheckRefused(f, LoadConfDir(f.config.string()).status());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, InvalidConfDirTest,
                         ::testing::ValuesIn(ListFixtures("invalid_dirs", /*dirs=*/true)),
                         TestName);

// A NAME.json without NAME.expected would never be tested.
TEST(FixtureLayoutTest, EveryInvalidJsonHasAnExpectedFile) {
  size_t count = 0;
  for (const fs::directory_entry& e : fs::directory_iterator(kFixtures / "invalid")) {
    fs::path p = e.path();
    if (p.extension() != ".json") continue;
    ++count;
    EXPECT_TRUE(fs::exists(fs::path(p).replace_extension(".expected"))) << p;
  }
  EXPECT_GE(count, 30u);
  for (const fs::directory_entry& e : fs::directory_iterator(kFixtures / "invalid_dirs")) {
    if (!e.is_directory()) continue;
    fs::path expected = e.path();
    expected += ".expected";
    EXPECT_TRUE(fs::exists(expected)) << e.path();
  }
}

}  // namespace
}  // namespace valet
