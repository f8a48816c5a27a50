#include "common/conf_dir.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "common/app_config_json.h"
#include "google/protobuf/util/message_differencer.h"

namespace valet {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// A fresh directory under the test's temp dir, removed with everything in it at scope exit.
class ScopedTempDir {
 public:
  ScopedTempDir() {
    std::string tmpl = (fs::path(::testing::TempDir()) / "valet_conf_dir_test.XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr) << "mkdtemp " << tmpl;
    path_ = tmpl;
  }
  ~ScopedTempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return (fs::path(path_) / name).string(); }

 private:
  std::string path_;
};

void WriteRaw(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

std::string AppJson(const std::string& name, int port) {
  return R"({"name": ")" + name + R"(", "endpoints": [{"host": "127.0.0.1", "path": "", "port": )" +
         std::to_string(port) + "}]}";
}

std::vector<std::string> Names(const std::vector<SourcedApp>& apps) {
  std::vector<std::string> names;
  for (const SourcedApp& a : apps) names.push_back(a.app.name());
  return names;
}

std::vector<std::string> Listing(const std::string& dir) {
  std::vector<std::string> names;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  return names;
}

v1::AppConfig MinimalApp(const std::string& name, uint32_t port) {
  v1::AppConfig app;
  app.set_name(name);
  v1::Endpoint* ep = app.add_endpoints();
  ep->set_host("127.0.0.1");
  ep->set_port(port);
  return app;
}

TEST(LoadConfDirTest, EmptyDirLoadsNoApps) {
  ScopedTempDir dir;
  auto apps = LoadConfDir(dir.path());
  ASSERT_TRUE(apps.ok()) << apps.status();
  EXPECT_THAT(*apps, IsEmpty());
}

TEST(LoadConfDirTest, LoadsEveryJsonFileSortedWithItsPath) {
  ScopedTempDir dir;
  WriteRaw(dir.File("b.json"), AppJson("bee", 9051));
  WriteRaw(dir.File("a.json"), AppJson("ant", 9050));
  auto apps = LoadConfDir(dir.path());
  ASSERT_TRUE(apps.ok()) << apps.status();
  ASSERT_EQ(apps->size(), 2u);
  EXPECT_EQ((*apps)[0].app.name(), "ant");
  EXPECT_EQ((*apps)[0].source, dir.File("a.json"));
  EXPECT_EQ((*apps)[1].app.name(), "bee");
  EXPECT_EQ((*apps)[1].source, dir.File("b.json"));
}

TEST(LoadConfDirTest, IgnoresOtherFilesDotFilesAndSubdirs) {
  ScopedTempDir dir;
  WriteRaw(dir.File("good.json"), AppJson("good", 9050));
  WriteRaw(dir.File("README.md"), "not json");
  WriteRaw(dir.File("good.json.bak"), "{broken");
  WriteRaw(dir.File("good.json~"), "{broken");
  WriteRaw(dir.File(".hidden.json"), "{broken");
  WriteRaw(dir.File(".good.json.tmp.123.0"), "{broken");  // Left by an interrupted write.
  fs::create_directory(dir.File("sub.json"));
  WriteRaw(dir.File("sub.json/inner.json"), "{broken");
  auto apps = LoadConfDir(dir.path());
  ASSERT_TRUE(apps.ok()) << apps.status();
  EXPECT_THAT(Names(*apps), UnorderedElementsAre("good"));
}

TEST(LoadConfDirTest, ListsEveryErrorOfEveryFile) {
  ScopedTempDir dir;
  WriteRaw(dir.File("ok.json"), AppJson("ok", 9050));
  WriteRaw(dir.File("range.json"), AppJson("range", 70000));
  WriteRaw(dir.File("syntax.json"), "{\"name\": ");
  WriteRaw(dir.File("typo.json"),
           R"({"name": "typo", "autorize": true, "endpoints": [{"host": "h", "port": "1"}]})");
  WriteRaw(dir.File("dup.json"), AppJson("ok", 9051));
  auto apps = LoadConfDir(dir.path());
  ASSERT_FALSE(apps.ok());
  EXPECT_EQ(apps.status().code(), absl::StatusCode::kInvalidArgument);
  std::string msg(apps.status().message());
  EXPECT_THAT(msg, HasSubstr(dir.File("range.json") + ": endpoints[0].port: must be 1..65535"));
  EXPECT_THAT(msg, HasSubstr(dir.File("syntax.json") + ": invalid JSON at line 1"));
  EXPECT_THAT(msg,
              HasSubstr(dir.File("typo.json") +
                        ": autorize: unknown field \"autorize\" (did you mean \"authorize\"?)"));
  EXPECT_THAT(msg, HasSubstr(dir.File("typo.json") +
                             ": endpoints[0].port: expected a number, got a string"));
  EXPECT_THAT(msg, HasSubstr(": name: duplicate app name \"ok\""));
  // One error per line, each naming its file.
  size_t lines = 0;
  for (size_t start = 0; start <= msg.size(); ++lines) {
    size_t end = msg.find('\n', start);
    if (end == std::string::npos) end = msg.size();
    EXPECT_EQ(msg.compare(start, dir.path().size(), dir.path()), 0) << msg.substr(start, end);
    start = end + 1;
  }
  EXPECT_EQ(lines, 5u) << msg;
}

TEST(LoadConfDirTest, MissingDirIsNotFound) {
  ScopedTempDir dir;
  auto apps = LoadConfDir(dir.File("nope"));
  EXPECT_EQ(apps.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(apps.status().message(), HasSubstr("nope: not a directory"));
}

TEST(LoadAppsFromPathTest, FileOrDir) {
  ScopedTempDir dir;
  WriteRaw(dir.File("a.json"), AppJson("a", 9050));
  WriteRaw(dir.File("b.json"), AppJson("b", 9051));
  auto one = LoadAppsFromPath(dir.File("a.json"));
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_THAT(Names(*one), UnorderedElementsAre("a"));
  auto all = LoadAppsFromPath(dir.path());
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(Names(*all), UnorderedElementsAre("a", "b"));
  EXPECT_EQ(LoadAppsFromPath(dir.File("none.json")).status().code(), absl::StatusCode::kNotFound);
}

TEST(LoadAppsFromPathTest, ValidFixturesLoad) {
  const std::string valid = std::string(VALET_FIXTURES_DIR) + "/valid";
  auto apps = LoadConfDir(valid);
  ASSERT_TRUE(apps.ok()) << apps.status();
  EXPECT_THAT(Names(*apps), UnorderedElementsAre("userauth", "catalog"));
  for (const SourcedApp& a : *apps) {
    auto single = LoadAppsFromPath(a.source);
    EXPECT_TRUE(single.ok()) << single.status();
  }
}

TEST(WriteAppFileTest, WrittenAppLoadsBack) {
  ScopedTempDir dir;
  v1::AppConfig app = MinimalApp("shop", 9050);
  app.set_authorize(true);
  app.set_auth_key("k");
  app.set_balancing("round_robin");
  ASSERT_TRUE(WriteAppFile(dir.path(), app).ok());
  EXPECT_THAT(Listing(dir.path()), UnorderedElementsAre("shop.json"));
  auto apps = LoadConfDir(dir.path());
  ASSERT_TRUE(apps.ok()) << apps.status();
  ASSERT_EQ(apps->size(), 1u);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals((*apps)[0].app, app));
  EXPECT_EQ((*apps)[0].source, dir.File("shop.json"));
}

TEST(WriteAppFileTest, OverwritesInPlace) {
  ScopedTempDir dir;
  ASSERT_TRUE(WriteAppFile(dir.path(), MinimalApp("shop", 9050)).ok());
  ASSERT_TRUE(WriteAppFile(dir.path(), MinimalApp("shop", 9051)).ok());
  auto apps = LoadConfDir(dir.path());
  ASSERT_TRUE(apps.ok()) << apps.status();
  ASSERT_EQ(apps->size(), 1u);
  EXPECT_EQ((*apps)[0].app.endpoints(0).port(), 9051u);
  EXPECT_THAT(Listing(dir.path()), UnorderedElementsAre("shop.json"));
}

TEST(WriteAppFileTest, RefusesNamesThatLeaveTheDir) {
  ScopedTempDir dir;
  fs::create_directory(dir.File("conf"));
  for (const char* name : {"../escape", "..", "", "a/b"}) {
    absl::Status s = WriteAppFile(dir.File("conf"), MinimalApp(name, 9050));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << name;
  }
  EXPECT_THAT(Listing(dir.path()), UnorderedElementsAre("conf"));
  EXPECT_THAT(Listing(dir.File("conf")), IsEmpty());
}

TEST(WriteFileAtomicallyTest, WritesExactBytesAndLeavesNoTempFile) {
  ScopedTempDir dir;
  const std::string path = dir.File("port");
  ASSERT_TRUE(WriteFileAtomically(path, "listen 127.0.0.1:1\n").ok());
  ASSERT_TRUE(WriteFileAtomically(path, std::string("a\0b", 3)).ok());
  auto text = ReadFile(path);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, std::string("a\0b", 3));
  EXPECT_THAT(Listing(dir.path()), UnorderedElementsAre("port"));
}

TEST(WriteFileAtomicallyTest, EmptyContents) {
  ScopedTempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.File("e"), "").ok());
  EXPECT_EQ(ReadFile(dir.File("e")).value(), "");
  EXPECT_THAT(Listing(dir.path()), UnorderedElementsAre("e"));
}

