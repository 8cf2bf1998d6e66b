/* vigil-sensor: builds little-endian frames in one buffer and writes out what the reader takes; the
 * buffer grows while the reader is slow (up to WIRE_MAX_BUFFER) and shrinks back once it has caught up. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "wire.h"

int wire_init(struct wire *w, int fd, size_t cap)
{
	memset(w, 0, sizeof(*w));
	w->cap = w->base_cap = cap;
	w->buf = malloc(cap);
	wire_set_fd(w, fd);
	return w->buf ? 0 : -ENOMEM;
}

void wire_set_fd(struct wire *w, int fd)
{
	struct stat st;
	w->fd = fd;
	/* Not a terminal or file: O_NONBLOCK belongs to the open file, which a shell may share. */
	if (fd >= 0 && fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

void wire_free(struct wire *w)
{
	free(w->buf);
	w->buf = NULL;
}

static void put(struct wire *w, const void *p, size_t n)
{
	if (w->len + n > w->cap) /* the caller flushes before a frame; a frame is at most 64 KiB */
		n = w->cap - w->len;
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void wire_u8(struct wire *w, uint8_t v) { put(w, &v, 1); }

void wire_u16(struct wire *w, uint16_t v)
{
	uint8_t b[2] = {v & 0xff, v >> 8};
	put(w, b, 2);
}

void wire_u32(struct wire *w, uint32_t v)
{
	uint8_t b[4];
	for (int i = 0; i < 4; i++)
		b[i] = v >> (8 * i);
	put(w, b, 4);
}

void wire_u64(struct wire *w, uint64_t v)
{
	wire_u32(w, (uint32_t)v);
	wire_u32(w, (uint32_t)(v >> 32));
}

void wire_bytes(struct wire *w, const void *p, size_t n) { put(w, p, n); }

void wire_str(struct wire *w, const void *p, size_t n)
{
	if (n > 0xffff)
		n = 0xffff;
	wire_u16(w, (uint16_t)n);
	put(w, p, n);
}

static bool has_room(const struct wire *w) { return w->cap - w->len >= WIRE_MAX_FRAME + 1; }

static void wait_writable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	poll(&p, 1, 1000);
}

/* Room for one more frame: written out, else a larger buffer, else waiting for the reader. */
static void make_room(struct wire *w)
{
	wire_flush(w);
	if (!has_room(w) && w->cap < WIRE_MAX_BUFFER) {
		size_t cap = w->cap * 2 < WIRE_MAX_BUFFER ? w->cap * 2 : WIRE_MAX_BUFFER;
		uint8_t *buf = realloc(w->buf, cap);
		if (buf) {
			w->buf = buf;
			w->cap = cap;
		}
	}
	while (!has_room(w) && w->fd >= 0) {
		wait_writable(w->fd);
		wire_flush(w);
	}
}

void wire_begin(struct wire *w, uint8_t type, uint16_t flags)
{
	if (!has_room(w))
		make_room(w);
	w->frame = w->len;
	wire_u32(w, WIRE_MAGIC);
	wire_u32(w, 0); /* length, patched by wire_end */
	wire_u8(w, WIRE_VERSION);
	wire_u8(w, type);
	wire_u16(w, flags);
}

void wire_end(struct wire *w)
{
	uint32_t n = (uint32_t)(w->len - w->frame);
	for (int i = 0; i < 4; i++)
		w->buf[w->frame + 4 + i] = n >> (8 * i);
	w->pending++;
}

/* The reader is gone: its frames count as undelivered and it is closed. */
static bool reader_gone(struct wire *w)
{
	close(w->fd);
	w->fd = -1;
	w->undelivered += w->pending;
	w->len = w->pending = 0;
	return false;
}

bool wire_flush(struct wire *w)
{
	if (w->fd < 0) {
		w->undelivered += w->pending;
		w->len = w->pending = 0;
		return true;
	}
	size_t done = 0;
	while (done < w->len) {
		ssize_t k = write(w->fd, w->buf + done, w->len - done);
		if (k > 0)
			done += (size_t)k;
		else if (k < 0 && errno == EAGAIN)
			break; /* the reader is slow: the rest waits here */
		else if (!(k < 0 && errno == EINTR))
			return reader_gone(w);
	}
	memmove(w->buf, w->buf + done, w->len - done);
	w->len -= done;
	if (w->len > 0)
		return true;
	w->frames += w->pending; /* frames count as handed over when the buffer has emptied */
	w->pending = 0;
	if (w->cap > w->base_cap) {
		uint8_t *buf = realloc(w->buf, w->base_cap);
		if (buf) {
			w->buf = buf;
			w->cap = w->base_cap;
		}
	}
	return true;
}

void wire_drain(struct wire *w)
{
	for (int waits = 0; w->len > 0 && w->fd >= 0 && wire_flush(w) && w->len > 0 && waits < 5; waits++)
		wait_writable(w->fd);
}
