/* runas UID:GID command [args...]: drops root to UID:GID (no supplementary groups) and
 * execs the command, so the server becomes PID 1 of the container and gets SIGTERM itself.
 * The entrypoints of the data images start as root only to chown the data directory that
 * Kubernetes mounts (an emptyDir is owned by root). Numeric ids: a static binary cannot
 * rely on NSS. Built with `gcc -static` by build.sh; the binary is never committed. */
#define _GNU_SOURCE
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  char *colon;
  long uid, gid;
  if (argc < 3 || (colon = strchr(argv[1], ':')) == NULL) {
    fprintf(stderr, "usage: runas UID:GID command [args...]\n");
    return 2;
  }
  uid = strtol(argv[1], NULL, 10);
  gid = strtol(colon + 1, NULL, 10);
  if (setgroups(0, NULL) != 0 || setgid((gid_t)gid) != 0 || setuid((uid_t)uid) != 0) {
    perror("runas: dropping privileges");
    return 1;
  }
  execvp(argv[2], argv + 2);
  perror(argv[2]);
  return 127;
}
