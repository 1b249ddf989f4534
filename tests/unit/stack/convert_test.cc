// Stack conversion (stack/convert.h): Docker's names for services, networks and volumes,
// the labels, the defaults and the conversion of each compose key, and every refusal with
// its exact text. Projects are built here in C++ (what buildProject would produce), so
// these tests do not depend on the loader.

#include "stack/convert.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "manager/network_rules.h"
#include "manager/service_validation.h"
#include "stack/stack_volumes.h"

namespace overmesh::stack {
namespace {

compose::Mark at(int line) { return compose::Mark{"web.yml", line, 1}; }

compose::Service imageService(const std::string& key, const std::string& image = "nginx:1.25") {
  compose::Service service;
  service.key = key;
  service.image = image;
  service.directory = "/srv/app";
  service.mark = at(3);
  return service;
}

compose::NetworkEntry declaredNetwork(const std::string& key) {
  compose::NetworkEntry entry;
  entry.key = key;
  entry.mark = at(20);
  return entry;
}

compose::ServiceNetworkEntry joins(const std::string& key, std::vector<std::string> aliases = {}) {
  compose::ServiceNetworkEntry entry;
  entry.key = key;
  entry.aliases = std::move(aliases);
  entry.mark = at(7);
  return entry;
}

Result<api::StackDeployRequest> convert(const compose::Project& project,
                                        const std::string& stack = "web") {
  std::vector<std::string> warnings;
  return convertProject(project, stack, {}, warnings);
}

api::StackDeployRequest converted(const compose::Project& project,
                                  const std::string& stack = "web") {
  auto request = convert(project, stack);
  EXPECT_TRUE(request.has_value()) << request.error().message;
  return request.value_or(api::StackDeployRequest{});
}

// ---- stack names ----

TEST(StackNameTest, AcceptsDockerNames) {
  for (const std::string& name :
       std::vector<std::string>{"web", "a", "chaos.net-2_x", "9lives", std::string(61, 'a')}) {
    EXPECT_TRUE(validateStackName(name).has_value()) << name;
  }
}

TEST(StackNameTest, RefusesWithTheReason) {
  struct Case {
    std::string name;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"",
       "the stack name is empty: give a name such as web (letters, digits, '_', '.' and "
       "'-')"},
      {" web", "invalid stack name \" web\": it starts or ends with white space"},
      {"web\n", "invalid stack name \"web\\n\": it starts or ends with white space"},
      {"-web",
       "invalid stack name \"-web\": use letters, digits, '_', '.' and '-', starting "
       "with a letter or digit"},
      {"we/b",
       "invalid stack name \"we/b\": use letters, digits, '_', '.' and '-', starting "
       "with a letter or digit"},
      {std::string(62, 'a'),
       "the stack name \"" + std::string(62, 'a') +
           "\" is 62 characters long: at most 61 are allowed, so that <stack>_<service> stays "
           "within 63"},
  };
  for (const auto& c : cases) {
    auto valid = validateStackName(c.name);
    ASSERT_FALSE(valid.has_value()) << c.name;
    EXPECT_EQ(valid.error().kind, ErrorKind::InvalidArgument);
    EXPECT_EQ(valid.error().message, c.message);
  }
}

// ---- services: names, labels, defaults ----

TEST(ConvertTest, ServiceWithoutNetworksJoinsTheImplicitDefault) {
  compose::Project project;
  project.services = {imageService("web")};
  auto request = converted(project);

  ASSERT_EQ(request.networks.size(), 1U);
  const api::StackNetwork& network = request.networks[0];
  EXPECT_EQ(network.key, "default");
  EXPECT_EQ(network.name, "web_default");
  EXPECT_FALSE(network.external);
  EXPECT_EQ(network.create.name, "web_default");
  EXPECT_EQ(network.create.driver, "overlay");
  EXPECT_FALSE(network.create.attachable);
  EXPECT_FALSE(network.create.subnet.has_value());
  EXPECT_EQ(network.create.labels, (api::Labels{{"com.docker.stack.namespace", "web"}}));
  EXPECT_EQ(network.source, "");
  EXPECT_TRUE(manager::validateNetworkCreate(network.create).has_value());

  ASSERT_EQ(request.services.size(), 1U);
  const api::ServiceSpec& spec = request.services[0];
  EXPECT_EQ(spec.name, "web_web");
  ASSERT_EQ(spec.networks.size(), 1U);
  EXPECT_EQ(spec.networks[0].target, "web_default");
  EXPECT_EQ(spec.networks[0].aliases, std::vector<std::string>{"web"});
}

TEST(ConvertTest, AnEmptyNetworksListAlsoJoinsDefault) {
  compose::Project project;
  project.services = {imageService("api")};
  project.services[0].networks = std::vector<compose::ServiceNetworkEntry>{};
  auto request = converted(project, "shop");
  ASSERT_EQ(request.networks.size(), 1U);
  EXPECT_EQ(request.networks[0].name, "shop_default");
  EXPECT_EQ(request.services[0].networks[0].target, "shop_default");
}

TEST(ConvertTest, AppliesDockerDefaults) {
  compose::Project project;
  project.services = {imageService("web")};
  const api::ServiceSpec spec = converted(project).services.at(0);
  EXPECT_EQ(spec.mode, "replicated");
  EXPECT_EQ(spec.replicas, 1);
  EXPECT_EQ(spec.endpointMode, "vip");
  EXPECT_EQ(spec.restartPolicy.condition, "any");
  EXPECT_EQ(spec.restartPolicy.delayMs, 5000);
  EXPECT_EQ(spec.restartPolicy.maxAttempts, 0);
  EXPECT_EQ(spec.restartPolicy.windowMs, 0);
  EXPECT_EQ(spec.updateConfig.parallelism, 1);
  EXPECT_EQ(spec.updateConfig.delayMs, 0);
  EXPECT_EQ(spec.updateConfig.order, "stop-first");
  EXPECT_EQ(spec.stopGracePeriodMs, 10000);
  EXPECT_FALSE(spec.healthCheck.has_value());
  EXPECT_TRUE(spec.command.empty());
  EXPECT_EQ(spec.container.image, "nginx:1.25");
  EXPECT_FALSE(spec.container.init);
  EXPECT_FALSE(spec.container.readOnly);
}

TEST(ConvertTest, LabelsCarryTheNamespaceAndTheImageAsWritten) {
  compose::Project project;
  project.services = {imageService("web", "198.18.0.101:5000/web:1")};
  project.services[0].deploy = compose::Deploy{};
  project.services[0].deploy->labels = {{"tier", "front"}, {"com.docker.stack.namespace", "other"}};
  project.services[0].labels = {{"team", "blue"}};
  const api::ServiceSpec spec = converted(project).services.at(0);
  EXPECT_EQ(spec.labels, (api::Labels{{"com.docker.stack.image", "198.18.0.101:5000/web:1"},
                                      {"com.docker.stack.namespace", "web"},
                                      {"tier", "front"}}));
  EXPECT_EQ(spec.container.labels, (std::map<std::string, std::string>{
                                       {"com.docker.stack.namespace", "web"}, {"team", "blue"}}));
}

TEST(ConvertTest, EnvironmentIsSortedKeyValue) {
  compose::Project project;
  project.services = {imageService("web")};
  project.services[0].environment = {{"ZONE", "b"}, {"APP_MODE", "prod"}, {"EMPTY", ""}};
  EXPECT_EQ(converted(project).services.at(0).env,
            (std::vector<std::string>{"APP_MODE=prod", "EMPTY=", "ZONE=b"}));
}

TEST(ConvertTest, DeployKeysAndContainerFields) {
  compose::Project project;
  compose::Service service = imageService("api");
  service.command = std::vector<std::string>{"api", "--port", "8080"};
  service.entrypoint = std::vector<std::string>{"/bin/tini", "--"};
  service.workingDir = "/app";
  service.user = "1000:1000";
  service.hostname = "api-host";
  service.init = true;
  service.readOnly = true;
  service.stopSignal = "SIGINT";
  service.stopGracePeriodMs = 30000;
  compose::Deploy deploy;
  deploy.replicas = 3;
  deploy.endpointMode = "dnsrr";
  deploy.constraints = {"node.labels.zone==a", "node.hostname!=h3"};
  deploy.updateConfig = compose::UpdateConfigEntry{2, 10000, "start-first"};
  service.deploy = deploy;
  project.services = {service};
  const api::ServiceSpec spec = converted(project).services.at(0);
  EXPECT_EQ(spec.command, (std::vector<std::string>{"api", "--port", "8080"}));
  EXPECT_EQ(spec.replicas, 3);
  EXPECT_EQ(spec.endpointMode, "dnsrr");
  EXPECT_EQ(spec.constraints,
            (std::vector<std::string>{"node.labels.zone==a", "node.hostname!=h3"}));
  EXPECT_EQ(spec.updateConfig.parallelism, 2);
  EXPECT_EQ(spec.updateConfig.delayMs, 10000);
  EXPECT_EQ(spec.updateConfig.order, "start-first");
  EXPECT_EQ(spec.stopGracePeriodMs, 30000);
  EXPECT_EQ(spec.container.entrypoint, (std::vector<std::string>{"/bin/tini", "--"}));
  EXPECT_EQ(spec.container.workdir, "/app");
  EXPECT_EQ(spec.container.user, "1000:1000");
  EXPECT_EQ(spec.container.hostname, "api-host");
  EXPECT_TRUE(spec.container.init);
  EXPECT_TRUE(spec.container.readOnly);
  EXPECT_EQ(spec.container.stopSignal, "SIGINT");
}

TEST(ConvertTest, GlobalModeKeepsTheSpecsReplicaDefault) {
  compose::Project project;
  project.services = {imageService("agent")};
  project.services[0].deploy = compose::Deploy{};
  project.services[0].deploy->mode = "global";
  const api::ServiceSpec spec = converted(project).services.at(0);
  EXPECT_EQ(spec.mode, "global");
  EXPECT_EQ(spec.replicas, 1);
}

TEST(ConvertTest, AServiceWithoutImageRunsItsCommandAsAProcess) {
  compose::Project project;
  compose::Service service = imageService("echo", "");
  service.command = std::vector<std::string>{"socat", "TCP-LISTEN:7,fork", "EXEC:cat"};
  service.labels = {{"kind", "process"}};
  service.hostname = "echo";
  project.services = {service};
  const api::ServiceSpec spec = converted(project).services.at(0);
  EXPECT_TRUE(spec.container.image.empty());
  EXPECT_EQ(spec.labels.count("com.docker.stack.image"), 0U);
  EXPECT_EQ(spec.container.labels.at("kind"), "process");
  EXPECT_TRUE(manager::validateServiceSpec(spec).has_value());
}

// ---- restart policy ----

TEST(ConvertTest, RestartKeyFeedsThePolicyWhenDeployHasNone) {
  struct Case {
    std::string restart;
    std::string condition;
    std::int64_t maxAttempts;
  };
  // "no" gives no policy from `restart:` (Docker's convertRestartPolicy returns none), so
  // Swarm's default applies: condition any, as for a service without `restart:`.
  const std::vector<Case> cases = {{"", "any", 0},
                                   {"no", "any", 0},
                                   {"always", "any", 0},
                                   {"unless-stopped", "any", 0},
                                   {"on-failure", "on-failure", 0},
                                   {"on-failure:3", "on-failure", 3}};
  for (const auto& c : cases) {
    compose::Project project;
    project.services = {imageService("web")};
    project.services[0].restart = c.restart;
    const api::RestartPolicy policy = converted(project).services.at(0).restartPolicy;
    EXPECT_EQ(policy.condition, c.condition) << c.restart;
    EXPECT_EQ(policy.maxAttempts, c.maxAttempts) << c.restart;
    EXPECT_EQ(policy.delayMs, 5000) << c.restart;
  }
}

TEST(ConvertTest, RestartNoLeavesSwarmsDefaultPolicy) {
  compose::Project project;
  project.services = {imageService("web")};
  project.services[0].restart = "no";
  const api::RestartPolicy policy = converted(project).services.at(0).restartPolicy;
  EXPECT_EQ(policy.condition, api::RestartPolicy{}.condition);
  EXPECT_EQ(policy.condition, "any");
  EXPECT_EQ(policy.maxAttempts, api::RestartPolicy{}.maxAttempts);
  EXPECT_EQ(policy.windowMs, api::RestartPolicy{}.windowMs);
}

TEST(ConvertTest, DeployRestartPolicyWinsOverRestartAndKeepsDefaultsForTheRest) {
  compose::Project project;
  project.services = {imageService("web")};
  project.services[0].restart = "no";
  project.services[0].deploy = compose::Deploy{};
  project.services[0].deploy->restartPolicy = compose::RestartPolicyEntry{};
  project.services[0].deploy->restartPolicy->maxAttempts = 5;
  project.services[0].deploy->restartPolicy->windowMs = 60000;
  const api::RestartPolicy policy = converted(project).services.at(0).restartPolicy;
  EXPECT_EQ(policy.condition, "any");
  EXPECT_EQ(policy.delayMs, 5000);
  EXPECT_EQ(policy.maxAttempts, 5);
  EXPECT_EQ(policy.windowMs, 60000);
}

// ---- healthcheck ----

TEST(ConvertTest, HealthcheckForms) {
  struct Case {
    std::vector<std::string> test;
    bool disable;
    std::optional<std::vector<std::string>> command;  // nullopt: no check
  };
  const std::vector<Case> cases = {
      {{"CMD", "wget", "-q", "localhost"},
       false,
       std::vector<std::string>{"wget", "-q", "localhost"}},
      {{"CMD-SHELL", "curl -f localhost || exit 1"},
       false,
       std::vector<std::string>{"/bin/sh", "-c", "curl -f localhost || exit 1"}},
      {{"NONE"}, false, std::nullopt},
      {{"CMD", "true"}, true, std::nullopt},
  };
  for (const auto& c : cases) {
    compose::Project project;
    project.services = {imageService("web")};
    compose::Healthcheck check;
    check.test = c.test;
    check.disable = c.disable;
    project.services[0].healthcheck = check;
    const auto health = converted(project).services.at(0).healthCheck;
    ASSERT_EQ(health.has_value(), c.command.has_value()) << c.test.front();
    if (health) {
      EXPECT_EQ(health->command, *c.command);
    }
  }
}

// fx-compose keeps a healthcheck that gives only timings (on Docker they refine the image's
// HEALTHCHECK) as an empty test; overmesh runs no image HEALTHCHECK, so there is no check
// (the schema warns), not a refusal.
TEST(ConvertTest, AHealthcheckWithOnlyTimingsGivesNoCheck) {
  compose::Project project;
  project.services = {imageService("web")};
  compose::Healthcheck check;
  check.intervalMs = 1000;
  check.retries = 2;
  check.mark = at(8);
  project.services[0].healthcheck = check;
  std::vector<std::string> warnings;
  auto request = convertProject(project, "web", {}, warnings);
  ASSERT_TRUE(request.has_value()) << request.error().message;
  EXPECT_FALSE(request->services.at(0).healthCheck.has_value());
  EXPECT_TRUE(warnings.empty());
}

TEST(ConvertTest, HealthcheckTimesDefaultToDockers) {
  compose::Project project;
  project.services = {imageService("web")};
  compose::Healthcheck check;
  check.test = {"CMD", "true"};
  check.intervalMs = 5000;
  check.retries = 5;
  project.services[0].healthcheck = check;
  const auto health = converted(project).services.at(0).healthCheck.value();
  EXPECT_EQ(health.intervalMs, 5000);
  EXPECT_EQ(health.timeoutMs, 30000);
  EXPECT_EQ(health.retries, 5);
  EXPECT_EQ(health.startPeriodMs, 0);
}

// ---- ports ----

TEST(ConvertTest, PortsAndAWarningForAHostIp) {
  compose::Project project;
  project.services = {imageService("web")};
  compose::PortEntry published{80, 8080, "tcp", "ingress", "", at(9)};
  compose::PortEntry host{53, 5353, "udp", "host", "127.0.0.1", at(10)};
  compose::PortEntry unpublished{443, 0, "tcp", "ingress", "", at(11)};
  project.services[0].ports = {published, host, unpublished};
  std::vector<std::string> warnings{"from the loader"};
  auto request = convertProject(project, "web", {}, warnings);
  ASSERT_TRUE(request.has_value()) << request.error().message;
  EXPECT_EQ(request->services[0].ports, (std::vector<api::PortConfig>{{"tcp", 80, 8080, "ingress"},
                                                                      {"udp", 53, 5353, "host"},
                                                                      {"tcp", 443, 0, "ingress"}}));
  EXPECT_EQ(warnings,
            (std::vector<std::string>{
                "from the loader",
                "web.yml:10: services.web.ports[1]: the host IP 127.0.0.1 is ignored: a "
                "published port listens on every node address (mode ingress) or every address "
                "of the task's node (mode host)"}));
}

// ---- networks ----

TEST(ConvertTest, NetworkNamesFollowDockersRules) {
  struct Case {
    std::string what;
    std::function<void(compose::NetworkEntry&)> declare;
    std::string name;
    bool external;
  };
  const std::vector<Case> cases = {
      {"no name: prefixed", [](compose::NetworkEntry&) {}, "web_back", false},
      {"name: as written", [](compose::NetworkEntry& e) { e.name = "shared"; }, "shared", false},
      {"external: the key", [](compose::NetworkEntry& e) { e.external = true; }, "back", true},
      {"external with a name",
       [](compose::NetworkEntry& e) {
         e.external = true;
         e.name = "chaos_net";
       },
       "chaos_net", true},
  };
  for (const auto& c : cases) {
    compose::Project project;
    compose::NetworkEntry entry = declaredNetwork("back");
    c.declare(entry);
    project.networks = {entry};
    project.services = {imageService("web")};
    project.services[0].networks = std::vector<compose::ServiceNetworkEntry>{joins("back")};
    auto request = converted(project);
    ASSERT_EQ(request.networks.size(), 1U) << c.what;
    EXPECT_EQ(request.networks[0].key, "back") << c.what;
    EXPECT_EQ(request.networks[0].name, c.name) << c.what;
    EXPECT_EQ(request.networks[0].external, c.external) << c.what;
    EXPECT_EQ(request.networks[0].source, "web.yml:20") << c.what;
    EXPECT_EQ(request.services[0].networks[0].target, c.name) << c.what;
  }
}

TEST(ConvertTest, AnExternalDefaultIsWhatServicesWithoutNetworksJoin) {
  compose::Project project;
  compose::NetworkEntry entry = declaredNetwork("default");
  entry.external = true;
  entry.name = "chaos_net";
  project.networks = {entry};
  project.services = {imageService("provider")};
  auto request = converted(project, "dubbo");
  ASSERT_EQ(request.networks.size(), 1U);
  EXPECT_EQ(request.networks[0].name, "chaos_net");
  EXPECT_TRUE(request.networks[0].external);
  EXPECT_EQ(request.services[0].networks[0].target, "chaos_net");
  EXPECT_EQ(request.services[0].networks[0].aliases, std::vector<std::string>{"provider"});
}

TEST(ConvertTest, OnlyUsedNetworksInOrderOfFirstUse) {
  compose::Project project;
  project.networks = {declaredNetwork("unused"), declaredNetwork("back"), declaredNetwork("front")};
  project.services = {imageService("web"), imageService("db")};
  project.services[0].networks =
      std::vector<compose::ServiceNetworkEntry>{joins("front"), joins("back")};
  project.services[1].networks = std::vector<compose::ServiceNetworkEntry>{joins("back")};
  auto request = converted(project);
  ASSERT_EQ(request.networks.size(), 2U);
  EXPECT_EQ(request.networks[0].name, "web_front");
  EXPECT_EQ(request.networks[1].name, "web_back");
  EXPECT_EQ(request.services[0].networks[0].target, "web_front");
  EXPECT_EQ(request.services[0].networks[1].target, "web_back");
}

TEST(ConvertTest, AliasesStartWithTheKeyAndAreNotRepeated) {
  compose::Project project;
  project.networks = {declaredNetwork("back")};
  project.services = {imageService("db")};
  project.services[0].networks = std::vector<compose::ServiceNetworkEntry>{
      joins("back", {"database", "db", "primary", "database"})};
  EXPECT_EQ(converted(project).services.at(0).networks.at(0).aliases,
            (std::vector<std::string>{"db", "database", "primary"}));
}

TEST(ConvertTest, CreatedNetworksCarryTheFilesSettings) {
  compose::Project project;
  compose::NetworkEntry entry = declaredNetwork("back");
  entry.driver = "overlay";
  entry.driverOpts = {{"com.docker.network.driver.mtu", "1400"}};
  entry.attachable = true;
  entry.internal = true;
  entry.labels = {{"purpose", "db"}, {"com.docker.stack.namespace", "not-this"}};
  entry.subnets = {"10.0.15.0/24"};
  project.networks = {entry};
  project.services = {imageService("db")};
  project.services[0].networks = std::vector<compose::ServiceNetworkEntry>{joins("back")};
  const api::NetworkCreateRequest create = converted(project).networks.at(0).create;
  EXPECT_EQ(create.name, "web_back");
  EXPECT_EQ(create.driver, "overlay");
  EXPECT_EQ(create.subnet, std::optional<std::string>("10.0.15.0/24"));
  EXPECT_TRUE(create.attachable);
  EXPECT_TRUE(create.internal);
  EXPECT_EQ(create.labels, (api::Labels{{"com.docker.stack.namespace", "web"}, {"purpose", "db"}}));
  EXPECT_EQ(create.options, (api::Labels{{"com.docker.network.driver.mtu", "1400"}}));
  // The manager refuses driver options its overlay does not support yet (all, today):
  // conversion copies them and leaves that judgement to it; the rest must pass.
  api::NetworkCreateRequest withoutOptions = create;
  withoutOptions.options.clear();
  auto valid = manager::validateNetworkCreate(withoutOptions);
  EXPECT_TRUE(valid.has_value()) << valid.error().message;
}

// ---- volumes ----

TEST(ConvertTest, VolumesBecomeMounts) {
  compose::Project project;
  compose::VolumeDeclaration data{"data", "", false, at(30)};
  compose::VolumeDeclaration named{"cache", "shared_cache", false, at(31)};
  compose::VolumeDeclaration external{"logs", "", true, at(32)};
  project.volumes = {data, named, external};
  compose::Service service = imageService("web");
  service.volumes = {
      {"bind", "./site", "/usr/share/nginx/html", true, at(12)},
      {"bind", "../conf/./nginx.conf", "/etc/nginx/nginx.conf", false, at(13)},
      {"bind", "/var//log/../run/", "/run/host", false, at(14)},
      {"volume", "data", "/var/lib/data", false, at(15)},
      {"volume", "cache", "/cache", false, at(16)},
      {"volume", "logs", "/logs", false, at(17)},
      {"volume", "", "/scratch", false, at(18)},
  };
  project.services = {service};
  const std::vector<api::Mount> mounts = converted(project).services.at(0).container.mounts;
  EXPECT_EQ(mounts, (std::vector<api::Mount>{
                        {"bind", "/srv/app/site", "/usr/share/nginx/html", true},
                        {"bind", "/srv/conf/nginx.conf", "/etc/nginx/nginx.conf", false},
                        {"bind", "/var/run", "/run/host", false},
                        {"volume", "web_data", "/var/lib/data", false},
                        {"volume", "shared_cache", "/cache", false},
                        {"volume", "logs", "/logs", false},
                        {"volume", "", "/scratch", false},
                    }));
}

// Docker expands "~" in a bind source with the deploying user's home ($HOME, which the CLI
// passes as homeDirectory); without one it is refused (see the refusals below).
TEST(ConvertTest, ATildeBindSourceIsTheDeployingUsersHome) {
  compose::Project project;
  compose::Service service = imageService("web");
  service.volumes = {
      {"bind", "~/site", "/site", true, at(12)},
      {"bind", "~", "/home", false, at(13)},
      {"bind", "~/a/../b//c/", "/c", false, at(14)},
  };
  project.services = {service};
  for (const std::string home : {"/home/ada", "/home/ada/"}) {
    ConvertOptions options;
    options.homeDirectory = home;
    std::vector<std::string> warnings;
    auto request = convertProject(project, "web", options, warnings);
    ASSERT_TRUE(request.has_value()) << request.error().message;
    EXPECT_EQ(request->services.at(0).container.mounts,
              (std::vector<api::Mount>{{"bind", "/home/ada/site", "/site", true},
                                       {"bind", "/home/ada", "/home", false},
                                       {"bind", "/home/ada/b/c", "/c", false}}))
        << home;
  }
  ConvertOptions relative;
  relative.homeDirectory = "home/ada";  // not absolute: as unknown
  std::vector<std::string> warnings;
  auto refused = convertProject(project, "web", relative, warnings);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message,
            "web.yml:12: services.web.volumes[0]: the bind source \"~/site\": ~ is the "
            "deploying user's home, which is not known here ($HOME is not set to an absolute "
            "path): write an absolute path");
}

