// SPDX-License-Identifier: GPL-2.0
/* vigil-sensor: the kernel side. BTF-enabled tracepoints (tp_btf: scheduler, module load and the
 * raw sys_exit) that turn process, network, file and privilege activity into vg_event records
 * on one ring buffer. Drops are counted in a per-CPU map; pids in `ignored` are not reported. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "vigil.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFREG 0100000
#define FMODE_WRITE 0x2
#define FMODE_CREATED 0x100000
#define PTRACE_MODE_ATTACH 0x02
#define WAKE_BYTES (256 * 1024) /* wake the reader once this much is pending */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 2 * 1024 * 1024); /* resized by user space (--ringbuf-mb) */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vg_event);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} ignored SEC(".maps");

struct udp_peer {
	__u32 tgid;
	__u16 dport;
	__u8 family;
	__u8 pad;
	__u8 daddr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct udp_peer);
	__type(value, __u8);
} udp_peers SEC(".maps");

static __always_inline bool is_ignored(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	return bpf_map_lookup_elem(&ignored, &tgid) != NULL;
}

/* Fills the header from `task` and returns the scratch record, or NULL. */
static __always_inline struct vg_event *begin(struct task_struct *task, __u32 kind)
{
	__u32 zero = 0;
	struct vg_event *e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return NULL;
	const struct cred *cred = BPF_CORE_READ(task, cred);
	e->h.kind = kind;
	e->h.flags = 0;
	e->h.mono_ns = bpf_ktime_get_ns();
	e->h.start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
	e->h.cgroup_id = bpf_get_current_cgroup_id();
	e->h.pid = BPF_CORE_READ(task, tgid);
	e->h.tid = BPF_CORE_READ(task, pid);
	e->h.ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->h.uid = BPF_CORE_READ(cred, uid.val);
	e->h.gid = BPF_CORE_READ(cred, gid.val);
	e->h.euid = BPF_CORE_READ(cred, euid.val);
	bpf_probe_read_kernel_str(e->h.comm, sizeof(e->h.comm), BPF_CORE_READ(task, comm));
	return e;
}

static __always_inline struct vg_event *begin_current(__u32 kind)
{
	if (is_ignored())
		return NULL;
	return begin(bpf_get_current_task_btf(), kind);
}

static __always_inline void put_len(struct vg_event *e, __u32 off, __u32 len)
{
	e->var[off & VG_VAR_MASK] = len & 0xff;
	e->var[(off + 1) & VG_VAR_MASK] = (len >> 8) & 0xff;
}

/* Appends a NUL-terminated kernel string as a blob (without the NUL). */
static __always_inline __u32 put_kstr(struct vg_event *e, __u32 off, const char *s)
{
	off &= VG_VAR_MASK;
	long n = bpf_probe_read_kernel_str(&e->var[off + 2], VG_NAME_MAX, s);
	n = n > 0 ? n - 1 : 0;
	put_len(e, off, n);
	return off + 2 + (n & (VG_NAME_MAX * 2 - 1));
}

/* Appends argv (user memory between arg_start and arg_end) as a blob. */
static __always_inline __u32 put_args(struct vg_event *e, __u32 off, struct task_struct *task)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	unsigned long start = BPF_CORE_READ(mm, arg_start);
	unsigned long end = BPF_CORE_READ(mm, arg_end);
	__u64 len = end > start ? end - start : 0;
	if (len > VG_ARGS_MAX) {
		len = VG_ARGS_MAX;
		e->h.flags |= VG_F_ARGS_TRUNC;
	}
	off &= VG_VAR_MASK;
	if (len == 0 || bpf_probe_read_user(&e->var[off + 2], len, (void *)start) < 0)
		len = 0;
	put_len(e, off, len);
	return off + 2 + len;
}

/* State of one path walk, stepped by bpf_loop so that the verifier checks one step only. */
struct walk {
	struct dentry *dentry;
	struct mount *mnt;
	struct dentry *mnt_root;
	__u32 start; /* offset of the blob in var */
	__u32 pos;   /* bytes of components written */
	bool done;
};

