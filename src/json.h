/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Tiny streaming JSON writer for `-j` output: compact (no spaces, no
 * newlines inside), one document per struct xlb_json.
 *
 *	struct xlb_json j;
 *
 *	xlb_json_init(&j, stdout);
 *	xlb_json_begin_object(&j);
 *	xlb_json_kv_string(&j, "vip", "198.51.100.10:8000");
 *	xlb_json_key(&j, "backends");
 *	xlb_json_begin_array(&j);
 *	...
 *	xlb_json_end_array(&j);
 *	xlb_json_end_object(&j);
 *	return xlb_json_end(&j);	// writes the final "\n"
 *
 * Misuse (a value without a key inside an object, a key inside an array,
 * unbalanced ends, nesting deeper than XLB_JSON_MAX_DEPTH, a second
 * top-level value) is remembered in j->err; from then on nothing more is
 * written and xlb_json_end() returns the error.  Strings are escaped per
 * RFC 8259: " and \ with a backslash, \b \f \n \r \t in their short form,
 * other control characters as \u00XX; other bytes (UTF-8) pass through.
 */
#ifndef XLB_JSON_H
#define XLB_JSON_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>

#define XLB_JSON_MAX_DEPTH 32

struct xlb_json {
	FILE *f;
	int depth;                           /* containers open */
	bool need_comma[XLB_JSON_MAX_DEPTH]; /* level has a member already */
	bool in_object[XLB_JSON_MAX_DEPTH];  /* level is an object, not array */
	bool after_key;                      /* a key was written, value next */
	bool started;                        /* the top-level value was begun */
	int err;                             /* first misuse (-EINVAL, -E2BIG) */
};

void xlb_json_init(struct xlb_json *j, FILE *f);

void xlb_json_begin_object(struct xlb_json *j);
void xlb_json_end_object(struct xlb_json *j);
void xlb_json_begin_array(struct xlb_json *j);
void xlb_json_end_array(struct xlb_json *j);

/* Member name inside an object; the next call writes its value. */
void xlb_json_key(struct xlb_json *j, const char *key);

/* Values.  A NULL string is written as null. */
void xlb_json_string(struct xlb_json *j, const char *s);
void xlb_json_u64(struct xlb_json *j, __u64 v);
void xlb_json_i64(struct xlb_json *j, __s64 v);
void xlb_json_bool(struct xlb_json *j, bool v);
void xlb_json_null(struct xlb_json *j);

/* key + value */
void xlb_json_kv_string(struct xlb_json *j, const char *key, const char *s);
void xlb_json_kv_u64(struct xlb_json *j, const char *key, __u64 v);
void xlb_json_kv_i64(struct xlb_json *j, const char *key, __s64 v);
void xlb_json_kv_bool(struct xlb_json *j, const char *key, bool v);

/*
 * Finish the document: checks that it is complete, writes "\n" and flushes.
 * Returns 0, j->err (misuse, see above; the "\n" is not written), -EINVAL
 * (nothing written or containers left open) or -EIO (the stream failed).
 */
int xlb_json_end(struct xlb_json *j);

#endif /* XLB_JSON_H */