TEST(WriteFileAtomicallyTest, MissingDirFailsWithoutLeftovers) {
  ScopedTempDir dir;
  absl::Status s = WriteFileAtomically(dir.File("no/such/file"), "x");
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(Listing(dir.path()), IsEmpty());
}

TEST(WriteFileAtomicallyTest, ReplacedFileKeepsItsModeAndNewFileIsPrivate) {
  ScopedTempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.File("old"), "1").ok());
  ASSERT_EQ(::chmod(dir.File("old").c_str(), 0644), 0);
  ASSERT_TRUE(WriteFileAtomically(dir.File("old"), "2").ok());
  EXPECT_EQ(fs::status(dir.File("old")).permissions(), fs::perms(0644));
  ASSERT_TRUE(WriteFileAtomically(dir.File("new"), "1").ok());
  EXPECT_EQ(fs::status(dir.File("new")).permissions(), fs::perms(0600));
}

// Contents that hold a secret do not inherit a mode that lets others read them.
TEST(WriteFileAtomicallyTest, OwnerOnlyDropsGroupAndOtherBits) {
  ScopedTempDir dir;
  for (auto [before, after] : {std::pair<mode_t, mode_t>{0644, 0600},
                               {0664, 0600},
                               {0755, 0700},
                               {0600, 0600},
                               {0400, 0400}}) {
    ASSERT_TRUE(WriteFileAtomically(dir.File("key"), "old").ok());
    ASSERT_EQ(::chmod(dir.File("key").c_str(), before), 0);
    ASSERT_TRUE(WriteFileAtomically(dir.File("key"), "secret", FileAccess::kOwnerOnly).ok());
    EXPECT_EQ(fs::status(dir.File("key")).permissions(), fs::perms(after)) << std::oct << before;
    EXPECT_EQ(ReadFile(dir.File("key")).value(), "secret");
    ASSERT_EQ(::chmod(dir.File("key").c_str(), 0600), 0);
  }
  ASSERT_TRUE(WriteFileAtomically(dir.File("fresh"), "secret", FileAccess::kOwnerOnly).ok());
  EXPECT_EQ(fs::status(dir.File("fresh")).permissions(), fs::perms(0600));
  EXPECT_THAT(Listing(dir.path()), UnorderedElementsAre("key", "fresh"));
}

