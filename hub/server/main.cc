#include "hub/server/hub.h"

int main(int argc, char** argv) { return accord::server::RunHubMain(argc, argv); }
