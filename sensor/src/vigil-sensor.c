/* vigil-sensor: the privileged user-space half. Loads and attaches the BPF programs (skipping
 * hooks this kernel lacks), consumes the ring buffer, turns kernel records into wire frames
 * on stdout or on a Unix socket, and emits a hello frame and a stats frame every second. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "vigil.h"
#include "vigil.skel.h"
#include "wire.h"

#define MAX_IGNORED 64
#define LIST_LEN 2048

struct options {
	unsigned ignored[MAX_IGNORED];
	int n_ignored;
	bool ignore_self;
	const char *listen_path;
	long listen_gid; /* group given access to the socket, -1: root's */
	unsigned ringbuf_mb;
	unsigned flush_ms; /* longest wait before pending records go to the reader */
};

struct sensor {
	struct vigil_bpf *skel;
	struct ring_buffer *rb;
	struct wire out;
	int listen_fd;
	int flush_ms;
	bool ignore_reader;  /* the socket reader's events are filtered like the sensor's own */
	uint32_t reader_pid;
	int64_t wall_offset_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC */
	uint64_t received;
	uint64_t counts[VG_KIND_MAX];
	uint64_t bad_records;
	char attached[LIST_LEN], disabled[LIST_LEN];
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig) { stopping = sig; }

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vigil-sensor [--ignore-pid PID]... [--no-ignore-self] [--listen PATH [--listen-gid GID]]\n"
		   "                    [--ringbuf-mb N] [--flush-ms MS]\n"
		   "Streams framed kernel events (format: docs/sensor.md) to stdout, or to the client of\n"
		   "a Unix socket with --listen (mode 0660, group GID). The sensor's own events and, with\n"
		   "--listen, its reader's are filtered out unless --no-ignore-self. Needs root (CAP_BPF,\n"
		   "CAP_PERFMON) and kernel BTF. Records reach the reader every --flush-ms (default 200,\n"
		   "at most 1000), or sooner once 256 KiB are pending.\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"ignore-pid", required_argument, NULL, 'i'}, {"no-ignore-self", no_argument, NULL, 'n'},
		{"listen", required_argument, NULL, 'l'},      {"ringbuf-mb", required_argument, NULL, 'r'},
		{"listen-gid", required_argument, NULL, 'g'}, {"flush-ms", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},              {NULL, 0, NULL, 0}};
	int c;
	*o = (struct options){.ignore_self = true, .ringbuf_mb = 2, .listen_gid = -1, .flush_ms = 200};
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		char *end = NULL;
		unsigned long v = 0;
		bool numeric = c == 'i' || c == 'r' || c == 'g' || c == 'f';
		if (numeric)
			v = strtoul(optarg, &end, 10);
		if (numeric && (*end || (v == 0 && c != 'g') || v > 0x7fffffff)) {
			fprintf(stderr, "vigil-sensor: bad number '%s'\n", optarg);
			return -1;
		}
		switch (c) {
		case 'i':
			if (o->n_ignored == MAX_IGNORED) {
				fprintf(stderr, "vigil-sensor: at most %d --ignore-pid\n", MAX_IGNORED);
				return -1;
			}
			o->ignored[o->n_ignored++] = (unsigned)v;
			break;
		case 'n': o->ignore_self = false; break;
		case 'l': o->listen_path = optarg; break;
		case 'g': o->listen_gid = (long)v; break;
		case 'r':
			if (v & (v - 1) || v > 1024) {
				fprintf(stderr, "vigil-sensor: --ringbuf-mb must be a power of two up to 1024\n");
				return -1;
			}
			o->ringbuf_mb = (unsigned)v;
			break;
		case 'f':
			if (v > 1000) {
				fprintf(stderr, "vigil-sensor: --flush-ms must be 1 to 1000\n");
				return -1;
			}
			o->flush_ms = (unsigned)v;
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	return 0;
}

static void list_add(char *list, const char *name)
{
	size_t n = strlen(list);
	snprintf(list + n, LIST_LEN - n, "%s%s", n ? "," : "", name);
}

/* Disables programs whose attach point (tracepoint or kernel function) is not in the kernel BTF. */
static void disable_missing_hooks(struct sensor *s)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	struct bpf_program *prog;
	if (!vmlinux)
		return;
	bpf_object__for_each_program(prog, s->skel->obj) {
		const char *sec = bpf_program__section_name(prog);
		const char *target = strchr(sec, '/');
		char name[128];
		int found;
		if (!target)
			continue;
		if (strncmp(sec, "tp_btf/", 7) == 0) {
			snprintf(name, sizeof(name), "btf_trace_%s", target + 1);
			found = btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF);
		} else {
			found = btf__find_by_name_kind(vmlinux, target + 1, BTF_KIND_FUNC);
		}
		if (found < 0) {
			bpf_program__set_autoload(prog, false);
			list_add(s->disabled, target + 1);
		}
	}
	btf__free(vmlinux);
}

