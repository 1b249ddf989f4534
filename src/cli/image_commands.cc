// `overmesh image ls | pull | load | rm`: the images of the node whose daemon the CLI
// talks to (in or out of a swarm). The daemon normalises references and gives the
// errors; this file parses flags and prints.

#include <chrono>
#include <ctime>
#include <filesystem>
#include <memory>
#include <vector>

#include "api/image_types.h"
#include "api/percent_encoding.h"
#include "cli/cli_context.h"
#include "cli/each_object.h"
#include "cli/image_table.h"
#include "cli/table.h"
#include "common/json.h"
#include "common/quote.h"

namespace overmesh::cli {
namespace {

// A pull or load of a large image takes minutes; the daemon answers when it has ended.
constexpr std::chrono::minutes kImageTransferTimeout{30};

Status runImageList(CliContext& context, const std::string& format) {
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  auto images = client->get("/v1/images");
  if (!images) {
    return std::unexpected(images.error());
  }
  if (format == "json") {
    printJson(*context.out, *images);
    return {};
  }
  auto decoded = decodeJson<std::vector<api::ImageInfo>>(images->dump(), "image list");
  if (!decoded) {
    return std::unexpected(decoded.error());
  }
  Table table({"REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"});
  for (const auto& row : imageRows(*decoded, static_cast<std::int64_t>(std::time(nullptr)))) {
    table.addRow({row.repository, row.tag, row.digest, row.id, row.created, row.size});
  }
  table.print(*context.out);
  return {};
}

Status runImagePull(CliContext& context, const std::string& reference) {
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  auto body = client->send("POST", "/v1/images/pull", encodeJson(api::ImagePullRequest{reference}),
                           kImageTransferTimeout);
  if (!body) {
    return std::unexpected(body.error());
  }
  auto reply = decodeJson<api::ImagePullReply>(*body, "image pull reply");
  if (!reply) {
    return std::unexpected(reply.error());
  }
  *context.out << printable(reply->reference) << '\n';
  return {};
}

Status runImageLoad(CliContext& context, const std::string& input) {
  if (input.empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "image load: -i/--input is required: the archive (`docker save`, OCI) to load");
  }
  std::error_code error;
  std::filesystem::path path = std::filesystem::absolute(input, error);
  if (error) {
    return errorf(ErrorKind::InvalidArgument, "image load: -i {}: {}", quote(input),
                  error.message());
  }
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  auto body = client->send("POST", "/v1/images/load",
                           encodeJson(api::ImageLoadRequest{path.lexically_normal().string()}),
                           kImageTransferTimeout);
  if (!body) {
    return std::unexpected(body.error());
  }
  auto reply = decodeJson<api::ImageLoadReply>(*body, "image load reply");
  if (!reply) {
    return std::unexpected(reply.error());
  }
  for (const auto& loaded : reply->loaded) {
    *context.out << "Loaded image: " << printable(loaded) << '\n';
  }
  return {};
}

}  // namespace

void addImageCommands(CLI::App& app, CliContext& context) {
  CLI::App* image = app.add_subcommand("image", "Manage the images of this node");
  image->require_subcommand(1);

  auto listFormat = context.hold<std::string>("table");
  CLI::App* list = image->add_subcommand("ls", "List the images on this node");
  list->alias("list");
  addFormatOption(list, *listFormat);
  list->callback([&context, listFormat] {
    context.action = [&context, listFormat] { return runImageList(context, *listFormat); };
  });

  auto pullRef = context.hold<std::string>();
  CLI::App* pull = image->add_subcommand("pull", "Pull an image from its registry to this node");
  pull->add_option("image", *pullRef, "IMAGE[:TAG|@DIGEST]")->required();
  pull->callback([&context, pullRef] {
    context.action = [&context, pullRef] { return runImagePull(context, *pullRef); };
  });

  auto loadInput = context.hold<std::string>();
  CLI::App* load = image->add_subcommand("load", "Load an image archive (docker save, OCI)");
  load->add_option("-i,--input", *loadInput, "The archive, a file on this node")->required();
  load->callback([&context, loadInput] {
    context.action = [&context, loadInput] { return runImageLoad(context, *loadInput); };
  });

  auto removeRefs = context.hold<std::vector<std::string>>();
  auto removeForce = context.hold<bool>(false);
  CLI::App* remove = image->add_subcommand("rm", "Remove images from this node");
  remove->alias("remove");
  remove->add_flag("-f,--force", *removeForce, "Remove also an image a container uses");
  remove->add_option("image", *removeRefs, "Image names or IDs")->required();
  remove->callback([&context, removeRefs, removeForce] {
    context.action = [&context, removeRefs, removeForce] {
      bool force = *removeForce;
      return removeEach(context, *removeRefs, [force](const std::string& reference) {
        return "/v1/images/" + api::percentEncode(reference) + (force ? "?force=true" : "");
      });
    };
  });
}

}  // namespace overmesh::cli
