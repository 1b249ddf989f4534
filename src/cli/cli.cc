#include <cstdlib>

#include "cli/cli_context.h"
#include "cli/completion.h"
#include "common/json.h"
#include "common/quote.h"
#include "daemon/version.h"

namespace overmesh::cli {

void addFormatOption(CLI::App* command, std::string& format) {
  command->add_option("--format", format, "Output format: table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
}

void printJson(std::ostream& out, const nlohmann::json& json) { out << dumpJson(json, 2) << '\n'; }

int runCli(int argc, char** argv) {
  CLI::App app{"overmesh: multi-host container overlay networks"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("overmesh ") + daemon::kVersion);
  CliContext context;
  if (const char* host = std::getenv("OVERMESH_HOST"); host != nullptr && *host != '\0') {
    context.host = host;
  }
  app.add_option("-H,--host", context.host,
                 "Daemon to talk to: unix:///path/to.sock, or tcp://HOST:PORT with --tlsverify "
                 "(env OVERMESH_HOST)")
      ->capture_default_str();
  app.add_flag("--tlsverify", context.tlsVerify,
               "Use TLS and verify the daemon (required for a tcp:// host)");
  app.add_option("--tlscacert", context.tls.caCert, "CA the daemon's certificate must chain to");
  app.add_option("--tlscert", context.tls.cert, "Client certificate for a tcp:// host");
  app.add_option("--tlskey", context.tls.key, "Client key for a tcp:// host");

  addInfoCommands(app, context);
  addSwarmCommands(app, context);
  addNetworkCommands(app, context);
  addNodeCommands(app, context);
  addTaskCommands(app, context);
  addServiceCommands(app, context);
  addStackCommands(app, context);
  addImageCommands(app, context);
  addLabCommands(app, context);
  addCompletionCommand(app, context);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int status = app.exit(error);
    return status == 0 ? 0 : 1;
  }
  if (!context.action) {
    std::cerr << app.help();
    return 1;
  }
  // The daemon's answers are read with nlohmann's accessors in places; a malformed one
  // must end in an error message, not std::terminate.
  Status result;
  try {
    result = context.action();
  } catch (const std::exception& error) {
    result = errorf(ErrorKind::Internal, "unexpected answer from overmeshd: {}",
                    printable(error.what()));
  }
  if (!result) {
    std::cerr << "Error: " << result.error().message << '\n';
    return 1;
  }
  return context.exitCode;
}

}  // namespace overmesh::cli
