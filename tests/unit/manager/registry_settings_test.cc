#include "manager/registry_settings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace overmesh::manager {
namespace {

using ::testing::HasSubstr;

TEST(RegistrySettings, InsecureRegistriesAreNormalised) {
  struct Case {
    std::string given;
    std::string stored;
  };
  for (const Case& c :
       std::vector<Case>{{"198.18.0.101:5000", "198.18.0.101:5000"},
                         {"Registry.Lab:0443", "registry.lab:443"},
                         {"localhost", "localhost"},
                         {"my-registry.example.com:65535", "my-registry.example.com:65535"}}) {
    auto normalised = normaliseInsecureRegistry(c.given);
    ASSERT_TRUE(normalised) << c.given << ": " << normalised.error().message;
    EXPECT_EQ(*normalised, c.stored);
  }
}

TEST(RegistrySettings, BadInsecureRegistriesNameTheFlagTheValueAndWhy) {
  struct Case {
    std::string given;
    std::string why;
  };
  for (const Case& c : std::vector<Case>{{"", "it is empty"},
                                         {"http://198.18.0.101:5000", "give no scheme"},
                                         {"198.18.0.101:5000/v2", "give no path"},
                                         {"198.18.0.101:0", "1 to 65535"},
                                         {"198.18.0.101:65536", "1 to 65535"},
                                         {"198.18.0.101:", "1 to 65535"},
                                         {"198.18.0.300:5000", "dotted-quad"},
                                         {"[fd00::1]:5000", "IPv6"},
                                         {"-bad.example:5000", "DNS name"},
                                         {"under_score:5000", "DNS name"}}) {
    auto refused = normaliseInsecureRegistry(c.given);
    ASSERT_FALSE(refused) << c.given;
    EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
    EXPECT_THAT(refused.error().message, HasSubstr("--insecure-registry \"" + c.given + "\""));
    EXPECT_THAT(refused.error().message, HasSubstr(c.why)) << c.given;
    EXPECT_THAT(refused.error().message, HasSubstr("expected HOST[:PORT]"));
  }
}

TEST(RegistrySettings, MirrorsAreNormalised) {
  struct Case {
    std::string given;
    std::string stored;
  };
  for (const Case& c : std::vector<Case>{{"http://198.18.0.101:5000", "http://198.18.0.101:5000"},
                                         {"http://198.18.0.101:5000/", "http://198.18.0.101:5000"},
                                         {"HTTPS://Mirror.Lab", "https://mirror.lab"}}) {
    auto normalised = normaliseRegistryMirror(c.given);
    ASSERT_TRUE(normalised) << c.given << ": " << normalised.error().message;
    EXPECT_EQ(*normalised, c.stored);
  }
}

TEST(RegistrySettings, BadMirrorsNameTheFlagTheValueAndWhy) {
  struct Case {
    std::string given;
    std::string why;
  };
  for (const Case& c : std::vector<Case>{{"198.18.0.101:5000", "http:// or https://"},
                                         {"ftp://mirror.lab", "http:// or https://"},
                                         {"http://mirror.lab/v2/", "no path"},
                                         {"http://user@mirror.lab", "credentials"},
                                         {"http://", "host is missing"},
                                         {"https://mirror.lab:99999", "1 to 65535"}}) {
    auto refused = normaliseRegistryMirror(c.given);
    ASSERT_FALSE(refused) << c.given;
    EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
    EXPECT_THAT(refused.error().message, HasSubstr("--registry-mirror \"" + c.given + "\""));
    EXPECT_THAT(refused.error().message, HasSubstr(c.why)) << c.given;
  }
}

TEST(RegistrySettings, DuplicatesAfterNormalisationAreDroppedKeepingTheFirst) {
  auto settings = normaliseRegistrySettings({{"b.lab:5000", "A.lab", "b.lab:05000", "a.lab"},
                                             {"http://m.lab/", "http://M.lab", "https://m.lab"}});
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_EQ(settings->insecureRegistries, (std::vector<std::string>{"b.lab:5000", "a.lab"}));
  EXPECT_EQ(settings->registryMirrors, (std::vector<std::string>{"http://m.lab", "https://m.lab"}));
}

TEST(RegistrySettings, AtMost32EntriesPerList) {
  api::RegistrySettings settings;
  for (int i = 0; i < 33; ++i) {
    settings.insecureRegistries.push_back("r" + std::to_string(i) + ".lab");
  }
  auto refused = normaliseRegistrySettings(settings);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("--insecure-registry: 33 different values"));
  settings.insecureRegistries.pop_back();
  EXPECT_TRUE(normaliseRegistrySettings(settings));
}

TEST(RegistrySettings, AnUpdateReplacesTheListsItGivesAndKeepsTheOthers) {
  api::RegistrySettings current{{"a.lab:5000"}, {"http://m.lab"}};
  api::SwarmUpdateRequest replaceInsecure;
  replaceInsecure.insecureRegistries = std::vector<std::string>{"B.lab:5000"};
  auto replaced = applySwarmUpdate(current, replaceInsecure);
  ASSERT_TRUE(replaced);
  EXPECT_EQ(*replaced, (api::RegistrySettings{{"b.lab:5000"}, {"http://m.lab"}}));

  api::SwarmUpdateRequest clearMirrors;
  clearMirrors.registryMirrors = std::vector<std::string>{};
  auto cleared = applySwarmUpdate(current, clearMirrors);
  ASSERT_TRUE(cleared);
  EXPECT_EQ(*cleared, (api::RegistrySettings{{"a.lab:5000"}, {}}));

  api::SwarmUpdateRequest bad;
  bad.registryMirrors = std::vector<std::string>{"mirror.lab"};
  EXPECT_FALSE(applySwarmUpdate(current, bad));
}

TEST(RegistrySettings, MirrorEndpointSplitsSchemeAndHost) {
  EXPECT_EQ(mirrorEndpoint("http://198.18.0.101:5000").host, "198.18.0.101:5000");
  EXPECT_TRUE(mirrorEndpoint("http://198.18.0.101:5000").plainHttp);
  EXPECT_EQ(mirrorEndpoint("https://m.lab").host, "m.lab");
  EXPECT_FALSE(mirrorEndpoint("https://m.lab").plainHttp);
}

}  // namespace
}  // namespace overmesh::manager
