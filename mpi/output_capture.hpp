// What a command writes on std::cout and std::cerr, kept in memory while it
// runs: under retarget-mpi only one process's output is the command's (rank
// 0's, or the owner's of the user asked about), and it is printed once, by
// rank 0, after every process has finished.
//
// Thread safety: the command line's thread only (while it is alive, the
// standard streams write into it).
#pragma once

#include <iostream>
#include <sstream>
#include <string>

namespace retarget::mpi {

class OutputCapture {
 public:
  OutputCapture() : out_(std::cout.rdbuf(out_text_.rdbuf())), err_(std::cerr.rdbuf(err_text_.rdbuf())) {}
  ~OutputCapture() { release(); }
  OutputCapture(const OutputCapture&) = delete;
  OutputCapture& operator=(const OutputCapture&) = delete;

  // Gives the streams back; what was written stays readable.
  void release() {
    if (!out_) return;
    std::cout.rdbuf(out_), std::cerr.rdbuf(err_);
    out_ = err_ = nullptr;
  }
  std::string out() const { return out_text_.str(); }
  std::string err() const { return err_text_.str(); }

 private:
  std::ostringstream out_text_, err_text_;
  std::streambuf* out_;
  std::streambuf* err_;
};

}  // namespace retarget::mpi