static long walk_step(__u32 i, void *ctx)
{
	struct walk *w = ctx;
	__u32 zero = 0;
	struct vg_event *e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 1;
	struct dentry *dentry = w->dentry; /* locals: CO-RE reads must not relocate struct walk */
	struct mount *mnt = w->mnt;
	if (dentry == w->mnt_root) { /* cross to the mount point in the parent mount */
		struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
		if (up == mnt) {
			w->done = true;
			return 1;
		}
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = up;
		w->mnt_root = BPF_CORE_READ(up, mnt.mnt_root);
		return 0;
	}
	if (w->pos > VG_PATH_SPAN - VG_NAME_MAX) {
		e->h.flags |= VG_F_PATH_TRUNC;
		w->done = true;
		return 1;
	}
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
	const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
	long n = bpf_probe_read_kernel_str(&e->var[(w->start + 2 + w->pos) & VG_VAR_MASK], VG_NAME_MAX, name);
	if (n > 0)
		w->pos += n;
	/* the root of a file system that is not mounted (memfd, pipes) ends the walk too */
	w->done = n <= 0 || parent == dentry;
	w->dentry = parent;
	return w->done;
}

/* Appends the path of (mnt, dentry) as a blob of components, leaf first, crossing mounts. */
static __always_inline __u32 put_path(struct vg_event *e, __u32 off, struct vfsmount *vfsmnt,
				      struct dentry *dentry)
{
	struct walk w = {
		.dentry = dentry,
		.mnt = (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt),
		.mnt_root = BPF_CORE_READ(vfsmnt, mnt_root),
		.start = off & VG_VAR_MASK,
	};
	bpf_loop(VG_PATH_DEPTH, walk_step, &w, 0);
	if (!w.done)
		e->h.flags |= VG_F_PATH_TRUNC;
	__u32 pos = w.pos & (VG_PATH_SPAN * 2 - 1);
	put_len(e, w.start, pos);
	return w.start + 2 + pos;
}

static __always_inline void submit(struct vg_event *e, __u32 off)
{
	__u64 flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > WAKE_BYTES ? BPF_RB_FORCE_WAKEUP
										     : BPF_RB_NO_WAKEUP;
	__u64 size = VG_FIXED_SIZE + (off & VG_VAR_MASK);
	if (bpf_ringbuf_output(&events, e, size, flags) < 0) {
		__u32 zero = 0;
		__u64 *n = bpf_map_lookup_elem(&drops, &zero);
		if (n)
			*n += 1;
	}
}

/* ---- processes ---- */

/* memfd_create names its files "memfd:<name>". */
static __always_inline bool is_memfd_name(const unsigned char *name)
{
	char p[6] = {};
	bpf_probe_read_kernel(p, sizeof(p), name);
	return p[0] == 'm' && p[1] == 'e' && p[2] == 'm' && p[3] == 'f' && p[4] == 'd' && p[5] == ':';
}

/* inode's mtime across kernels: i_mtime_sec/_nsec (6.11+), __i_mtime (6.7–6.10), i_mtime (before). */
struct inode___v611 { time64_t i_mtime_sec; u32 i_mtime_nsec; } __attribute__((preserve_access_index));
struct inode___v67 { struct timespec64 __i_mtime; } __attribute__((preserve_access_index));
struct inode___old { struct timespec64 i_mtime; } __attribute__((preserve_access_index));

static __always_inline void exec_identity(struct vg_exec *x, struct inode *inode)
{
	x->ino = BPF_CORE_READ(inode, i_ino);
	x->size = BPF_CORE_READ(inode, i_size);
	x->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	if (bpf_core_field_exists(struct inode___v611, i_mtime_sec)) {
		struct inode___v611 *i = (void *)inode;
		x->mtime_sec = BPF_CORE_READ(i, i_mtime_sec);
		x->mtime_nsec = BPF_CORE_READ(i, i_mtime_nsec);
	} else if (bpf_core_field_exists(struct inode___v67, __i_mtime)) {
		struct inode___v67 *i = (void *)inode;
		x->mtime_sec = BPF_CORE_READ(i, __i_mtime.tv_sec);
		x->mtime_nsec = BPF_CORE_READ(i, __i_mtime.tv_nsec);
	} else {
		struct inode___old *i = (void *)inode;
		x->mtime_sec = BPF_CORE_READ(i, i_mtime.tv_sec);
		x->mtime_nsec = BPF_CORE_READ(i, i_mtime.tv_nsec);
	}
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct vg_event *e = begin_current(VG_EXEC);
	if (!e)
		return 0;
	struct file *file = BPF_CORE_READ(bprm, file);
	struct dentry *dentry = BPF_CORE_READ(file, f_path.dentry);
	const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
	if (is_memfd_name(name) || BPF_CORE_READ(dentry, d_inode, __i_nlink) == 0)
		e->h.flags |= VG_F_FILELESS;
	exec_identity(&e->exec, BPF_CORE_READ(file, f_inode));
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	__u32 off = put_path(e, 0, BPF_CORE_READ(file, f_path.mnt), dentry);
	off = put_args(e, off, task);
	off = put_path(e, off, BPF_CORE_READ(fs, pwd.mnt), BPF_CORE_READ(fs, pwd.dentry));
	submit(e, off);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid) || is_ignored())
		return 0; /* a thread, or an ignored parent */
	struct vg_event *e = begin(child, VG_FORK);
	if (e)
		submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *task)
{
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0; /* other threads of the process are still running */
	struct vg_event *e = begin_current(VG_EXIT);
	if (!e)
		return 0;
	e->exit.code = BPF_CORE_READ(task, exit_code);
	submit(e, 0);
	return 0;
}