TEST(ConvertTest, ARelativeFileDirectoryIsTakenFromTheWorkingDirectory) {
  struct Case {
    std::string directory;  // as the loader names it: from the -c argument
    std::string source;
  };
  const std::vector<Case> cases = {{".", "/home/ann/proj/site"},
                                   {"", "/home/ann/proj/site"},
                                   {"stacks", "/home/ann/proj/stacks/site"},
                                   {"../other", "/home/ann/other/site"},
                                   {"/etc/stacks", "/etc/stacks/site"}};
  for (const auto& c : cases) {
    compose::Project project;
    project.services = {imageService("web")};
    project.services[0].directory = c.directory;
    project.services[0].volumes = {{"bind", "./site", "/site", false, at(12)}};
    std::vector<std::string> warnings;
    ConvertOptions options;
    options.workingDirectory = "/home/ann/proj";
    auto request = convertProject(project, "web", options, warnings);
    ASSERT_TRUE(request.has_value()) << c.directory << ": " << request.error().message;
    EXPECT_EQ(request->services[0].container.mounts.at(0).source, c.source) << c.directory;
  }
}

TEST(ConvertTest, NormalisesAbsolutePathsLexically) {
  EXPECT_EQ(normaliseAbsolutePath("/"), "/");
  EXPECT_EQ(normaliseAbsolutePath("/a/b/../../.."), "/");
  EXPECT_EQ(normaliseAbsolutePath("//a/./b//c/"), "/a/b/c");
  EXPECT_EQ(normaliseAbsolutePath("/srv/app/./site"), "/srv/app/site");
}

