#pragma once

// The shim: one small process per task, the task's parent, so that overmeshd is not.
// Tasks must survive a restart of the daemon (the new daemon adopts them from the task
// directories), so the daemon only starts the shim (`overmeshd shim --task-dir DIR
// --report-fd 3`), learns from it whether the task started, and from then on reads what
// the shim writes into the task directory (task_files.h).
//
// What the shim does, in order:
//   1. ignores SIGTERM, SIGINT, SIGHUP and SIGPIPE (a daemon restart, a closed terminal or
//      a lost report pipe must not take the task's parent down; stop() signals the task
//      itself), writes shim.pid, reads spec.json and opens the network namespace;
//   2. unshares a PID namespace for its children and forks the task: the child is PID 1
//      of that namespace. The child joins the network namespace, unshares UTS, mount and
//      IPC namespaces, makes its mounts slaves of the host's (MS_SLAVE rather than
//      MS_PRIVATE: its own mounts still never reach the host, while what the host unmounts
//      later also leaves the task, so a task never keeps a host filesystem busy), sets the
//      hostname, bind-mounts hosts, hostname and resolv.conf over /etc's, mounts a /proc
//      (and /sys) of its own and execs the command with the task's environment, stdout
//      and stderr going to task.log;
//   3. once exec succeeded, writes task.pid and reports "started PID" on the report
//      descriptor (or, on failure, "error KIND MESSAGE" naming the step and the errno text);
//   4. waits for the task, writes exit.json and exits.
// The shim itself stays in the daemon's namespaces (so its /proc still shows host pids
// and it pins nothing of the task's; it even returns to its own PID namespace for later
// children right after the fork); it is single-threaded.

namespace overmesh::runtime {

// Entry point of `overmeshd shim ARGS...` (argv[1] == "shim"). Returns the process exit
// status: 0 when the task ran (whatever its exit code), 1 when it could not start, 2 on
// bad arguments.
int runShim(int argc, char** argv);

}  // namespace overmesh::runtime