/* ---- system calls ----
 * Network, file and privilege activity is taken at the exit of the system calls (the raw
 * sys_exit tracepoint through BTF: no tracefs, no kprobes, no trampolines, which some
 * kernels forbid), with the arguments still in the saved registers and the result known. */

#if defined(__TARGET_ARCH_x86)
#define SYSCALL_NR(regs) BPF_CORE_READ(regs, orig_ax)
enum {
	NR_open = 2, NR_creat = 85, NR_openat = 257, NR_openat2 = 437,
	NR_unlink = 87, NR_unlinkat = 263, NR_rename = 82, NR_renameat = 264, NR_renameat2 = 316,
	NR_chmod = 90, NR_fchmod = 91, NR_fchmodat = 268, NR_fchmodat2 = 452,
	NR_chown = 92, NR_fchown = 93, NR_lchown = 94, NR_fchownat = 260,
	NR_setuid = 105, NR_setgid = 106, NR_setreuid = 113, NR_setregid = 114,
	NR_setresuid = 117, NR_setresgid = 119, NR_setfsuid = 122, NR_setfsgid = 123,
	NR_ptrace = 101, NR_connect = 42, NR_accept = 43, NR_accept4 = 288,
	NR_sendto = 44, NR_sendmsg = 46, NR_sendmmsg = 307,
	NR_recvfrom = 45, NR_recvmsg = 47, NR_recvmmsg = 299,
};
#elif defined(__TARGET_ARCH_arm64)
#define SYSCALL_NR(regs) BPF_CORE_READ(regs, syscallno)
enum { /* the generic table: no open, creat, unlink, rename, chmod, chown, lchown */
	NR_open = -2, NR_creat = -3, NR_openat = 56, NR_openat2 = 437,
	NR_unlink = -4, NR_unlinkat = 35, NR_rename = -5, NR_renameat = 38, NR_renameat2 = 276,
	NR_chmod = -6, NR_fchmod = 52, NR_fchmodat = 53, NR_fchmodat2 = 452,
	NR_chown = -7, NR_fchown = 55, NR_lchown = -8, NR_fchownat = 54,
	NR_setuid = 146, NR_setgid = 144, NR_setreuid = 145, NR_setregid = 143,
	NR_setresuid = 147, NR_setresgid = 149, NR_setfsuid = 151, NR_setfsgid = 152,
	NR_ptrace = 117, NR_connect = 203, NR_accept = 202, NR_accept4 = 242,
	NR_sendto = 206, NR_sendmsg = 211, NR_sendmmsg = 269,
	NR_recvfrom = 207, NR_recvmsg = 212, NR_recvmmsg = 243,
};
#else
#error "vigil-sensor: system call numbers are defined for x86 and arm64"
#endif

#define AT_FDCWD -100
#define S_IFSOCK 0140000
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define PTRACE_TRACEME 0
#define PTRACE_ATTACH 16
#define PTRACE_SEIZE 0x4206

#define ARG(regs, n) ((long)PT_REGS_PARM##n##_CORE_SYSCALL(regs))