// ---- the converted specs are what the manager accepts ----

TEST(ConvertTest, ARichServicePassesTheManagersValidation) {
  compose::Project project;
  project.networks = {declaredNetwork("back")};
  project.volumes = {{"data", "", false, at(30)}};
  compose::Service service = imageService("db", "postgres:16");
  service.command = std::vector<std::string>{"postgres", "-c", "max_connections=50"};
  service.environment = {{"POSTGRES_PASSWORD", "x"}};
  service.networks = std::vector<compose::ServiceNetworkEntry>{joins("back", {"database"})};
  service.volumes = {{"volume", "data", "/var/lib/postgresql/data", false, at(12)},
                     {"bind", "./init", "/docker-entrypoint-initdb.d", true, at(13)}};
  compose::Healthcheck check;
  check.test = {"CMD-SHELL", "pg_isready"};
  service.healthcheck = check;
  service.ports = {{5432, 0, "tcp", "host", "", at(9)}};
  service.init = true;
  service.stopSignal = "SIGINT";
  service.labels = {{"team", "data"}};
  compose::Deploy deploy;
  deploy.replicas = 2;
  deploy.constraints = {"node.labels.disk==ssd"};
  deploy.labels = {{"backup", "daily"}};
  service.deploy = deploy;
  project.services = {service, imageService("web")};
  for (const auto& spec : converted(project).services) {
    auto valid = manager::validateServiceSpec(spec);
    EXPECT_TRUE(valid.has_value()) << spec.name << ": " << valid.error().message;
  }
}