static void attach_all(struct sensor *s)
{
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, s->skel->obj) {
		const char *target = strchr(bpf_program__section_name(prog), '/') + 1;
		if (!bpf_program__autoload(prog))
			continue;
		if (libbpf_get_error(bpf_program__attach(prog))) {
			fprintf(stderr, "vigil-sensor: cannot attach %s: %s\n", target, strerror(errno));
			list_add(s->disabled, target);
		} else {
			list_add(s->attached, target);
		}
	}
}

static void write_common(struct sensor *s, const struct vg_hdr *h)
{
	struct wire *w = &s->out;
	wire_u64(w, h->mono_ns);
	wire_u64(w, h->mono_ns + (uint64_t)s->wall_offset_ns);
	wire_u64(w, h->start_ns);
	wire_u64(w, h->cgroup_id);
	const uint32_t ids[] = {h->pid, h->tid, h->ppid, h->uid, h->gid, h->euid};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		wire_u32(w, ids[i]);
	wire_bytes(w, h->comm, VG_COMM_LEN);
}

/* Reads the next blob of a kernel record; false if it does not fit. */
static bool next_blob(const uint8_t **cur, const uint8_t *end, const uint8_t **data, size_t *len)
{
	if (end - *cur < 2)
		return false;
	*len = (size_t)(*cur)[0] | (size_t)(*cur)[1] << 8;
	if ((size_t)(end - *cur - 2) < *len)
		return false;
	*data = *cur + 2;
	*cur += 2 + *len;
	return true;
}

/* Decodes a path blob (components leaf first, each NUL-terminated) into "/a/b/c" in `out`
 * (capacity VG_PATH_SPAN); returns its length. The root of a mount ("/") adds nothing. */
static size_t decode_path(char *out, const uint8_t *comp, size_t len)
{
	size_t n = 0, end = len;
	while (end > 0) {
		size_t start = end - 1; /* end - 1 is the NUL ending the last component */
		while (start > 0 && comp[start - 1] != 0)
			start--;
		size_t clen = end - 1 - start;
		if (clen > 0 && !(clen == 1 && comp[start] == '/')) {
			if (n + 1 + clen > VG_PATH_SPAN)
				break;
			out[n++] = '/';
			memcpy(out + n, comp + start, clen);
			n += clen;
		}
		end = start;
	}
	return n;
}

/* Appends the name (as a caller wrote it) to the directory path in `out` and normalises the
 * result: no empty or "." components, ".." removes one. Returns the new length (>= 1). */
static size_t join_path(char *out, size_t n, const uint8_t *name, size_t len)
{
	if (len > 0 && name[0] == '/')
		n = 0;
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && name[j] != '/' && name[j] != 0)
			j++;
		size_t clen = j - i;
		if (clen == 2 && name[i] == '.' && name[i + 1] == '.') {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
		} else if (clen > 0 && !(clen == 1 && name[i] == '.') && n + 1 + clen <= VG_PATH_SPAN) {
			out[n++] = '/';
			memcpy(out + n, name + i, clen);
			n += clen;
		}
		if (j < len && name[j] == 0)
			break;
		i = j + 1;
	}
	if (n == 0)
		out[n++] = '/';
	return n;
}

/* Writes the variable part of a record described by `shape`: 's' a string blob as it is, 'p' a
 * path blob as "/a/b", 'j' a path blob and a name blob joined. False if a blob does not fit. */
static bool write_blobs(struct sensor *s, const uint8_t *cur, const uint8_t *end, const char *shape)
{
	char path[VG_PATH_SPAN + 1];
	for (const char *k = shape; *k; k++) {
		const uint8_t *data, *name;
		size_t len, name_len;
		if (!next_blob(&cur, end, &data, &len))
			return false;
		if (*k == 's') {
			wire_str(&s->out, data, len);
			continue;
		}
		size_t n = decode_path(path, data, len);
		if (*k == 'j') {
			if (!next_blob(&cur, end, &name, &name_len))
				return false;
			n = join_path(path, n, name, name_len);
		} else if (n == 0) {
			path[n++] = '/';
		}
		wire_str(&s->out, path, n);
	}
	return true;
}

