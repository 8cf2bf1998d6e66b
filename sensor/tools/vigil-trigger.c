/* vigil-trigger: performs the actions the sensor must see, for tests and the benchmark:
 * exec storms at a given rate, setuid/setgid, a ptrace attach, a TCP connect+accept pair,
 * UDP sends and a memfd exec. Prints what it did as one JSON line on stdout. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int fail(const char *what)
{
	fprintf(stderr, "vigil-trigger: %s: %s\n", what, strerror(errno));
	return 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void reap(int flags, long *running)
{
	while (*running > 0 && waitpid(-1, NULL, flags) > 0)
		(*running)--;
}

/* storm RATE SECONDS MARKER [PROGRAM]: runs PROGRAM (default /bin/true) MARKER-<n> RATE times a second. */
static int storm(long rate, double seconds, const char *marker, const char *program)
{
	long started = 0, running = 0, total = (long)(rate * seconds);
	char arg[128];
	char *argv[] = {"true", arg, NULL};
	double t0 = now_s();
	while (started < total) {
		long due = (long)((now_s() - t0) * (double)rate) + 1;
		while (started < due && started < total) {
			pid_t pid;
			snprintf(arg, sizeof(arg), "%s-%ld", marker, started);
			if (posix_spawn(&pid, program, NULL, NULL, argv, environ) != 0)
				return fail("posix_spawn");
			started++;
			running++;
		}
		reap(WNOHANG, &running);
		if (started < total && started >= due)
			usleep(200);
	}
	double elapsed = now_s() - t0;
	reap(0, &running);
	printf("{\"pid\":%d,\"started\":%ld,\"seconds\":%.3f,\"rate\":%.0f}\n", getpid(), started, elapsed,
	       (double)started / elapsed);
	return 0;
}

static int do_setid(const char *which, long id)
{
	int rc = strcmp(which, "setuid") == 0 ? setuid((uid_t)id) : setgid((gid_t)id);
	if (rc < 0)
		return fail(which);
	printf("{\"pid\":%d,\"%s\":%ld}\n", getpid(), which, id);
	return 0;
}

static int do_ptrace(void)
{
	pid_t child = fork();
	if (child < 0)
		return fail("fork");
	if (child == 0) {
		pause();
		_exit(0);
	}
	if (ptrace(PTRACE_ATTACH, child, NULL, NULL) < 0)
		return fail("ptrace");
	waitpid(child, NULL, 0);
	ptrace(PTRACE_DETACH, child, NULL, NULL);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	printf("{\"pid\":%d,\"target\":%d}\n", getpid(), child);
	return 0;
}

/* tcp 4|6: listens on loopback, connects to itself and accepts. */
static int do_tcp(int v6)
{
	struct sockaddr_storage ss = {0};
	socklen_t len = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int family = v6 ? AF_INET6 : AF_INET;
	if (v6) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	} else {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	int l = socket(family, SOCK_STREAM, 0), c = socket(family, SOCK_STREAM, 0);
	if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&ss, len) < 0 || listen(l, 1) < 0)
		return fail("listen");
	if (getsockname(l, (struct sockaddr *)&ss, &len) < 0 || connect(c, (struct sockaddr *)&ss, len) < 0)
		return fail("connect");
	int a = accept(l, NULL, NULL);
	struct sockaddr_storage local;
	socklen_t llen = sizeof(local);
	if (a < 0 || getsockname(c, (struct sockaddr *)&local, &llen) < 0)
		return fail("accept");
	int server_port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
	int client_port = ntohs(v6 ? ((struct sockaddr_in6 *)&local)->sin6_port : ((struct sockaddr_in *)&local)->sin_port);
	printf("{\"pid\":%d,\"serverPort\":%d,\"clientPort\":%d}\n", getpid(), server_port, client_port);
	return 0;
}

/* udp PORT: three datagrams to 127.0.0.1:PORT (one new peer). */
static int do_udp(int port)
{
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	for (int i = 0; i < 3; i++)
		if (s < 0 || sendto(s, "x", 1, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
			return fail("sendto");
	printf("{\"pid\":%d,\"port\":%d}\n", getpid(), port);
	return 0;
}

/* memfd-exec: copies /bin/true into a memfd and executes it. */
static int do_memfd_exec(void)
{
	int src = open("/bin/true", O_RDONLY), fd = memfd_create("vigil-test", MFD_CLOEXEC);
	struct stat st;
	if (src < 0 || fd < 0 || fstat(src, &st) < 0 || sendfile(fd, src, NULL, (size_t)st.st_size) != st.st_size)
		return fail("memfd copy");
	printf("{\"pid\":%d}\n", getpid());
	fflush(stdout);
	char *argv[] = {"fileless", NULL};
	fexecve(fd, argv, environ);
	return fail("fexecve");
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	if (strcmp(cmd, "storm") == 0 && (argc == 5 || argc == 6))
		return storm(atol(argv[2]), atof(argv[3]), argv[4], argc == 6 ? argv[5] : "/bin/true");
	if ((strcmp(cmd, "setuid") == 0 || strcmp(cmd, "setgid") == 0) && argc == 3)
		return do_setid(cmd, atol(argv[2]));
	if (strcmp(cmd, "ptrace") == 0)
		return do_ptrace();
	if (strcmp(cmd, "tcp") == 0 && argc == 3)
		return do_tcp(strcmp(argv[2], "6") == 0);
	if (strcmp(cmd, "udp") == 0 && argc == 3)
		return do_udp(atoi(argv[2]));
	if (strcmp(cmd, "memfd-exec") == 0)
		return do_memfd_exec();
	fprintf(stderr, "usage: vigil-trigger storm RATE SECONDS MARKER [PROGRAM] | setuid UID | setgid GID | ptrace |\n"
			"       tcp 4|6 | udp PORT | memfd-exec\n");
	return 2;
}