TEST(ConvertTest, PassesPruneAndResolveImage) {
  compose::Project project;
  project.services = {imageService("web")};
  std::vector<std::string> warnings;
  auto request = convertProject(project, "web", {true, "never"}, warnings);
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->stack, "web");
  EXPECT_TRUE(request->prune);
  EXPECT_EQ(request->resolveImage, "never");
}

// ---- where each service was declared (for the manager's messages) ----

TEST(ConvertTest, ServiceSourcesNameFileLineAndKey) {
  compose::Project project;
  compose::Service web = imageService("web");
  compose::Service api = imageService("api");
  api.mark = compose::Mark{"/srv/app/over\nride.yml", 12, 3};
  compose::Service built = imageService("built");
  built.mark = compose::Mark{};  // made by the program: no line to name
  project.services = {web, api, built};
  const api::StackDeployRequest request = converted(project);
  EXPECT_EQ(request.serviceSources, (std::map<std::string, std::string>{
                                        {"web_web", "web.yml:3: services.web"},
                                        {"web_api", "/srv/app/over\\nride.yml:12: services.api"},
                                        {"web_built", "services.built"},
                                    }));
}

// The schema (compose/) refuses undeclared networks and volumes before conversion; a
// Project built by hand that has them still converts, with Docker's names, rather than
// failing or reading past a missing network.
TEST(ConvertTest, UndeclaredKeysInAHandBuiltProjectGetDockersNames) {
  compose::Project project;
  compose::Service service = imageService("web");
  service.networks = std::vector<compose::ServiceNetworkEntry>{joins("front")};
  service.volumes = {{"volume", "data", "/data", false, at(12)}};
  project.services = {service};
  const api::StackDeployRequest request = converted(project);
  ASSERT_EQ(request.networks.size(), 1u);
  EXPECT_EQ(request.networks[0].name, "web_front");
  EXPECT_EQ(request.services.at(0).networks.at(0).target, "web_front");
  EXPECT_EQ(request.services.at(0).container.mounts.at(0).source, "web_data");
}