static void write_payload(struct wire *w, const struct vg_event *e)
{
	switch (e->h.kind) {
	case VG_EXIT:
		wire_u32(w, (e->exit.code >> 8) & 0xff);
		wire_u32(w, e->exit.code & 0x7f);
		break;
	case VG_CONNECT: case VG_ACCEPT: case VG_UDP_SEND: case VG_DNS:
		wire_u8(w, e->net.family);
		wire_u8(w, e->net.proto);
		wire_u16(w, e->net.sport);
		wire_u16(w, e->net.dport);
		wire_u16(w, 0);
		wire_u32(w, (uint32_t)e->net.result);
		wire_bytes(w, e->net.saddr, 16);
		wire_bytes(w, e->net.daddr, 16);
		break;
	case VG_FILE_CREATE: case VG_FILE_WRITE: case VG_FILE_DELETE:
	case VG_FILE_RENAME: case VG_FILE_CHMOD: case VG_FILE_CHOWN:
		wire_u32(w, e->file.mode);
		wire_u32(w, e->file.uid);
		wire_u32(w, e->file.gid);
		break;
	case VG_SETUID: case VG_SETGID:
		wire_u32(w, e->cred.uid);
		wire_u32(w, e->cred.euid);
		wire_u32(w, e->cred.gid);
		wire_u32(w, e->cred.egid);
		wire_u32(w, e->cred.op);
		wire_u32(w, (uint32_t)e->cred.result);
		break;
	case VG_PTRACE:
		wire_u32(w, e->ptrace.target);
		wire_u32(w, e->ptrace.request);
		wire_u32(w, (uint32_t)e->ptrace.result);
		break;
	}
}

/* After an exec's strings: the executed file's inode, device (as stat(2) gives it), size and mtime (ns). */
static void write_exec_identity(struct wire *w, const struct vg_exec *x)
{
	uint64_t major = x->dev >> 20, minor = x->dev & 0xfffff;
	wire_u64(w, x->ino);
	wire_u64(w, (minor & 0xff) | (major << 8) | ((minor & ~0xffull) << 12));
	wire_u64(w, x->size);
	wire_u64(w, (uint64_t)(x->mtime_sec * 1000000000ll + x->mtime_nsec));
}

/* The variable part of each kind (see write_blobs). */
static const char *const blob_shape[VG_KIND_MAX] = {
	[VG_EXEC] = "psp",      [VG_FILE_CREATE] = "j", [VG_FILE_WRITE] = "j",  [VG_FILE_DELETE] = "j",
	[VG_FILE_RENAME] = "jj", [VG_FILE_CHMOD] = "j", [VG_FILE_CHOWN] = "j",  [VG_MODULE] = "s",
	[VG_DNS] = "s",
};

static int on_record(void *ctx, void *data, size_t size)
{
	struct sensor *s = ctx;
	const struct vg_event *e = data;
	s->received++;
	if (size < VG_FIXED_SIZE || e->h.kind == 0 || e->h.kind >= VG_KIND_MAX) {
		s->bad_records++;
		return 0;
	}
	s->counts[e->h.kind]++;
	const char *shape = blob_shape[e->h.kind] ? blob_shape[e->h.kind] : "";
	wire_begin(&s->out, (uint8_t)e->h.kind, (uint16_t)e->h.flags);
	size_t frame = s->out.frame;
	write_common(s, &e->h);
	write_payload(&s->out, e);
	bool ok = write_blobs(s, e->var, (const uint8_t *)data + size, shape);
	if (ok && e->h.kind == VG_EXEC)
		write_exec_identity(&s->out, &e->exec);
	if (!ok) {
		s->out.len = frame; /* drop the partial frame */
		s->bad_records++;
		return 0;
	}
	wire_end(&s->out);
	return 0;
}

static uint64_t ring_drops(struct sensor *s)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t total = 0, *per_cpu;
	uint32_t zero = 0;
	if (ncpu <= 0 || !(per_cpu = calloc((size_t)ncpu, sizeof(*per_cpu))))
		return 0;
	if (bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.drops), &zero, per_cpu) == 0)
		for (int i = 0; i < ncpu; i++)
			total += per_cpu[i];
	free(per_cpu);
	return total;
}

static void write_hello(struct sensor *s)
{
	uint64_t mono = clock_ns(CLOCK_MONOTONIC);
	wire_begin(&s->out, WIRE_HELLO, 0);
	wire_u32(&s->out, WIRE_VERSION);
	wire_u32(&s->out, (uint32_t)getpid());
	wire_u64(&s->out, mono);
	wire_u64(&s->out, mono + (uint64_t)s->wall_offset_ns);
	wire_str(&s->out, s->attached, strlen(s->attached));
	wire_str(&s->out, s->disabled, strlen(s->disabled));
	wire_end(&s->out);
}