static __always_inline struct file *fd_file(int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;
	if (fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

static __always_inline __u32 put_file_path(struct vg_event *e, __u32 off, struct file *file)
{
	return put_path(e, off, BPF_CORE_READ(file, f_path.mnt), BPF_CORE_READ(file, f_path.dentry));
}

/* Appends a user string blob (a path as the caller wrote it). */
static __always_inline __u32 put_ustr(struct vg_event *e, __u32 off, const char *s)
{
	off &= VG_VAR_MASK;
	long n = s ? bpf_probe_read_user_str(&e->var[off + 2], VG_USTR_MAX, s) : 0;
	if (n > 0)
		n -= 1; /* without the NUL */
	else
		n = 0;
	put_len(e, off, n);
	return off + 2 + (n & (VG_PATH_SPAN * 2 - 1));
}

/* A path named by (dirfd, user string): the directory's path blob, then the string blob.
 * Absolute strings need no directory; user space joins and normalises the two. */
static __always_inline __u32 put_at_path(struct vg_event *e, __u32 off, int dirfd, const char *upath)
{
	char first = 0;
	if (upath)
		bpf_probe_read_user(&first, 1, upath);
	if (first == '/') {
		put_len(e, off, 0);
		off += 2;
	} else if (dirfd == AT_FDCWD) {
		struct fs_struct *fs = BPF_CORE_READ((struct task_struct *)bpf_get_current_task_btf(), fs);
		off = put_path(e, off, BPF_CORE_READ(fs, pwd.mnt), BPF_CORE_READ(fs, pwd.dentry));
	} else {
		struct file *dir = fd_file(dirfd);
		if (!dir)
			return put_ustr(e, put_ustr(e, off, NULL), upath);
		off = put_file_path(e, off, dir);
	}
	return put_ustr(e, off, upath);
}

/* open, creat, openat, openat2: a write or create of a regular file, path from the new fd. */
static __noinline int on_open(long fd)
{
	struct file *file = fd_file(fd);
	if (!file)
		return 0;
	__u32 fmode = BPF_CORE_READ(file, f_mode);
	__u16 imode = BPF_CORE_READ(file, f_inode, i_mode);
	if (!(fmode & FMODE_WRITE) || (imode & S_IFMT) != S_IFREG)
		return 0;
	struct vg_event *e = begin_current(fmode & FMODE_CREATED ? VG_FILE_CREATE : VG_FILE_WRITE);
	if (!e)
		return 0;
	e->file = (struct vg_file){.mode = imode};
	__u32 off = put_file_path(e, 0, file);
	submit(e, put_ustr(e, off, NULL));
	return 0;
}

/* Successful unlink, rename, chmod, chown and their *at forms; fd forms name the file by its fd. */
static __noinline int on_file_op(struct pt_regs *regs, long nr)
{
	__u32 kind = VG_FILE_CHOWN;
	if (nr == NR_unlink || nr == NR_unlinkat)
		kind = VG_FILE_DELETE;
	else if (nr == NR_rename || nr == NR_renameat || nr == NR_renameat2)
		kind = VG_FILE_RENAME;
	else if (nr == NR_chmod || nr == NR_fchmod || nr == NR_fchmodat || nr == NR_fchmodat2)
		kind = VG_FILE_CHMOD;
	struct vg_event *e = begin_current(kind);
	if (!e)
		return 0;
	e->file = (struct vg_file){.uid = -1, .gid = -1};
	bool at = nr == NR_unlinkat || nr == NR_renameat || nr == NR_renameat2 || nr == NR_fchmodat ||
		  nr == NR_fchmodat2 || nr == NR_fchownat;
	bool by_fd = nr == NR_fchmod || nr == NR_fchown;
	__u32 off;
	if (by_fd)
		off = put_at_path(e, 0, ARG(regs, 1), NULL);
	else if (at)
		off = put_at_path(e, 0, ARG(regs, 1), (const char *)ARG(regs, 2));
	else
		off = put_at_path(e, 0, AT_FDCWD, (const char *)ARG(regs, 1));
	if (kind == VG_FILE_RENAME)
		off = at ? put_at_path(e, off, ARG(regs, 3), (const char *)ARG(regs, 4))
			 : put_at_path(e, off, AT_FDCWD, (const char *)ARG(regs, 2));
	long a1 = at ? ARG(regs, 3) : ARG(regs, 2), a2 = at ? ARG(regs, 4) : ARG(regs, 3);
	if (kind == VG_FILE_CHMOD)
		e->file.mode = a1;
	if (kind == VG_FILE_CHOWN) {
		e->file.uid = a1;
		e->file.gid = a2;
	}
	submit(e, off);
	return 0;
}

static __always_inline struct sock *fd_sock(int fd)
{
	struct file *file = fd_file(fd);
	if (!file || (BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *sock = BPF_CORE_READ(file, private_data);
	return BPF_CORE_READ(sock, sk);
}

static __always_inline void sock_addrs(struct vg_net *n, struct sock *sk, bool v6)
{
	n->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	n->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (v6) {
		bpf_core_read(n->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(n->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	} else {
		bpf_core_read(n->saddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(n->daddr, 4, &sk->__sk_common.skc_daddr);
	}
}

/* Destination from a user sockaddr (connect, sendto, sendmsg); false if absent or not IP. */
static __always_inline bool sockaddr_dest(struct vg_net *n, const void *uaddr)
{
	struct sockaddr_in6 a = {};
	if (!uaddr || bpf_probe_read_user(&a, sizeof(a), uaddr) < 0)
		return false;
	if (a.sin6_family == AF_INET6) {
		n->family = 6;
		__builtin_memcpy(n->daddr, &a.sin6_addr, 16);
	} else if (a.sin6_family == AF_INET) {
		n->family = 4;
		__builtin_memset(n->daddr, 0, 16);
		__builtin_memcpy(n->daddr, &((struct sockaddr_in *)&a)->sin_addr, 4);
	} else {
		return false;
	}
	n->dport = bpf_ntohs(a.sin6_port);
	return true;
}

/* A record for the TCP or UDP socket behind fd, or NULL. */
static __always_inline struct vg_event *begin_net(__u32 kind, int fd, __u8 proto)
{
	struct sock *sk = fd_sock(fd);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != proto)
		return NULL;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return NULL;
	struct vg_event *e = begin_current(kind);
	if (!e)
		return NULL;
	__builtin_memset(&e->net, 0, sizeof(e->net));
	e->net.family = family == AF_INET6 ? 6 : 4;
	e->net.proto = proto;
	sock_addrs(&e->net, sk, family == AF_INET6);
	return e;
}

static __noinline int on_connect(struct pt_regs *regs, long ret)
{
	struct vg_event *e = begin_net(VG_CONNECT, ARG(regs, 1), IPPROTO_TCP);
	if (!e)
		return 0;
	sockaddr_dest(&e->net, (const void *)ARG(regs, 2));
	e->net.result = ret;
	submit(e, 0);
	return 0;
}

static __noinline int on_accept(long ret)
{
	struct vg_event *e = begin_net(VG_ACCEPT, ret, IPPROTO_TCP);
	if (e)
		submit(e, 0);
	return 0;
}

/* The destination address a send names: sendto's, or the first message's of sendmsg/sendmmsg. */
static __always_inline const void *send_dest(struct pt_regs *regs, long nr)
{
	void *name = NULL;
	if (nr == NR_sendto)
		return (const void *)ARG(regs, 5);
	struct user_msghdr *msg = (struct user_msghdr *)ARG(regs, 2); /* mmsghdr starts with it */
	bpf_probe_read_user(&name, sizeof(name), &msg->msg_name);
	return name;
}

/* UDP: one record per (process, peer), remembered in an LRU map. */
static __noinline int on_udp_send(struct pt_regs *regs, long nr, long ret)
{
	struct vg_event *e = begin_net(VG_UDP_SEND, ARG(regs, 1), IPPROTO_UDP);
	if (!e)
		return 0;
	sockaddr_dest(&e->net, send_dest(regs, nr));
	e->net.result = ret;
	struct udp_peer peer = {.tgid = e->h.pid, .dport = e->net.dport, .family = e->net.family};
	__builtin_memcpy(peer.daddr, e->net.daddr, sizeof(peer.daddr));
	__u8 one = 1;
	if (bpf_map_update_elem(&udp_peers, &peer, &one, BPF_NOEXIST) == 0)
		submit(e, 0);
	return 0;
}

/* ---- DNS ----
 * A message sent to port 53 or received from it, at the asking process's socket (so a process is named even when
 * the host resolves through a local resolver such as systemd-resolved on 127.0.0.53), UDP or TCP, through
 * sendto/sendmsg/sendmmsg and recvfrom/recvmsg/recvmmsg; its first VG_DNS_MAX bytes, parsed by the agent. */

#define DNS_PORT 53
#define MMSG_MAX 2 /* messages of one sendmmsg/recvmmsg looked at (glibc sends A and AAAA in one) */

/* The data of a message: its first iovec, or the second when the first is a TCP message's 2-byte length. */
static __always_inline const void *msg_data(const struct user_msghdr *msg, bool tcp, long *len)
{
	struct iovec iov[2] = {};
	__u64 n = 0;
	bpf_probe_read_user(&n, sizeof(n), &msg->msg_iovlen);
	struct iovec *uiov = NULL;
	bpf_probe_read_user(&uiov, sizeof(uiov), &msg->msg_iov);
	if (!uiov || n == 0 || bpf_probe_read_user(&iov[0], sizeof(iov[0]), uiov) < 0)
		return NULL;
	int i = 0;
	if (tcp && iov[0].iov_len == 2 && n > 1 && bpf_probe_read_user(&iov[1], sizeof(iov[1]), &uiov[1]) == 0)
		i = 1;
	if ((long)iov[i & 1].iov_len < *len)
		*len = iov[i & 1].iov_len;
	return iov[i & 1].iov_base;
}

/* Whether the peer is port 53: `uaddr` (sendto's destination, recvfrom's source) when it holds an IP address,
 * else the connected peer; `given` says which. Checked before any message byte is read. */
static __always_inline bool dns_peer(struct sock *sk, const void *uaddr, bool *given)
{
	struct sockaddr_in6 a = {};
	*given = uaddr && bpf_probe_read_user(&a, sizeof(a), uaddr) == 0 && (a.sin6_family == AF_INET || a.sin6_family == AF_INET6);
	__u16 port = *given ? bpf_ntohs(a.sin6_port) : bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	return port == DNS_PORT;
}

/* One DNS record (the peer checked by dns_peer): addresses, then the message's first VG_DNS_MAX bytes. */
static __noinline int dns_message(struct sock *sk, bool answer, const void *uaddr, const void *buf, long len)
{
	if (len <= 0 || !buf)
		return 0;
	struct vg_event *e = begin_current(VG_DNS);
	if (!e)
		return 0;
	bool v6 = BPF_CORE_READ(sk, __sk_common.skc_family) == AF_INET6;
	__builtin_memset(&e->net, 0, sizeof(e->net));
	e->net.family = v6 ? 6 : 4;
	e->net.proto = BPF_CORE_READ(sk, sk_protocol);
	sock_addrs(&e->net, sk, v6);
	if (uaddr)
		sockaddr_dest(&e->net, uaddr);
	if (answer)
		e->h.flags |= VG_F_DNS_ANSWER;
	__u32 n = len > VG_DNS_MAX ? VG_DNS_MAX : len;
	if (bpf_probe_read_user(&e->var[2], n & (2 * VG_DNS_MAX - 1), buf) < 0)
		n = 0;
	put_len(e, 0, n);
	submit(e, 2 + (n & (2 * VG_DNS_MAX - 1)));
	return 0;
}

/* A msghdr's message when its peer is port 53. */
static __always_inline void dns_msghdr(struct sock *sk, bool tcp, bool answer, const struct user_msghdr *msg, long len)
{
	void *name = NULL;
	bool given;
	bpf_probe_read_user(&name, sizeof(name), &msg->msg_name);
	if (!dns_peer(sk, name, &given))
		return;
	const void *data = msg_data(msg, tcp, &len);
	dns_message(sk, answer, given ? name : NULL, data, len);
}

/* sendto/recvfrom: one buffer; sendmsg/recvmsg: a msghdr; sendmmsg/recvmmsg: the first MMSG_MAX messages. */
static __noinline int on_dns_io(struct pt_regs *regs, long nr, long ret)
{
	if (ret <= 0)
		return 0;
	struct sock *sk = fd_sock(ARG(regs, 1));
	if (!sk)
		return 0;
	__u8 proto = BPF_CORE_READ(sk, sk_protocol);
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if ((proto != IPPROTO_UDP && proto != IPPROTO_TCP) || (family != AF_INET && family != AF_INET6))
		return 0;
	bool tcp = proto == IPPROTO_TCP;
	bool answer = nr == NR_recvfrom || nr == NR_recvmsg || nr == NR_recvmmsg;
	if (nr == NR_sendto || nr == NR_recvfrom) {
		const void *uaddr = (const void *)ARG(regs, 5);
		bool given;
		if (dns_peer(sk, uaddr, &given))
			dns_message(sk, answer, given ? uaddr : NULL, (const void *)ARG(regs, 2), ret);
		return 0;
	}
	if (nr == NR_sendmsg || nr == NR_recvmsg) {
		dns_msghdr(sk, tcp, answer, (const struct user_msghdr *)ARG(regs, 2), ret);
		return 0;
	}
	struct mmsghdr *msgs = (struct mmsghdr *)ARG(regs, 2);
	for (int i = 0; i < MMSG_MAX && i < ret; i++) {
		__u32 mlen = 0;
		bpf_probe_read_user(&mlen, sizeof(mlen), &msgs[i].msg_len);
		dns_msghdr(sk, tcp, answer, &msgs[i].msg_hdr, mlen);
	}
	return 0;
}

static __always_inline __u32 cred_op(long nr)
{
	switch (nr) {
	case NR_setuid: return VG_OP_SETUID;
	case NR_setgid: return VG_OP_SETGID;
	case NR_setreuid: return VG_OP_SETREUID;
	case NR_setregid: return VG_OP_SETREGID;
	case NR_setresuid: return VG_OP_SETRESUID;
	case NR_setresgid: return VG_OP_SETRESGID;
	case NR_setfsuid: return VG_OP_SETFSUID;
	default: return VG_OP_SETFSGID;
	}
}

static __noinline int on_cred_change(long nr, long ret)
{
	__u32 op = cred_op(nr);
	bool gid = op == VG_OP_SETGID || op == VG_OP_SETREGID || op == VG_OP_SETRESGID || op == VG_OP_SETFSGID;
	struct vg_event *e = begin_current(gid ? VG_SETGID : VG_SETUID);
	if (!e)
		return 0;
	const struct cred *cred = BPF_CORE_READ((struct task_struct *)bpf_get_current_task_btf(), cred);
	e->cred.uid = BPF_CORE_READ(cred, uid.val);
	e->cred.euid = BPF_CORE_READ(cred, euid.val);
	e->cred.gid = BPF_CORE_READ(cred, gid.val);
	e->cred.egid = BPF_CORE_READ(cred, egid.val);
	e->cred.op = op;
	e->cred.result = ret;
	submit(e, 0);
	return 0;
}

static __noinline int on_ptrace(struct pt_regs *regs, long ret)
{
	long request = ARG(regs, 1);
	if (request != PTRACE_ATTACH && request != PTRACE_SEIZE && request != PTRACE_TRACEME)
		return 0;
	struct vg_event *e = begin_current(VG_PTRACE);
	if (!e)
		return 0;
	if (request == PTRACE_TRACEME) {
		e->h.flags |= VG_F_TRACEME;
		e->ptrace.target = e->h.ppid;
	} else {
		e->ptrace.target = ARG(regs, 2);
	}
	e->ptrace.request = request;
	e->ptrace.result = ret;
	submit(e, 0);
	return 0;
}

/* A kernel module that was loaded (init_module or finit_module), by name. */
SEC("tp_btf/module_load")
int BPF_PROG(on_module_load, struct module *mod)
{
	struct vg_event *e = begin_current(VG_MODULE);
	if (e)
		submit(e, put_kstr(e, 0, BPF_CORE_READ(mod, name)));
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	long nr = SYSCALL_NR(regs);
	switch (nr) {
	case NR_open: case NR_creat: case NR_openat: case NR_openat2:
		return ret >= 0 ? on_open(ret) : 0;
	case NR_unlink: case NR_unlinkat: case NR_rename: case NR_renameat: case NR_renameat2:
	case NR_chmod: case NR_fchmod: case NR_fchmodat: case NR_fchmodat2:
	case NR_chown: case NR_fchown: case NR_lchown: case NR_fchownat:
		return ret == 0 ? on_file_op(regs, nr) : 0;
	case NR_connect:
		return on_connect(regs, ret);
	case NR_accept: case NR_accept4:
		return ret >= 0 ? on_accept(ret) : 0;
	case NR_sendto: case NR_sendmsg: case NR_sendmmsg:
		on_dns_io(regs, nr, ret);
		return on_udp_send(regs, nr, ret);
	case NR_recvfrom: case NR_recvmsg: case NR_recvmmsg:
		return on_dns_io(regs, nr, ret);
	case NR_setuid: case NR_setgid: case NR_setreuid: case NR_setregid:
	case NR_setresuid: case NR_setresgid: case NR_setfsuid: case NR_setfsgid:
		return on_cred_change(nr, ret);
	case NR_ptrace:
		return on_ptrace(regs, ret);
	}
	return 0;
}