TEST(RemoveAppFileTest, RemovesAndToleratesMissing) {
  ScopedTempDir dir;
  ASSERT_TRUE(WriteAppFile(dir.path(), MinimalApp("a", 9050)).ok());
  ASSERT_TRUE(WriteAppFile(dir.path(), MinimalApp("b", 9051)).ok());
  ASSERT_TRUE(RemoveAppFile(dir.path(), "a").ok());
  EXPECT_THAT(Listing(dir.path()), UnorderedElementsAre("b.json"));
  EXPECT_TRUE(RemoveAppFile(dir.path(), "a").ok());
  auto apps = LoadConfDir(dir.path());
  ASSERT_TRUE(apps.ok()) << apps.status();
  EXPECT_THAT(Names(*apps), UnorderedElementsAre("b"));
}

TEST(RemoveAppFileTest, RefusesNamesThatLeaveTheDir) {
  ScopedTempDir dir;
  fs::create_directory(dir.File("conf"));
  WriteRaw(dir.File("victim.json"), "{}");
  EXPECT_EQ(RemoveAppFile(dir.File("conf"), "../victim").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(fs::exists(dir.File("victim.json")));
}

TEST(ReadFileTest, MissingFileIsNotFound) {
  ScopedTempDir dir;
  auto text = ReadFile(dir.File("missing"));
  EXPECT_EQ(text.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(text.status().message(), HasSubstr("missing: cannot read"));
}

}  // namespace
}  // namespace valet
