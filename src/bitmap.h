/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Bitmaps of ids (service and backend ids) as byte arrays. */
#ifndef XLB_BITMAP_H
#define XLB_BITMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

static inline void xlb_bit_set(__u8 *map, __u32 i)
{
	map[i / 8] |= 1u << (i % 8);
}

static inline void xlb_bit_clear(__u8 *map, __u32 i)
{
	map[i / 8] &= ~(1u << (i % 8));
}

static inline bool xlb_bit_test(const __u8 *map, __u32 i)
{
	return map[i / 8] & (1u << (i % 8));
}

static inline bool xlb_bits_any(const __u8 *map, size_t bytes)
{
	for (size_t i = 0; i < bytes; i++)
		if (map[i])
			return true;
	return false;
}

/* to |= from, bytes long. */
static inline void xlb_bits_or(__u8 *to, const __u8 *from, size_t bytes)
{
	for (size_t i = 0; i < bytes; i++)
		to[i] |= from[i];
}

#endif
