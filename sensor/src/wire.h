/* vigil-sensor: the wire format written to the agent (see docs/sensor.md): framing, the frame
 * types and a buffered writer that builds frames and flushes them to a file descriptor. */
#ifndef VIGIL_WIRE_H
#define VIGIL_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Frame header (12 bytes, little-endian): magic u32 "VIGL", length u32 (whole frame, header
 * included), version u8, type u8, flags u16. */
#define WIRE_MAGIC 0x4C474956u /* "VIGL" little-endian */
#define WIRE_VERSION 1
#define WIRE_HDR_SIZE 12
#define WIRE_MAX_FRAME 65535
#define WIRE_STATS 100
#define WIRE_HELLO 101

/* Most a reader that has stopped reading may leave queued in the sensor; beyond it the sensor waits for
 * the reader (and the kernel ring fills, then drops and counts). */
#define WIRE_MAX_BUFFER (64u << 20)

struct wire {
	int fd;                 /* -1: no reader, frames are discarded */
	uint8_t *buf;
	size_t len, cap;
	size_t base_cap;        /* the buffer's size when the reader keeps up */
	size_t frame;           /* start of the frame being built */
	uint64_t pending;       /* complete frames in buf */
	uint64_t frames;        /* frames handed to the reader */
	uint64_t undelivered;   /* frames discarded: no reader, or the reader went away */
};

int wire_init(struct wire *w, int fd, size_t cap);
/* The reader from now on; a pipe or socket is made non-blocking, so that a slow reader never stops the
 * sensor from draining the kernel ring (frames queue in the buffer, up to WIRE_MAX_BUFFER). */
void wire_set_fd(struct wire *w, int fd);
void wire_free(struct wire *w);
void wire_begin(struct wire *w, uint8_t type, uint16_t flags);
void wire_u8(struct wire *w, uint8_t v);
void wire_u16(struct wire *w, uint16_t v);
void wire_u32(struct wire *w, uint32_t v);
void wire_u64(struct wire *w, uint64_t v);
void wire_bytes(struct wire *w, const void *p, size_t n);
void wire_str(struct wire *w, const void *p, size_t n); /* u16 length + bytes */
void wire_end(struct wire *w);
/* Writes out what the reader takes now; false when the reader has gone away (its fd is then closed). */
bool wire_flush(struct wire *w);
/* Writes out every queued frame, waiting up to ≈ 5 s for the reader (at exit). */
void wire_drain(struct wire *w);

#endif