static void write_stats(struct sensor *s)
{
	uint64_t mono = clock_ns(CLOCK_MONOTONIC);
	s->wall_offset_ns = (int64_t)(clock_ns(CLOCK_REALTIME) - mono);
	wire_begin(&s->out, WIRE_STATS, 0);
	wire_u64(&s->out, mono);
	wire_u64(&s->out, mono + (uint64_t)s->wall_offset_ns);
	wire_u64(&s->out, ring_drops(s));
	wire_u64(&s->out, s->received);
	wire_u64(&s->out, s->bad_records);
	wire_u64(&s->out, s->out.frames);
	wire_u64(&s->out, s->out.undelivered);
	wire_u32(&s->out, VG_KIND_MAX);
	for (int k = 0; k < VG_KIND_MAX; k++)
		wire_u64(&s->out, s->counts[k]);
	wire_end(&s->out);
}

static int listen_unix(const char *path, long gid)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "vigil-sensor: socket path too long\n");
		return -1;
	}
	strcpy(addr.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || chmod(path, 0660) < 0 ||
	    (gid >= 0 && chown(path, (uid_t)-1, (gid_t)gid) < 0) || listen(fd, 1) < 0) {
		fprintf(stderr, "vigil-sensor: cannot listen on %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Filters the socket reader's events (by its pid from SO_PEERCRED) instead of the previous one's. */
static void ignore_reader(struct sensor *s, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	uint8_t one = 1;
	int ignored = bpf_map__fd(s->skel->maps.ignored);
	if (!s->ignore_reader || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return;
	if (s->reader_pid)
		bpf_map_delete_elem(ignored, &s->reader_pid);
	s->reader_pid = (uint32_t)cred.pid;
	bpf_map_update_elem(ignored, &s->reader_pid, &one, BPF_ANY);
}

/* Socket mode: takes a new reader when there is none; the new reader gets a hello first. */
static void accept_reader(struct sensor *s)
{
	if (s->listen_fd < 0 || s->out.fd >= 0)
		return;
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	wire_flush(&s->out); /* what was built before counts as undelivered */
	wire_set_fd(&s->out, fd);
	ignore_reader(s, fd);
	write_hello(s);
}

static int setup(struct sensor *s, const struct options *o)
{
	s->skel = vigil_bpf__open();
	if (!s->skel) {
		fprintf(stderr, "vigil-sensor: cannot open the BPF object: %s\n", strerror(errno));
		return -1;
	}
	bpf_map__set_max_entries(s->skel->maps.events, o->ringbuf_mb << 20);
	disable_missing_hooks(s);
	int err = vigil_bpf__load(s->skel);
	if (err) {
		fprintf(stderr, "vigil-sensor: cannot load the BPF programs: %s\n", strerror(-err));
		return -1;
	}
	uint8_t one = 1;
	uint32_t self = (uint32_t)getpid();
	int ignored = bpf_map__fd(s->skel->maps.ignored);
	if (o->ignore_self && bpf_map_update_elem(ignored, &self, &one, BPF_ANY) < 0)
		return -1;
	for (int i = 0; i < o->n_ignored; i++)
		if (bpf_map_update_elem(ignored, &o->ignored[i], &one, BPF_ANY) < 0)
			return -1;
	attach_all(s);
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), on_record, s, NULL);
	if (!s->rb) {
		fprintf(stderr, "vigil-sensor: cannot open the ring buffer: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static int run(struct sensor *s)
{
	uint64_t next_stats = clock_ns(CLOCK_MONOTONIC) + 1000000000ull;
	while (!stopping) {
		int n = ring_buffer__poll(s->rb, s->out.len > 0 ? 10 : s->flush_ms) /* a backlog: retry soon */;
		if (n < 0 && n != -EINTR) {
			fprintf(stderr, "vigil-sensor: ring buffer poll: %s\n", strerror(-n));
			return 1;
		}
		ring_buffer__consume(s->rb);
		if (clock_ns(CLOCK_MONOTONIC) >= next_stats) {
			write_stats(s);
			next_stats += 1000000000ull;
		}
		accept_reader(s);
		if (!wire_flush(&s->out) && s->listen_fd < 0)
			return 0; /* the agent closed the pipe */
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o;
	struct sensor s = {.listen_fd = -1};
	int rc = 1;
	if (parse_options(argc, argv, &o) < 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	s.wall_offset_ns = (int64_t)(clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC));
	s.ignore_reader = o.ignore_self;
	s.flush_ms = (int)o.flush_ms;
	if (o.listen_path && (s.listen_fd = listen_unix(o.listen_path, o.listen_gid)) < 0)
		return 1;
	if (wire_init(&s.out, o.listen_path ? -1 : STDOUT_FILENO, 1 << 20) < 0 || setup(&s, &o) < 0)
		goto out;
	if (!o.listen_path)
		write_hello(&s);
	rc = run(&s);
	wire_drain(&s.out);
out:
	ring_buffer__free(s.rb);
	vigil_bpf__destroy(s.skel);
	wire_free(&s.out);
	if (s.listen_fd >= 0) {
		close(s.listen_fd);
		unlink(o.listen_path);
	}
	return rc;
}
