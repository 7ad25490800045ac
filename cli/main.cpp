// `retarget`: the command line, a thin layer over the public API (engine.hpp).
// The commands live in commands_*.cpp (one group each); cli.hpp is what they
// share, app.cpp puts them together. Exit codes: cli.hpp (formats.md's table).
#include "cli.hpp"

int main(int argc, char** argv) {
  CLI::App app{"retarget: a rules engine for retargeting segmentation", "retarget"};
  retarget::cli::Cli cli;
  retarget::cli::build_app(app, cli, "retarget");
  return retarget::cli::run_app(app, cli, argc, argv);
}