// ---- refusals, with their exact texts ----

struct RefusalCase {
  std::string what;
  std::function<void(compose::Project&)> change;
  std::string message;
};

void PrintTo(const RefusalCase& refusal, std::ostream* out) { *out << refusal.what; }

class ConvertRefusalTest : public ::testing::TestWithParam<RefusalCase> {};

TEST_P(ConvertRefusalTest, RefusesNamingFileLineAndKey) {
  compose::Project project;
  project.networks = {declaredNetwork("back")};
  project.services = {imageService("web")};
  GetParam().change(project);
  std::vector<std::string> warnings;
  auto request = convertProject(project, "web", {}, warnings);
  ASSERT_FALSE(request.has_value());
  EXPECT_EQ(request.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(request.error().message, GetParam().message);
  EXPECT_TRUE(warnings.empty());
}

const std::vector<RefusalCase> kRefusals = {
    {"driver bridge",
     [](compose::Project& p) {
       p.networks[0].driver = "bridge";
       p.services[0].networks = std::vector<compose::ServiceNetworkEntry>{joins("back")};
     },
     "web.yml:20: networks.back.driver: \"bridge\" is not supported: stack networks span the "
     "cluster's nodes, so the only valid driver is overlay"},
    {"two subnets",
     [](compose::Project& p) {
       p.networks[0].subnets = {"10.0.1.0/24", "10.0.2.0/24"};
       p.services[0].networks = std::vector<compose::ServiceNetworkEntry>{joins("back")};
     },
     "web.yml:20: networks.back.ipam.config: 2 subnets are given: an overmesh network has one "
     "subnet, so give at most one ipam.config entry with a subnet"},
    {"two keys, one name",
     [](compose::Project& p) {
       p.networks[0].name = "shared";
       compose::NetworkEntry other = declaredNetwork("front");
       other.name = "shared";
       p.networks.push_back(other);
       p.services[0].networks =
           std::vector<compose::ServiceNetworkEntry>{joins("back"), joins("front")};
     },
     "web.yml:20: networks.front: its network name \"shared\" is also the name of "
     "networks.back (web.yml:20): two keys cannot name one network: give one of them a "
     "different name:"},
    {"a declared key named like the implicit default, used after it",
     [](compose::Project& p) {
       p.networks[0].name = "web_default";
       p.networks[0].mark = at(24);
       compose::Service other = imageService("api");
       other.networks = std::vector<compose::ServiceNetworkEntry>{joins("back")};
       p.services.push_back(other);  // web (no networks:) uses default first
     },
     "web.yml:24: networks.back: its network name \"web_default\" is also the name of "
     "networks.default (implicit: no file declares it): two keys cannot name one network: "
     "give networks.back a different name:, or declare networks.default with the settings "
     "you want"},
    {"a declared key named like the implicit default, used before it",
     [](compose::Project& p) {
       p.networks[0].name = "web_default";
       p.networks[0].mark = at(24);
       p.services[0].networks = std::vector<compose::ServiceNetworkEntry>{joins("back")};
       p.services.push_back(imageService("api"));  // api (no networks:) uses default next
     },
     "web.yml:24: networks.back: its network name \"web_default\" is also the name of "
     "networks.default (implicit: no file declares it): two keys cannot name one network: "
     "give networks.back a different name:, or declare networks.default with the settings "
     "you want"},
    {"invalid network name",
     [](compose::Project& p) {
       p.networks[0].name = "bad/name";
       p.services[0].networks = std::vector<compose::ServiceNetworkEntry>{joins("back")};
     },
     "web.yml:20: networks.back.name: the network name \"bad/name\" is not valid: use 1 to 63 "
     "letters, digits, '_', '.' and '-', starting with a letter or digit"},
    {"home directory bind",
     [](compose::Project& p) {
       p.services[0].volumes = {{"bind", "~/site", "/site", false, at(12)}};
     },
     "web.yml:12: services.web.volumes[0]: the bind source \"~/site\": ~ is the deploying "
     "user's home, which is not known here ($HOME is not set to an absolute path): write an "
     "absolute path"},
    {"relative bind without an absolute directory",
     [](compose::Project& p) {
       p.services[0].directory = "conf";
       p.services[0].volumes = {{"bind", "./site", "/site", false, at(12)}};
     },
     "web.yml:12: services.web.volumes[0]: the bind source \"./site\" is relative, and the "
     "file's directory \"conf\" is not absolute: write an absolute path"},
    {"tmpfs",
     [](compose::Project& p) {
       p.services[0].volumes = {{"tmpfs", "", "/tmp", false, at(12)}};
     },
     "web.yml:12: services.web.volumes[0]: tmpfs volumes are not supported yet: use a named "
     "volume or a bind mount"},
    {"init without an image",
     [](compose::Project& p) {
       p.services[0].image = "";
       p.services[0].command = std::vector<std::string>{"sleep", "1000"};
       p.services[0].init = true;
     },
     "web.yml:3: services.web.init: needs an image: a service without image: runs its "
     "command as a process on the node's own filesystem, where init cannot apply: add "
     "image: or remove init"},
    {"volumes without an image",
     [](compose::Project& p) {
       p.services[0].image = "";
       p.services[0].command = std::vector<std::string>{"sleep", "1000"};
       p.services[0].volumes = {{"bind", "/data", "/data", false, at(12)}};
     },
     "web.yml:3: services.web.volumes: needs an image: a service without image: runs its "
     "command as a process on the node's own filesystem, where volumes cannot apply: add "
     "image: or remove volumes"},
    {"working_dir without an image",
     [](compose::Project& p) {
       p.services[0].image = "";
       p.services[0].command = std::vector<std::string>{"sleep", "1000"};
       p.services[0].workingDir = "/app";
     },
     "web.yml:3: services.web.working_dir: needs an image: a service without image: runs its "
     "command as a process on the node's own filesystem, where working_dir cannot apply: add "
     "image: or remove working_dir"},
    {"neither image nor command", [](compose::Project& p) { p.services[0].image = ""; },
     "web.yml:3: services.web: needs an image or a command: give image: (e.g. nginx:1.25), or "
     "command: to run a process on the node"},
    {"service name too long", [](compose::Project& p) { p.services[0].key = std::string(60, 's'); },
     "web.yml:3: services." + std::string(60, 's') + ": the service name \"web_" +
         std::string(60, 's') +
         "\" is not valid: use 1 to 63 letters, digits, '_', '.' and '-' (a shorter stack "
         "name or service key)"},
};

INSTANTIATE_TEST_SUITE_P(Refusals, ConvertRefusalTest, ::testing::ValuesIn(kRefusals),
                         [](const ::testing::TestParamInfo<RefusalCase>& testInfo) {
                           std::string name;
                           for (char c : testInfo.param.what) {
                             name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           }
                           return name;
                         });

TEST(ConvertTest, RefusesAnUnknownResolveImage) {
  compose::Project project;
  project.services = {imageService("web")};
  std::vector<std::string> warnings;
  auto request = convertProject(project, "web", {false, "sometimes"}, warnings);
  ASSERT_FALSE(request.has_value());
  EXPECT_EQ(request.error().message,
            "--resolve-image \"sometimes\" is not valid: use always, changed or never");
}

TEST(ConvertTest, RefusesAnInvalidStackName) {
  compose::Project project;
  project.services = {imageService("web")};
  auto request = convert(project, "-web");
  ASSERT_FALSE(request.has_value());
  EXPECT_EQ(request.error().message,
            "invalid stack name \"-web\": use letters, digits, '_', '.' and '-', starting with "
            "a letter or digit");
}

}  // namespace
}  // namespace overmesh::stack
