// The example configs in conf/ must load as shipped: conf/apps through the same code as a real
// conf dir, and the flag files in the line format Abseil's --flagfile reads.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/conf_dir.h"
#include "common/flag_args.h"
#include "nlohmann/json.hpp"

namespace valet {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

const std::string kConf = VALET_EXAMPLE_CONF_DIR;
const std::string kFixtures = VALET_FIXTURES_DIR;

std::vector<std::string> Keys(const nlohmann::json& j) {
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  return keys;
}

TEST(ExampleConfTest, AppsLoad) {
  auto apps = LoadConfDir(kConf + "/apps");
  ASSERT_TRUE(apps.ok()) << apps.status();
  std::vector<std::string> names;
  for (const SourcedApp& a : *apps) names.push_back(a.app.name());
  EXPECT_THAT(names, UnorderedElementsAre("demo", "partners", "petstore", "profile", "userauth"));
  for (const SourcedApp& a : *apps) {
    for (const v1::Endpoint& ep : a.app.endpoints()) {
      EXPECT_EQ(ep.host(), "127.0.0.1") << a.source;  // The demo backend.
      EXPECT_TRUE(ep.port() == 9050 || ep.port() == 9051) << a.source;
    }
  }
}

// conf/apps/petstore.json shows mocks at once: in mock mode, with mocks the README's curl hits.
TEST(ExampleConfTest, PetstoreIsInMockMode) {
  auto apps = LoadConfDir(kConf + "/apps");
  ASSERT_TRUE(apps.ok()) << apps.status();
  for (const SourcedApp& a : *apps) {
    if (a.app.name() != "petstore") continue;
    EXPECT_TRUE(a.app.mock_mode());
    bool has_pet = false;
    for (const v1::Mock& m : a.app.mocks()) has_pet |= m.path() == "/pets/{id}";
    EXPECT_TRUE(has_pet);
    return;
  }
  ADD_FAILURE() << "no petstore app in conf/apps";
}

// conf/apps/userauth.json is the seed example with only the hosts changed.
TEST(ExampleConfTest, UserauthKeepsTheSeedShape) {
  auto seed_text = ReadFile(kFixtures + "/valid/userauth.json");
  auto conf_text = ReadFile(kConf + "/apps/userauth.json");
  ASSERT_TRUE(seed_text.ok() && conf_text.ok());
  nlohmann::json seed = nlohmann::json::parse(*seed_text, nullptr, false);
  nlohmann::json conf = nlohmann::json::parse(*conf_text, nullptr, false);
  ASSERT_FALSE(seed.is_discarded() || conf.is_discarded());
  EXPECT_EQ(Keys(conf), Keys(seed));
  ASSERT_EQ(conf["endpoints"].size(), seed["endpoints"].size());
  for (size_t i = 0; i < seed["endpoints"].size(); ++i) {
    EXPECT_EQ(Keys(conf["endpoints"][i]), Keys(seed["endpoints"][i]));
    seed["endpoints"][i]["host"] = "127.0.0.1";
  }
  EXPECT_EQ(conf, seed);
}

// Abseil reads a flag file line by line: blank lines and '#' comments, else "--name=value".
// Flag names are C++ identifiers: a dash in a name is an unknown flag.
// The flag names of a flag file as the programs read it: through NormalizeFlagArgs, which expands
// --flagfile and spells names the Abseil way.
std::vector<std::string> FlagNames(const std::string& file) {
  std::string program = "valet";
  std::string flagfile = "--flagfile=" + file;
  char* argv[] = {program.data(), flagfile.data()};
  absl::StatusOr<std::vector<std::string>> args = NormalizeFlagArgs(2, argv);
  EXPECT_TRUE(args.ok()) << args.status();
  std::vector<std::string> names;
  for (size_t i = 1; args.ok() && i < args->size(); ++i) {
    const std::string& arg = (*args)[i];
    EXPECT_EQ(arg.rfind("--", 0), 0u) << file << ": " << arg;
    size_t eq = arg.find('=');
    EXPECT_NE(eq, std::string::npos) << file << ": " << arg;
    names.push_back(arg.substr(2, eq - 2));
  }
  return names;
}

TEST(ExampleConfTest, FlagFiles) {
  EXPECT_THAT(FlagNames(kConf + "/dataplane.flags"),
              ElementsAre("conf_dir", "listen", "admin_listen", "workers"));
  EXPECT_THAT(FlagNames(kConf + "/controlplane.flags"),
              ElementsAre("conf_dir", "grpc_listen", "http_listen"));
}

}  // namespace
}  // namespace valet
