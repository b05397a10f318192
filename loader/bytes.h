/* Little-endian field access and overflow-free range checks for parsing
 * image files and building boot structures byte by byte. Explicit offsets
 * instead of packed structs keep the layouts exactly those of the specs,
 * whatever the host compiler's alignment rules. */
#ifndef WISP_LOADER_BYTES_H
#define WISP_LOADER_BYTES_H

#include <stdbool.h>
#include <stdint.h>

static inline uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static inline uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | ((uint64_t)get_le32(p + 4) << 32);
}

static inline void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

/* [off, off + len) lies inside [0, size), written so nothing can wrap. */
static inline bool range_in(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* Two half-open ranges share at least one byte. */
static inline bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	if (alen == 0 || blen == 0)
		return false;
	return a < b ? b - a < alen : a - b < blen;
}

/* Sum of all bytes; MP structures must sum to 0 modulo 256. */
static inline uint8_t byte_sum(const uint8_t *p, uint64_t len)
{
	uint8_t s = 0;
	for (uint64_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

#endif
