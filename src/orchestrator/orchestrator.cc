#include "orchestrator/orchestrator.h"

namespace overmesh::orchestrator {

// Skeleton so that the ServiceManager can link; the rules follow in the next commits.
Decisions reconcile(const ClusterView& view) {
  (void)view;
  return {};
}

}  // namespace overmesh::orchestrator
