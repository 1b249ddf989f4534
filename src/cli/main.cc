// overmesh: the command-line client. All behaviour is in the overmesh_cli library.
#include "cli/cli_context.h"

int main(int argc, char** argv) { return overmesh::cli::runCli(argc, argv); }
