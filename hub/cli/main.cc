#include "hub/cli/accordctl.h"

int main(int argc, char** argv) { return accord::cli::RunAccordctl(argc, argv); }
