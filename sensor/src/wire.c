/* vigil-sensor: builds little-endian frames in one buffer and writes them out whole. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wire.h"

int wire_init(struct wire *w, int fd, size_t cap)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->cap = cap;
	w->buf = malloc(cap);
	return w->buf ? 0 : -ENOMEM;
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

void wire_begin(struct wire *w, uint8_t type, uint16_t flags)
{
	if (w->cap - w->len < WIRE_MAX_FRAME + 1)
		wire_flush(w);
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

static bool write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		p += k;
		n -= (size_t)k;
	}
	return true;
}

bool wire_flush(struct wire *w)
{
	bool delivered = w->fd >= 0 && write_all(w->fd, w->buf, w->len);
	if (delivered) {
		w->frames += w->pending;
	} else {
		w->undelivered += w->pending;
		if (w->fd >= 0) {
			close(w->fd);
			w->fd = -1;
			w->len = w->pending = 0;
			return false;
		}
	}
	w->len = w->pending = 0;
	return true;
}
