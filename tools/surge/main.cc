// surge: one binary, one subcommand per file (see DESIGN.md).
#include <cstdio>

int main(int argc, char** argv) {
  (void)argc;
  (void)argv;
  std::fprintf(stderr, "surge: subcommands are being wired up\n");
  return 2;
}
