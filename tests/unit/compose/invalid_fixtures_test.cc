// One invalid fixture per schema rule, with the exact error it must give.

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "compose/project_builder.h"
#include "support/compose_schema_fixtures.h"

namespace overmesh::compose {
namespace {

struct InvalidCase {
  std::string fixture;
  std::string error;
};

void PrintTo(const InvalidCase& c, std::ostream* os) { *os << c.fixture; }

class InvalidFixtureTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidFixtureTest, IsRefusedWithItsMessage) {
  Warnings warnings;
  auto project = testing::buildFixture("invalid/" + GetParam().fixture, warnings);

  ASSERT_FALSE(project.has_value());
  EXPECT_EQ(project.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(project.error().message, GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Rules, InvalidFixtureTest,
    ::testing::Values(
        InvalidCase{"version-2.yml",
                    "invalid/version-2.yml:1: version: version \"2.4\" is not supported: version 1 "
                    "and 2.x files are docker-compose files; `stack deploy` reads 3.x (3.0–3.9) or "
                    "the Compose Specification (no version)"},
        InvalidCase{"version-3-10.yml",
                    "invalid/version-3-10.yml:1: version: version \"3.10\" is not supported: "
                    "`stack deploy` reads 3.x (3.0–3.9) or the Compose Specification (no version)"},
        InvalidCase{"unknown-top-level-key.yml",
                    "invalid/unknown-top-level-key.yml:2: service: unknown key (did you mean "
                    "\"services\"?): valid keys are configs, name, networks, secrets, services, "
                    "version, volumes (and x-* extension fields)"},
        InvalidCase{
            "unknown-service-key.yml",
            "invalid/unknown-service-key.yml:3: services.web.imag: unknown key (did you mean "
            "\"image\"?): valid keys are build, cap_add, cap_drop, cgroup_parent, command, "
            "configs, container_name, cpu_quota, cpu_shares, cpuset, credential_spec, deploy, "
            "depends_on, devices, dns, dns_search, domainname, entrypoint, env_file, environment, "
            "expose, extends, external_links, extra_hosts, healthcheck, hostname, image, init, "
            "ipc, isolation, labels, links, logging, mac_address, mem_limit, memswap_limit, "
            "network_mode, networks, pid, ports, privileged, read_only, restart, secrets, "
            "security_opt, shm_size, stdin_open, stop_grace_period, stop_signal, sysctls, tmpfs, "
            "tty, ulimits, user, userns_mode, volume_driver, volumes, volumes_from, working_dir "
            "(and x-* extension fields)"},
        InvalidCase{
            "unknown-deploy-key.yml",
            "invalid/unknown-deploy-key.yml:5: services.web.deploy.replica: unknown key (did you "
            "mean \"replicas\"?): valid keys are endpoint_mode, labels, mode, placement, replicas, "
            "resources, restart_policy, rollback_config, update_config (and x-* extension fields)"},
        InvalidCase{"replicas-not-a-number.yml",
                    "invalid/replicas-not-a-number.yml:5: services.web.deploy.replicas: \"three\" "
                    "is not a number: use a whole number from 0 to 1000000"},
        InvalidCase{"replicas-fraction.yml",
                    "invalid/replicas-fraction.yml:5: services.web.deploy.replicas: \"1.5\" is not "
                    "a whole number: use a whole number from 0 to 1000000"},
        InvalidCase{"replicas-negative.yml",
                    "invalid/replicas-negative.yml:5: services.web.deploy.replicas: \"-1\" is out "
                    "of range: use a whole number from 0 to 1000000"},
        InvalidCase{"replicas-with-global.yml",
                    "invalid/replicas-with-global.yml:6: services.web.deploy.replicas: replicas "
                    "cannot be used with mode global: a global service runs one task per node: "
                    "remove replicas, or use mode replicated"},
        InvalidCase{"boolean-invalid.yml",
                    "invalid/boolean-invalid.yml:4: services.web.read_only: \"maybe\" is not a "
                    "boolean: use true or false (yes/no and on/off also work)"},
        InvalidCase{"duration-bare-number.yml",
                    "invalid/duration-bare-number.yml:4: services.web.stop_grace_period: \"10\" is "
                    "not a duration: use a duration: numbers with units h, m, s, ms, us or ns, "
                    "e.g. 500ms, 1.5s, 1m30s (at most 1000000000ms)"},
        InvalidCase{"port-range-sizes.yml",
                    "invalid/port-range-sizes.yml:6: services.web.ports[1]: the published ports "
                    "\"8000-8002\" and the target ports \"80-81\" differ in number: give ranges of "
                    "the same size"},
        InvalidCase{
            "port-out-of-range.yml",
            "invalid/port-out-of-range.yml:5: services.web.ports[0]: \"70000\" is not a port or a "
            "port range: use \"TARGET\", \"PUBLISHED:TARGET\", \"IP:PUBLISHED:TARGET\" (ports or "
            "equal-sized ranges like 8000-8001, from 1 to 65535), optionally with /tcp or /udp"},
        InvalidCase{"port-protocol.yml",
                    "invalid/port-protocol.yml:5: services.web.ports[0]: the protocol \"sctp\" is "
                    "not supported: use /tcp or /udp"},
        InvalidCase{"port-long-mode.yml",
                    "invalid/port-long-mode.yml:7: services.web.ports[0].mode: \"bridge\" is not "
                    "valid here: use one of ingress, host"},
        InvalidCase{"volume-relative-target.yml",
                    "invalid/volume-relative-target.yml:5: services.web.volumes[0]: the target "
                    "\"usr/share/html\" is not an absolute path: use \"TARGET\", \"SOURCE:TARGET\" "
                    "or \"SOURCE:TARGET:ro\" with an absolute TARGET; SOURCE is a path (starting "
                    "with /, . or ~) or a volume name"},
        InvalidCase{"volume-undeclared.yml",
                    "invalid/volume-undeclared.yml:5: services.web.volumes[0]: the volume \"data\" "
                    "is not declared: declare it under the top-level volumes:, or mount a path "
                    "(starting with /, . or ~)"},
        InvalidCase{
            "network-undeclared.yml",
            "invalid/network-undeclared.yml:5: services.web.networks.front: the network \"front\" "
            "is not declared: declare it under the top-level networks: (or use default)"},
        InvalidCase{"service-name.yml",
                    "invalid/service-name.yml:2: services._web: \"_web\" is not a valid service "
                    "name: use letters, digits, '_', '.' and '-', starting with a letter or digit"},
        InvalidCase{
            "network-name.yml",
            "invalid/network-name.yml:5: networks.front end: \"front end\" is not a valid network "
            "name: use letters, digits, '_', '.' and '-', starting with a letter or digit"},
        InvalidCase{"forbidden-extends.yml",
                    "invalid/forbidden-extends.yml:4: services.web.extends: this option is not "
                    "allowed in a stack: stacks do not extend services: merge files with several "
                    "-c options, or share settings with YAML anchors and x- fields"},
        InvalidCase{"forbidden-volumes-from.yml",
                    "invalid/forbidden-volumes-from.yml:4: services.web.volumes_from: this option "
                    "is not allowed in a stack: share data through a named volume declared under "
                    "the top-level volumes: and mounted in each service"},
        InvalidCase{"forbidden-mem-limit.yml",
                    "invalid/forbidden-mem-limit.yml:4: services.web.mem_limit: this option is not "
                    "allowed in a stack: memory limits belong under deploy.resources.limits.memory "
                    "(which overmesh ignores for now)"},
        InvalidCase{
            "service-secrets.yml",
            "invalid/service-secrets.yml:4: services.web.secrets: overmesh does not support "
            "secrets yet: pass the value through environment or env_file, or a bind-mounted file"},
        InvalidCase{
            "top-level-configs.yml",
            "invalid/top-level-configs.yml:4: configs: overmesh does not support configs yet: put "
            "the files in the image or in a bind-mounted volume, and remove this section"},
        InvalidCase{"command-unterminated-quote.yml",
                    "invalid/command-unterminated-quote.yml:4: services.web.command: \"echo "
                    "\\\"hello\" cannot be split into words: a double quote at offset 5 is not "
                    "closed: close every quote, or write the command as a list of strings"},
        InvalidCase{"healthcheck-test-form.yml",
                    "invalid/healthcheck-test-form.yml:5: services.web.healthcheck.test: the first "
                    "item \"RUN\" is not a test form: use a shell command string, or a list "
                    "starting with CMD, CMD-SHELL or NONE"},
        InvalidCase{"healthcheck-disable-and-test.yml",
                    "invalid/healthcheck-disable-and-test.yml:6: services.web.healthcheck.disable: "
                    "disable: true and a test are both given: remove the test, or disable"},
        InvalidCase{"endpoint-mode.yml",
                    "invalid/endpoint-mode.yml:5: services.web.deploy.endpoint_mode: "
                    "\"round-robin\" is not valid here: use one of vip, dnsrr"},
        InvalidCase{
            "external-two-names.yml",
            "invalid/external-two-names.yml:9: networks.shared.external.name: both name: and "
            "external.name: are given: keep only name: (external.name: is the older form)"},
        InvalidCase{"external-with-driver.yml",
                    "invalid/external-with-driver.yml:8: networks.shared.driver: an external "
                    "object is not created, so its settings cannot be given: remove this key, or "
                    "remove external: true to have the stack create it"},
        InvalidCase{"env-file-missing.yml",
                    "invalid/env-file-missing.yml:4: services.web.env_file: cannot read "
                    "\"invalid/missing.env\": no such file: invalid/missing.env: give a readable "
                    "file (a relative path starts from the directory of the first -c file)"},
        InvalidCase{"environment-nested.yml",
                    "invalid/environment-nested.yml:6: services.web.environment.OPTS: a variable "
                    "must be a single value: use a string, a number or a boolean"},
        InvalidCase{"image-missing.yml",
                    "invalid/image-missing.yml:3: services.web.image: no image: give the image to "
                    "run (a stack does not build images: build: is ignored), or a command: to "
                    "run as a process on the node"},
        InvalidCase{"restart-invalid.yml",
                    "invalid/restart-invalid.yml:4: services.web.restart: \"sometimes\" is not a "
                    "restart policy: use no, always, on-failure, on-failure:N or unless-stopped"},
        InvalidCase{"labels-duplicate.yml",
                    "invalid/labels-duplicate.yml:6: services.web.labels[1]: \"tier\" is given "
                    "twice: give each key once"},
        InvalidCase{"update-order.yml",
                    "invalid/update-order.yml:6: services.web.deploy.update_config.order: "
                    "\"random\" is not valid here: use one of stop-first, start-first"},
        InvalidCase{
            "volume-driver-nfs.yml",
            "invalid/volume-driver-nfs.yml:6: volumes.data.driver: the volume driver \"nfs\" is "
            "not supported: overmesh creates local volumes: leave driver out or write local"}));

}  // namespace
}  // namespace overmesh::compose
