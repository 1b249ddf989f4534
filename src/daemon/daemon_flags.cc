// overmeshd's flags and settings file; the rules are in daemon_flags.h.

#include "daemon/daemon_flags.h"

#include "daemon/version.h"

namespace overmesh::daemon {

void addDaemonFlags(CLI::App& app, DaemonFlags& flags) {
  app.set_version_flag("--version", std::string("overmeshd ") + kVersion);
  // Settings from a file (the package's /etc/overmesh/overmeshd.conf): `name = value` lines
  // named as the long options. CLI11 applies a file value only to an option the command
  // line left empty, so flags on the command line win.
  app.set_config("--config", "",
                 "Read settings from this file (name = value, as the long options); options on "
                 "the command line win");
  app.allow_config_extras(CLI::config_extras_mode::error);
  // Set before the options are added: each takes its policy from these defaults. CLI11's
  // own default refuses a repeated option.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  DaemonOptions& options = flags.options;
  app.add_option("--socket", options.socketPath, "Unix socket of the local API")
      ->capture_default_str();
  app.add_option("--state-dir", options.stateDir, "Directory for this node's state")
      ->capture_default_str();
  app.add_option("--hostname", options.hostname,
                 "Node name shown in `node ls` (default: host name)");
  app.add_option("--node-port", options.nodePort, "TCP port of this node's API for other nodes")
      ->capture_default_str();
  app.add_option("--netns-prefix", options.netnsPrefix,
                 "Prefix of the named network namespaces made for task sandboxes")
      ->capture_default_str();
  app.add_option("--gateway-subnet", options.gatewaySubnet,
                 "Node-local subnet that gives tasks a way out (NAT)")
      ->capture_default_str();
  app.add_option("--resolv-conf", options.resolvConfPath,
                 "The node's resolvers: where tasks' names that are not the cluster's go")
      ->capture_default_str();
  app.add_option("--cluster-port", options.clusterPort, "TCP port of the manager's cluster API")
      ->capture_default_str();
  app.add_option("--log-level", flags.logLevel, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.add_option("-H,--host", options.tcpHost,
                 "Also serve the local API on tcp://ADDR:PORT, with TLS and client "
                 "certificates (needs --tlscacert, --tlscert, --tlskey)");
  app.add_option("--tlscacert", options.tcpTls.caCert,
                 "CA that clients' certificates must chain to (--host tcp://)");
  app.add_option("--tlscert", options.tcpTls.cert, "This daemon's TLS certificate (--host tcp://)");
  app.add_option("--tlskey", options.tcpTls.key, "This daemon's TLS key (--host tcp://)");
  app.add_flag("--tlsverify", flags.tlsVerify,
               "Accepted for Docker's flag set: client certificates are always verified");
  app.add_option("--store-cacert", options.storeTls.caFile,
                 "etcd client TLS: CA of etcd's server certificates, used when `node promote` "
                 "makes this node a manager of an etcd swarm");
  app.add_option("--store-cert", options.storeTls.certFile,
                 "etcd client TLS: this node's client certificate (see --store-cacert)");
  app.add_option("--store-key", options.storeTls.keyFile,
                 "etcd client TLS: the client certificate's key (see --store-cacert)");
  app.add_flag("--allow-root-netns", flags.allowRootNetns,
               "Run in the machine's own network namespace (refused by default for safety)");
}

}  // namespace overmesh::daemon
