// buildProject: valid files of every version, a real-world file, and each service key's
// forms. Invalid fixtures and their messages are in invalid_fixtures_test.cc.

#include "compose/project_builder.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/compose_schema_fixtures.h"

namespace overmesh::compose {
namespace {

using testing::buildFixture;
using testing::buildText;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ValidVersionTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ValidVersionTest, BuildsTheWebService) {
  Warnings warnings;
  auto project = buildFixture("valid/" + GetParam(), warnings);

  ASSERT_TRUE(project.has_value()) << project.error().message;
  ASSERT_EQ(project->services.size(), 1u);
  const Service& web = project->services[0];
  EXPECT_EQ(web.key, "web");
  EXPECT_EQ(web.image, "registry.lab:5000/web:1");
  ASSERT_EQ(web.ports.size(), 1u);
  EXPECT_EQ(web.ports[0].target, 80);
  EXPECT_EQ(web.ports[0].published, 8080);
  ASSERT_TRUE(web.networks.has_value());
  EXPECT_EQ(web.networks->at(0).key, "front");
  EXPECT_EQ(web.deploy->replicas, 2);
  EXPECT_EQ(web.directory, "valid");
}

INSTANTIATE_TEST_SUITE_P(Versions, ValidVersionTest,
                         ::testing::Values("v3.0.yml", "v3.1.yml", "v3.2.yml", "v3.3.yml",
                                           "v3.4.yml", "v3.5.yml", "v3.6.yml", "v3.7.yml",
                                           "v3.8.yml", "v3.9.yml"));

TEST(ProjectBuilderTest, KeepsTheVersionAndVersionSpecificKeys) {
  Warnings warnings;
  auto v32 = buildFixture("valid/v3.2.yml", warnings);
  auto v34 = buildFixture("valid/v3.4.yml", warnings);
  auto v38 = buildFixture("valid/v3.8.yml", warnings);

  ASSERT_TRUE(v32 && v34 && v38);
  EXPECT_EQ(v32->version, "3.2");
  EXPECT_EQ(v32->services[0].ports[0].mode, "host");
  EXPECT_EQ(v34->networks[0].name, "web-front");
  EXPECT_THAT(v38->services[0].deploy->constraints, ElementsAre("node.role == worker"));
  EXPECT_THAT(warnings, ElementsAre("Ignoring options overmesh does not support yet: "
                                    "deploy.placement.max_replicas_per_node (services.web)"));
}

TEST(ProjectBuilderTest, ReadsTheComposeSpecificationAndWarnsAboutItsName) {
  Warnings warnings;
  auto project = buildFixture("valid/spec.yml", warnings);

  ASSERT_TRUE(project.has_value()) << project.error().message;
  EXPECT_EQ(project->version, "");
  const Service& api = project->services[0];
  EXPECT_EQ(api.environment, (StringMap{{"MODE", "production"}}));
  ASSERT_TRUE(api.healthcheck.has_value());
  EXPECT_THAT(api.healthcheck->test,
              ElementsAre("CMD", "wget", "-q", "-O-", "http://localhost/health"));
  EXPECT_EQ(api.healthcheck->intervalMs, 10'000);
  EXPECT_EQ(api.healthcheck->startPeriodMs, 90'000);
  EXPECT_FALSE(api.networks.has_value());
  EXPECT_EQ(project->networks[0].key, "default");
  EXPECT_THAT(warnings, ElementsAre("Ignoring the project name \"shop\": a stack is named on "
                                    "the command line (stack deploy … STACK)"));
}

TEST(ProjectBuilderTest, BuildsARealWorldFileWithAnchorsExtensionsAndEnvFile) {
  Warnings warnings;
  auto project = buildFixture("realworld/stack.yml", warnings,
                              {{"SECRET_FROM_SHELL", "s3cret"}, {"FROM_SHELL", "shell"}});

  ASSERT_TRUE(project.has_value()) << project.error().message;
  ASSERT_EQ(project->services.size(), 3u);
  const Service& web = project->services[0];
  const Service& api = project->services[1];
  const Service& db = project->services[2];

  EXPECT_EQ(web.restart, "unless-stopped");
  EXPECT_EQ(web.labels, (StringMap{{"team", "shop"}}));
  EXPECT_EQ(web.deploy->replicas, 2);
  EXPECT_EQ(web.deploy->updateConfig->order, "start-first");
  EXPECT_THAT(web.healthcheck->test,
              ElementsAre("CMD-SHELL", "wget -q -O- http://localhost/ || exit 1"));
  EXPECT_EQ(web.healthcheck->retries, 3);
  EXPECT_EQ(web.ports.size(), 2u);
  ASSERT_EQ(web.volumes.size(), 1u);
  EXPECT_EQ(web.volumes[0].type, "bind");
  EXPECT_EQ(web.volumes[0].source, "./site");
  EXPECT_TRUE(web.volumes[0].readOnly);

  EXPECT_THAT(*api.command,
              ElementsAre("/app/api", "--listen", ":8000", "--db", "postgres://db:5432/shop"));
  EXPECT_EQ(api.environment, (StringMap{{"DB_POOL", "10"},
                                        {"DEBUG", "true"},
                                        {"FROM_SHELL", "shell"},
                                        {"LOG_LEVEL", "debug"},
                                        {"QUOTED", "\"kept with its quotes\""},
                                        {"SECRET_FROM_SHELL", "s3cret"}}));
  EXPECT_EQ(api.deploy->replicas, 3);
  EXPECT_EQ(api.deploy->updateConfig->parallelism, 1);
  EXPECT_EQ(api.deploy->labels, (StringMap{{"traefik.enable", "true"}}));
  ASSERT_EQ(api.networks->size(), 2u);
  EXPECT_THAT(api.networks->at(0).aliases, ElementsAre("backend"));
  EXPECT_EQ(api.networks->at(1).key, "back");

  EXPECT_EQ(db.environment, (StringMap{{"POSTGRES_DB", "shop"}}));
  EXPECT_EQ(db.stopGracePeriodMs, 60'000);
  EXPECT_EQ(db.volumes[0].type, "volume");
  EXPECT_EQ(db.volumes[0].source, "dbdata");
  EXPECT_THAT(db.deploy->constraints, ElementsAre("node.labels.disk == ssd"));

  EXPECT_EQ(project->networks.size(), 2u);
  EXPECT_TRUE(project->networks[1].internal.value_or(false));
  EXPECT_THAT(project->networks[1].subnets, ElementsAre("10.20.0.0/24"));
  EXPECT_EQ(project->volumes[0].key, "dbdata");

  EXPECT_THAT(warnings,
              ElementsAre("Ignoring unsupported options: build, links, restart",
                          "Ignoring deprecated options: container_name (a service runs many "
                          "containers, which the orchestrator names: one name cannot fit them "
                          "all), expose (services on a shared network reach each other's "
                          "containers on every port without it)",
                          "Ignoring options overmesh does not support yet: deploy.resources "
                          "(services.db)"));
}

TEST(ProjectBuilderTest, AFileWithOnlyNetworksHasNoServices) {
  Warnings warnings;
  auto project = buildText("version: \"3.9\"\nnetworks:\n  shared:\n", warnings);

  ASSERT_TRUE(project.has_value()) << project.error().message;
  EXPECT_TRUE(project->services.empty());
  ASSERT_EQ(project->networks.size(), 1u);
  EXPECT_EQ(project->networks[0].key, "shared");
  EXPECT_TRUE(warnings.empty());
}

TEST(ProjectBuilderTest, NullMappingsAreEmpty) {
  Warnings warnings;
  auto project = buildText(
      "services:\n  web:\n    image: web:1\n    networks:\n"
      "      default:\n    deploy:\n    environment:\nnetworks:\nvolumes:\n",
      warnings);

  ASSERT_TRUE(project.has_value()) << project.error().message;
  ASSERT_TRUE(project->services[0].networks.has_value());
  EXPECT_EQ(project->services[0].networks->at(0).key, "default");
  EXPECT_TRUE(project->services[0].deploy.has_value());
  EXPECT_TRUE(project->services[0].environment.empty());
}

TEST(ProjectBuilderTest, ExtensionFieldsAreIgnoredEverywhere) {
  Warnings warnings;
  auto project = buildText(
      "x-top: 1\nservices:\n  x-not-a-service: {}\n  web:\n    image: web:1\n    x-svc: a\n"
      "    deploy:\n      x-d: 1\n      placement:\n        x-p: 2\n"
      "networks:\n  x-n: {}\n  front:\n    x-f: 3\n",
      warnings);

  ASSERT_TRUE(project.has_value()) << project.error().message;
  EXPECT_EQ(project->services.size(), 1u);
  EXPECT_EQ(project->networks.size(), 1u);
}

TEST(ProjectBuilderTest, ExpandsPortRangesAndKeepsHostAddresses) {
  Warnings warnings;
  auto project = buildText(
      "services:\n  web:\n    image: web:1\n    ports:\n      - 80\n"
      "      - \"8000-8001:90-91/udp\"\n      - \"127.0.0.1:9000:9000\"\n"
      "      - \"[::1]:9443:443\"\n      - \"127.0.0.1::5000\"\n"
      "      - target: 53\n        published: \"5353\"\n        protocol: udp\n",
      warnings);

  ASSERT_TRUE(project.has_value()) << project.error().message;
  const auto& ports = project->services[0].ports;
  ASSERT_EQ(ports.size(), 7u);
  EXPECT_EQ(ports[0].target, 80);
  EXPECT_EQ(ports[0].published, 0);
  EXPECT_EQ(ports[1].published, 8000);
  EXPECT_EQ(ports[1].target, 90);
  EXPECT_EQ(ports[2].published, 8001);
  EXPECT_EQ(ports[2].target, 91);
  EXPECT_EQ(ports[2].protocol, "udp");
  EXPECT_EQ(ports[3].hostIp, "127.0.0.1");
  EXPECT_EQ(ports[4].hostIp, "::1");
  EXPECT_EQ(ports[4].published, 9443);
  EXPECT_EQ(ports[5].published, 0);
  EXPECT_EQ(ports[6].published, 5353);
  EXPECT_EQ(ports[6].protocol, "udp");
  EXPECT_EQ(ports[6].mode, "ingress");
}

TEST(ProjectBuilderTest, RefusesARangeBeyondTheServiceBound) {
  Warnings warnings;
  auto project =
      buildText("services:\n  web:\n    image: web:1\n    ports:\n      - \"1-65535\"\n", warnings);

  ASSERT_FALSE(project.has_value());
  EXPECT_EQ(project.error().message,
            "stack.yml:5: services.web.ports[0]: too many ports: a service publishes at most "
            "1024 ports");
}

TEST(ProjectBuilderTest, ReadsVolumesInBothSyntaxes) {
  Warnings warnings;
  auto project = buildText(
      "services:\n  web:\n    image: web:1\n    volumes:\n      - /cache\n"
      "      - data:/data:ro\n      - ~/conf:/etc/conf:rw,z\n"
      "      - type: tmpfs\n        target: /run\n"
      "      - type: bind\n        source: /srv\n        target: /srv\n        read_only: yes\n"
      "        bind:\n          propagation: rslave\n"
      "volumes:\n  data:\n    external: true\n",
      warnings);

  ASSERT_TRUE(project.has_value()) << project.error().message;
  const auto& volumes = project->services[0].volumes;
  ASSERT_EQ(volumes.size(), 5u);
  EXPECT_EQ(volumes[0].type, "volume");
  EXPECT_EQ(volumes[0].source, "");
  EXPECT_EQ(volumes[1].type, "volume");
  EXPECT_TRUE(volumes[1].readOnly);
  EXPECT_EQ(volumes[2].type, "bind");
  EXPECT_FALSE(volumes[2].readOnly);
  EXPECT_EQ(volumes[3].type, "tmpfs");
  EXPECT_TRUE(volumes[4].readOnly);
  EXPECT_TRUE(project->volumes[0].external);
  EXPECT_THAT(warnings, ElementsAre("Ignoring options overmesh does not support yet: "
                                    "volumes[4].bind (services.web)"));
}

TEST(ProjectBuilderTest, ReadsCommandsAsListsOrShellWords) {
  Warnings warnings;
  auto project = buildText(
      "services:\n  web:\n    image: web:1\n    entrypoint: [\"/bin/sh\", \"-c\"]\n"
      "    command: 'echo \"$$HOME is home\"'\n  idle:\n    image: web:1\n    command: \"\"\n",
      warnings);

  ASSERT_TRUE(project.has_value()) << project.error().message;
  EXPECT_THAT(*project->services[0].entrypoint, ElementsAre("/bin/sh", "-c"));
  EXPECT_THAT(*project->services[0].command, ElementsAre("echo", "$$HOME is home"));
  ASSERT_TRUE(project->services[1].command.has_value());
  EXPECT_TRUE(project->services[1].command->empty());
  EXPECT_FALSE(project->services[1].entrypoint.has_value());
}

TEST(ProjectBuilderTest, EnvironmentWinsOverEnvFileAndEmptyKeysComeFromTheEnvironment) {
  Warnings warnings;
  FileReader reader = [](const std::string& path) -> Result<std::string> {
    if (path == "conf/app.env") {
      return std::string("A=from-file\nB=from-file\n");
    }
    return errorf(ErrorKind::NotFound, "no such file: {}", path);
  };
  auto tree = parseYaml(
      "services:\n  web:\n    image: web:1\n    env_file: app.env\n"
      "    environment:\n      - B=from-environment\n      - C\n      - D\n",
      "conf/stack.yml");
  ASSERT_TRUE(tree.has_value()) << tree.error().message;
  auto project = buildProject(*tree, {{"C", "from-shell"}}, reader, warnings,
                              workingDirectory("conf/stack.yml"));

  ASSERT_TRUE(project.has_value()) << project.error().message;
  EXPECT_EQ(project->services[0].environment,
            (StringMap{{"A", "from-file"}, {"B", "from-environment"}, {"C", "from-shell"}}));
  EXPECT_EQ(project->services[0].directory, "conf");
}

TEST(ProjectBuilderTest, ReadsDeployAndHealthcheckSettings) {
  Warnings warnings;
  auto project = buildText(
      "services:\n  web:\n    image: web:1\n    init: \"true\"\n    read_only: off\n"
      "    stop_signal: SIGQUIT\n    user: \"1000:1000\"\n    working_dir: /app\n"
      "    hostname: web-host\n    restart: on-failure:3\n"
      "    healthcheck:\n      test: [\"NONE\"]\n"
      "    deploy:\n      mode: global\n      endpoint_mode: dnsrr\n"
      "      restart_policy:\n        condition: any\n        delay: 5s\n"
      "        max_attempts: 4\n        window: 2m\n"
      "      update_config:\n        delay: 500ms\n        monitor: 10s\n"
      "      rollback_config:\n        parallelism: 1\n"
      "      labels:\n        com.example.tier: front\n",
      warnings);

  ASSERT_TRUE(project.has_value()) << project.error().message;
  const Service& web = project->services[0];
  EXPECT_EQ(web.init, true);
  EXPECT_EQ(web.readOnly, false);
  EXPECT_EQ(web.stopSignal, "SIGQUIT");
  EXPECT_EQ(web.user, "1000:1000");
  EXPECT_EQ(web.workingDir, "/app");
  EXPECT_EQ(web.hostname, "web-host");
  EXPECT_EQ(web.restart, "on-failure:3");
  EXPECT_TRUE(web.healthcheck->disable);
  EXPECT_EQ(web.deploy->mode, "global");
  EXPECT_FALSE(web.deploy->replicas.has_value());
  EXPECT_EQ(web.deploy->endpointMode, "dnsrr");
  EXPECT_EQ(web.deploy->restartPolicy->condition, "any");
  EXPECT_EQ(web.deploy->restartPolicy->delayMs, 5000);
  EXPECT_EQ(web.deploy->restartPolicy->maxAttempts, 4);
  EXPECT_EQ(web.deploy->restartPolicy->windowMs, 120'000);
  EXPECT_EQ(web.deploy->updateConfig->delayMs, 500);
  EXPECT_EQ(web.deploy->labels, (StringMap{{"com.example.tier", "front"}}));
  EXPECT_THAT(warnings,
              ElementsAre("Ignoring unsupported options: restart",
                          "Ignoring options overmesh does not support yet: "
                          "deploy.update_config.monitor (services.web), deploy.rollback_config "
                          "(services.web)"));
}

TEST(ProjectBuilderTest, ReadsExternalNetworksInBothForms) {
  Warnings warnings;
  auto project = buildText(
      "services:\n  web:\n    image: web:1\n    networks: [proxy, legacy, plain]\n"
      "networks:\n  proxy:\n    external: true\n    name: traefik-public\n"
      "  legacy:\n    external:\n      name: old-net\n  plain:\n    external: true\n",
      warnings);

  ASSERT_TRUE(project.has_value()) << project.error().message;
  const auto& networks = project->networks;
  ASSERT_EQ(networks.size(), 3u);
  EXPECT_TRUE(networks[0].external);
  EXPECT_EQ(networks[0].name, "traefik-public");
  EXPECT_TRUE(networks[1].external);
  EXPECT_EQ(networks[1].name, "old-net");
  EXPECT_TRUE(networks[2].external);
  EXPECT_EQ(networks[2].name, "");
}

TEST(ProjectBuilderTest, ServiceNetworkAddressesAreWarnedAbout) {
  Warnings warnings;
  auto project = buildText(
      "services:\n  web:\n    image: web:1\n    networks:\n      front:\n"
      "        ipv4_address: 10.0.0.5\nnetworks:\n  front:\n",
      warnings);

  ASSERT_TRUE(project.has_value()) << project.error().message;
  EXPECT_THAT(warnings, ElementsAre("Ignoring options overmesh does not support yet: "
                                    "networks.front.ipv4_address (services.web)"));
}

TEST(ProjectBuilderTest, UnsupportedKeysAreListedOnceAcrossServicesSorted) {
  Warnings warnings;
  auto project = buildText(
      "services:\n  a:\n    image: a\n    privileged: true\n    build: .\n"
      "  b:\n    image: b\n    build: .\n    links: [a]\n",
      warnings);

  ASSERT_TRUE(project.has_value()) << project.error().message;
  EXPECT_THAT(warnings, ElementsAre("Ignoring unsupported options: build, links, privileged"));
}

// Swarm runs these (docker/cli does not list them as unsupported): overmesh says that it
// is overmesh that ignores them.
TEST(ProjectBuilderTest, KeysSwarmRunsAreIgnoredAsNotYetSupported) {
  Warnings warnings;
  auto project = buildText(
      "services:\n  web:\n    image: web:1\n    cap_add: [NET_ADMIN]\n    cap_drop: [ALL]\n"
      "    dns: 10.0.0.2\n    dns_search: example.com\n    extra_hosts: [\"db:10.0.0.3\"]\n"
      "    logging:\n      driver: json-file\n    sysctls:\n      net.core.somaxconn: 1024\n"
      "    tmpfs: /run\n    tty: true\n    stdin_open: true\n    ulimits:\n      nofile: 1024\n"
      "    security_opt: [no-new-privileges]\n",
      warnings);

  ASSERT_TRUE(project.has_value()) << project.error().message;
  EXPECT_THAT(warnings,
              ElementsAre("Ignoring unsupported options: security_opt",
                          "Ignoring options overmesh does not support yet: cap_add "
                          "(services.web), cap_drop (services.web), dns (services.web), "
                          "dns_search (services.web), extra_hosts (services.web), logging "
                          "(services.web), sysctls (services.web), tmpfs (services.web), tty "
                          "(services.web), stdin_open (services.web), ulimits (services.web)"));
}

TEST(ProjectBuilderTest, HealthcheckTimingsWithoutATestAreAcceptedWithAWarning) {
  Warnings warnings;
  auto project = buildText(
      "services:\n  web:\n    image: web:1\n    healthcheck:\n      interval: 5s\n"
      "      retries: 2\n",
      warnings);

  ASSERT_TRUE(project.has_value()) << project.error().message;
  const Healthcheck& check = *project->services[0].healthcheck;
  EXPECT_TRUE(check.test.empty());
  EXPECT_FALSE(check.disable);
  EXPECT_EQ(check.intervalMs, 5000);
  EXPECT_THAT(warnings, ElementsAre("services.web.healthcheck: no test: overmesh does not run the "
                                    "image's own HEALTHCHECK yet, so these timings are ignored"));
}

TEST(ProjectBuilderTest, RefusesJobModes) {
  for (const char* mode : {"replicated-job", "global-job"}) {
    Warnings warnings;
    auto project = buildText(
        fmt::format("services:\n  web:\n    image: web:1\n    deploy:\n      mode: {}\n", mode),
        warnings);

    ASSERT_FALSE(project.has_value()) << mode;
    EXPECT_EQ(project.error().message,
              "stack.yml:5: services.web.deploy.mode: jobs are not supported by overmesh yet: "
              "use replicated or global");
  }
}

// docker/cli resolves relative paths against the first -c file's directory, whichever
// file names them.
TEST(ProjectBuilderTest, EnvFilesAndBindPathsResolveAgainstTheWorkingDirectory) {
  Warnings warnings;
  std::vector<std::string> read;
  FileReader reader = [&](const std::string& path) -> Result<std::string> {
    read.push_back(path);
    return std::string("A=1\n");
  };
  auto tree =
      parseYaml("services:\n  web:\n    image: web:1\n    env_file: app.env\n", "override/web.yml");
  ASSERT_TRUE(tree.has_value()) << tree.error().message;
  auto project = buildProject(*tree, {}, reader, warnings, "stacks");

  ASSERT_TRUE(project.has_value()) << project.error().message;
  EXPECT_THAT(read, ElementsAre("stacks/app.env"));
  EXPECT_EQ(project->services[0].directory, "stacks");

  // `~` is not joined to the directory (the reader gets it as written).
  read.clear();
  tree = parseYaml("services:\n  web:\n    image: web:1\n    env_file: [~/a.env, /b.env]\n",
                   "web.yml");
  ASSERT_TRUE(tree.has_value()) << tree.error().message;
  project = buildProject(*tree, {}, reader, warnings, "stacks");
  ASSERT_TRUE(project.has_value()) << project.error().message;
  EXPECT_THAT(read, ElementsAre("~/a.env", "/b.env"));
}

TEST(ProjectBuilderTest, AnUnknownKeyWithNothingCloseListsTheValidKeys) {
  Warnings warnings;
  auto project = buildText(
      "services:\n  web:\n    image: web:1\n    healthcheck:\n"
      "      frequency: 10s\n",
      warnings);

  ASSERT_FALSE(project.has_value());
  EXPECT_EQ(project.error().message,
            "stack.yml:5: services.web.healthcheck.frequency: unknown key: valid keys are "
            "disable, interval, retries, start_period, test, timeout (and x-* extension "
            "fields)");
}

TEST(ProjectBuilderTest, TheRootMustBeAMapping) {
  Warnings warnings;
  auto project = buildText("- web\n", warnings);

  ASSERT_FALSE(project.has_value());
  EXPECT_THAT(project.error().message, HasSubstr("stack.yml:1: (top level): the file is not a "
                                                 "mapping"));
}

TEST(ProjectBuilderTest, AnErrorLeavesTheWarningsUntouched) {
  Warnings warnings;
  auto project = buildText(
      "services:\n  web:\n    image: web:1\n    build: .\n"
      "  bad:\n    image: b\n    cpuset: \"0\"\n",
      warnings);

  ASSERT_FALSE(project.has_value());
  EXPECT_TRUE(warnings.empty());
}

TEST(ProjectBuilderTest, TheProjectNameMustBeASingleValue) {
  Warnings warnings;
  auto project = buildText("name: [a]\nservices: {}\n", warnings);

  ASSERT_FALSE(project.has_value());
  EXPECT_EQ(project.error().message,
            "stack.yml:1: name: expected a single value, found a list: use a project name "
            "(ignored by stack deploy)");
}

TEST(ProjectBuilderTest, EmptyConfigsAndSecretsSectionsAreAccepted) {
  Warnings warnings;
  auto project = buildText("services: {}\nconfigs: {}\nsecrets:\n", warnings);

  EXPECT_TRUE(project.has_value()) << project.error().message;
}

}  // namespace
}  // namespace overmesh::compose
