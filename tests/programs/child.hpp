// Runs a program as a child process and collects its exit status, stdout and
// stderr (through temporary files, so a chatty child can never block).
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace test_support {

struct ChildResult {
  int status = -1;  // exit code, or 128 + signal number
  std::string out;
  std::string err;
};

// Waits for `pid`; its exit code, or 128 + the signal that ended it.
inline int wait_status(pid_t pid) {
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) {
  }
  return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
}

inline std::string slurp(const char* path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

inline ChildResult run_child(const std::string& program, const std::vector<std::string>& args) {
  char out_path[] = "/tmp/pythreading-child-outXXXXXX";
  char err_path[] = "/tmp/pythreading-child-errXXXXXX";
  int out_fd = mkstemp(out_path);
  int err_fd = mkstemp(err_path);
  std::vector<std::string> all{program};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    execv(program.c_str(), argv.data());
    _exit(127);
  }
  close(out_fd);
  close(err_fd);
  ChildResult r;
  r.status = wait_status(pid);
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  unlink(out_path);
  unlink(err_path);
  return r;
}

}  // namespace test_support

// In a forked child (no test framework there): on failure, say what failed
// and exit 1.
#define CHILD_CHECK(cond)                                                           \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "child check failed at line %d: %s\n", __LINE__, #cond); \
      _exit(1);                                                                     \
    }                                                                               \
  } while (0)
