#include "cli/node_update.h"

#include "cli/service_spec_flags.h"

namespace overmesh::cli {

Result<nlohmann::json> nodeUpdateBody(const std::vector<std::string>& labelAdd,
                                      const std::vector<std::string>& labelRm) {
  if (labelAdd.empty() && labelRm.empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "nothing to update: give --label-add KEY=VALUE or --label-rm KEY");
  }
  auto added = parseLabelFlags("--label-add", labelAdd);
  if (!added) {
    return std::unexpected(added.error());
  }
  for (const auto& key : labelRm) {
    if (key.empty() || key.find('=') != std::string::npos) {
      return errorf(ErrorKind::InvalidArgument,
                    "--label-rm \"{}\" is not valid: give the label's KEY alone", key);
    }
    if (added->contains(key)) {
      return errorf(ErrorKind::InvalidArgument,
                    "--label-rm \"{}\" conflicts with --label-add of the same key: give one", key);
    }
  }
  return nlohmann::json{{"labelAdd", *added}, {"labelRm", labelRm}};
}

}  // namespace overmesh::cli
