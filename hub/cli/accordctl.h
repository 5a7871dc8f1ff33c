// accordctl: the operator's tool. Works on a hub's data directory (the CA, the partner register)
// and talks to a running hub with a partner's credentials bundle.
#ifndef ACCORD_HUB_CLI_ACCORDCTL_H_
#define ACCORD_HUB_CLI_ACCORDCTL_H_

namespace accord::cli {

// Runs one command; returns the exit code (0 done, 2 bad usage, 1 the command failed).
int RunAccordctl(int argc, char** argv);

}  // namespace accord::cli

#endif  // ACCORD_HUB_CLI_ACCORDCTL_H_
