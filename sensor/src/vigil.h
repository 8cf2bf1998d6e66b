/* vigil-sensor: the records the BPF programs hand to user space through the ring buffer.
 * Shared by vigil.bpf.c (producer) and vigil-sensor.c (consumer). The wire format that the
 * sensor writes to the agent is different and lives in wire.h (described in docs/sensor.md). */
#ifndef VIGIL_H
#define VIGIL_H

#define VG_COMM_LEN 16
#define VG_ARGS_MAX 4096     /* argv bytes kept per exec; more is flagged as truncated */
#define VG_NAME_MAX 256      /* one path component */
#define VG_PATH_DEPTH 40     /* path components walked; deeper paths are flagged as truncated */
#define VG_PATH_SPAN 4096    /* bytes of path components kept per path */
#define VG_USTR_MAX 4032     /* bytes of a path as a caller wrote it (two joined paths fit in VG_VAR_SPAN) */
#define VG_VAR_SPAN 16384    /* variable area of one kernel record (power of two) */
#define VG_VAR_MASK (VG_VAR_SPAN - 1)

/* Kinds of kernel records; the wire frame types reuse these numbers. */
enum vg_kind {
	VG_EXEC = 1,
	VG_FORK = 2,
	VG_EXIT = 3,
	VG_CONNECT = 4,
	VG_ACCEPT = 5,
	VG_UDP_SEND = 6,
	VG_FILE_CREATE = 7,
	VG_FILE_WRITE = 8,
	VG_FILE_DELETE = 9,
	VG_FILE_RENAME = 10,
	VG_FILE_CHMOD = 11,
	VG_FILE_CHOWN = 12,
	VG_SETUID = 13,
	VG_SETGID = 14,
	VG_PTRACE = 15,
	VG_MODULE = 16,
	VG_DNS = 17,
	VG_KIND_MAX = 18,
};

/* Record flags (also the wire frame flags). */
#define VG_F_ARGS_TRUNC 0x1   /* argv longer than VG_ARGS_MAX */
#define VG_F_PATH_TRUNC 0x2   /* a path deeper or longer than the bounds */
#define VG_F_FILELESS 0x4     /* exec of a memfd or of an unlinked file */
#define VG_F_TRACEME 0x8      /* ptrace: PTRACE_TRACEME, the target is the tracer (parent) */
#define VG_F_DNS_ANSWER 0x10  /* dns: a message received from port 53 (else one sent to it) */
#define VG_DNS_MAX 2048       /* bytes of a DNS message kept */

struct vg_hdr {
	__u32 kind;
	__u32 flags;
	__u64 mono_ns;       /* CLOCK_MONOTONIC */
	__u64 start_ns;      /* task->group_leader->start_boottime */
	__u64 cgroup_id;
	__u32 pid, tid, ppid, uid, gid, euid;
	char comm[VG_COMM_LEN];
};

/* The executed file as the kernel opened it: the agent hashes it once per (device, inode, mtime, size). */
struct vg_exec {
	__u64 ino;
	__u64 size;
	__s64 mtime_sec;
	__u32 mtime_nsec;
	__u32 dev; /* the kernel's dev_t (major << 20 | minor) */
};

struct vg_exit {
	__u32 code; /* task->exit_code: (status << 8) | signal */
	__u32 pad;
};

struct vg_net {
	__u8 family;   /* 4 or 6 */
	__u8 proto;    /* 6 tcp, 17 udp */
	__u16 pad;
	__s32 result;
	__u16 sport, dport; /* host order */
	__u8 saddr[16], daddr[16];
};

struct vg_file {
	__u32 mode, uid, gid; /* chmod's mode, chown's owner (-1: unchanged), else the file mode */
	__s32 result;         /* 0: only successful file operations are reported */
};

/* The set*id system call of a VG_SETUID / VG_SETGID record. */
enum vg_cred_op {
	VG_OP_SETUID = 1, VG_OP_SETGID, VG_OP_SETREUID, VG_OP_SETREGID,
	VG_OP_SETRESUID, VG_OP_SETRESGID, VG_OP_SETFSUID, VG_OP_SETFSGID,
};

struct vg_cred {
	__u32 uid, euid, gid, egid; /* after the call */
	__u32 op;                    /* enum vg_cred_op */
	__s32 result;
};

struct vg_ptrace {
	__u32 target;
	__u32 request;
	__s32 result;
	__u32 pad;
};

/* A kernel record: header, one payload, then the variable area: a sequence of blobs, each a
 * little-endian u16 length followed by that many bytes. String blobs hold the bytes as read
 * (argv with its NULs); path blobs hold the components leaf first, each NUL-terminated.
 * A path named by a system call is two blobs: the directory's path blob (empty when the name
 * is absolute) and the name as the caller wrote it; user space joins and normalises them. */
struct vg_event {
	struct vg_hdr h;
	union {
		struct vg_exec exec;
		struct vg_exit exit;
		struct vg_net net;
		struct vg_file file;
		struct vg_cred cred;
		struct vg_ptrace ptrace;
	};
	__u8 var[VG_VAR_SPAN + VG_ARGS_MAX + 2]; /* any write starts below VG_VAR_SPAN */
};

#define VG_FIXED_SIZE (sizeof(struct vg_event) - (VG_VAR_SPAN + VG_ARGS_MAX + 2))

#endif
