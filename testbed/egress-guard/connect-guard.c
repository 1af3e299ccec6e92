/*
 * Loaded with LD_PRELOAD into every process the test suite starts on the host. A TCP connect, or a sendto or
 * sendmsg, to an IP address outside BERTH_EGRESS_ALLOW (loopback, the machine's own addresses and the test bed's networks)
 * fails at once with ECONNREFUSED, and one line naming the process and the address is appended to
 * BERTH_EGRESS_REPORT, which testbed/egress-guard.sh check turns into a failed run. Programs that make system
 * calls without libc (Go binaries) pass by this; the iptables rules of the same script catch those.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* One allowed network: an address and a prefix length, in the family it was written in. */
struct network {
  int family;
  unsigned char address[16];
  int prefix;
};

#define MAX_NETWORKS 64
static struct network allowed[MAX_NETWORKS];
static int allowed_count;

static void add_network(const char *text) {
  char buffer[128];
  if (allowed_count >= MAX_NETWORKS || strlen(text) >= sizeof buffer) return;
  strcpy(buffer, text);
  char *slash = strchr(buffer, '/');
  if (slash) *slash = '\0';
  struct network *n = &allowed[allowed_count];
  if (inet_pton(AF_INET, buffer, n->address) == 1) {
    n->family = AF_INET;
    n->prefix = slash ? atoi(slash + 1) : 32;
  } else if (inet_pton(AF_INET6, buffer, n->address) == 1) {
    n->family = AF_INET6;
    n->prefix = slash ? atoi(slash + 1) : 128;
  } else {
    return;
  }
  allowed_count++;
}

/* Loopback always; then the comma-separated list the guard computed for this machine. Run when the library is
 * loaded, before the program's own threads exist, so the list is never built by two threads at once. */
__attribute__((constructor)) static void load_allowed(void) {
  allowed_count = 0;
  add_network("127.0.0.0/8");
  add_network("::1/128");
  const char *list = getenv("BERTH_EGRESS_ALLOW");
  if (!list) return;
  char *copy = strdup(list);
  if (!copy) return;
  for (char *save = NULL, *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) add_network(item);
  free(copy);
}

static int prefix_matches(const unsigned char *address, const unsigned char *network, int prefix) {
  int bytes = prefix / 8, bits = prefix % 8;
  if (memcmp(address, network, bytes) != 0) return 0;
  if (bits == 0) return 1;
  unsigned char mask = (unsigned char)(0xff << (8 - bits));
  return (address[bytes] & mask) == (network[bytes] & mask);
}

static int is_allowed(int family, const unsigned char *address) {
  for (int i = 0; i < allowed_count; i++) {
    if (allowed[i].family == family && prefix_matches(address, allowed[i].address, allowed[i].prefix)) return 1;
  }
  return 0;
}

/* 1 when the address is an IP address off the machine; the address is written into `text` for the report. */
static int leaves_machine(const struct sockaddr *sa, socklen_t length, char *text, size_t size) {
  if (!sa) return 0;
  if (sa->sa_family == AF_INET && length >= sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    const unsigned char *bytes = (const unsigned char *)&in->sin_addr;
    if (in->sin_addr.s_addr == htonl(INADDR_ANY) || is_allowed(AF_INET, bytes)) return 0;
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    snprintf(text, size, "%s:%u", ip, ntohs(in->sin_port));
    return 1;
  }
  if (sa->sa_family == AF_INET6 && length >= sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    const unsigned char *bytes = in6->sin6_addr.s6_addr;
    if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr)) return 0;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) ? is_allowed(AF_INET, bytes + 12) : is_allowed(AF_INET6, bytes)) return 0;
    char ip[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    snprintf(text, size, "[%s]:%u", ip, ntohs(in6->sin6_port));
    return 1;
  }
  return 0;
}

/* Appends "berth-egress: refused CALL to ADDRESS from pid=... exe=... cmd=..." to the report, and to stderr. */
static void report(const char *address, const char *call) {
  char exe[512] = "?", cmd[512] = "", line[1600];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) exe[n] = '\0';
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t got = read(fd, cmd, sizeof cmd - 1);
    close(fd);
    for (ssize_t i = 0; i < got - 1; i++) if (cmd[i] == '\0' || cmd[i] == '\n') cmd[i] = ' ';
    cmd[got > 0 ? got : 0] = '\0';
  }
  int length = snprintf(line, sizeof line, "berth-egress: refused %s to %s from pid=%d exe=%s cmd=%s\n", call, address, (int)getpid(), exe, cmd);
  if (length <= 0) return;
  if (length >= (int)sizeof line) length = sizeof line - 1;
  const char *file = getenv("BERTH_EGRESS_REPORT");
  if (file) {
    int out = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (out >= 0) {
      ssize_t ignored = write(out, line, length);
      (void)ignored;
      close(out);
    }
  }
  ssize_t ignored = write(STDERR_FILENO, line, length);
  (void)ignored;
}

/* 1, with the attempt reported and errno set, when `address` is off the machine. */
static int refused(const struct sockaddr *address, socklen_t length, const char *call) {
  char text[64];
  if (!leaves_machine(address, length, text, sizeof text)) return 0;
  report(text, call);
  errno = ECONNREFUSED;
  return 1;
}

/* A datagram socket's connect sends nothing (Chromium connects one to Google's DNS only to ask for a route); what
 * it sends afterwards goes through the kernel's rules, which refuse and count it. */
static int is_datagram(int fd) {
  int type = 0;
  socklen_t size = sizeof type;
  return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) == 0 && type == SOCK_DGRAM;
}

int connect(int fd, const struct sockaddr *address, socklen_t length) {
  static int (*real)(int, const struct sockaddr *, socklen_t);
  if (!is_datagram(fd) && refused(address, length, "connect")) return -1;
  if (!real) real = dlsym(RTLD_NEXT, "connect");
  return real(fd, address, length);
}

ssize_t sendto(int fd, const void *buffer, size_t size, int flags, const struct sockaddr *address, socklen_t length) {
  static ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
  if (refused(address, length, "sendto")) return -1;
  if (!real) real = dlsym(RTLD_NEXT, "sendto");
  return real(fd, buffer, size, flags, address, length);
}

ssize_t sendmsg(int fd, const struct msghdr *message, int flags) {
  static ssize_t (*real)(int, const struct msghdr *, int);
  if (message && refused(message->msg_name, message->msg_namelen, "sendmsg")) return -1;
  if (!real) real = dlsym(RTLD_NEXT, "sendmsg");
  return real(fd, message, flags);
}
