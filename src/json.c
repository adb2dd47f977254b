// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Streaming JSON writer (see json.h). */
#include <errno.h>
#include <string.h>

#include "json.h"

void xlb_json_init(struct xlb_json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

static void json_fail(struct xlb_json *j, int err)
{
	if (!j->err)
		j->err = err;
}

/* Before any value (scalar or container): separator, and checks that a
 * value may come here.  Returns false (and records why) if not. */
static bool json_value_prefix(struct xlb_json *j)
{
	int level;

	if (j->err)
		return false;
	if (j->depth == 0) {
		if (j->started) {
			json_fail(j, -EINVAL); /* second top-level value */
			return false;
		}
		j->started = true;
		return true;
	}
	level = j->depth - 1;
	if (j->in_object[level]) {
		if (!j->after_key) {
			json_fail(j, -EINVAL); /* object member without key */
			return false;
		}
		j->after_key = false;
		return true;
	}
	if (j->need_comma[level])
		fputc(',', j->f);
	j->need_comma[level] = true;
	return true;
}

static void json_write_string(FILE *f, const char *s)
{
	const unsigned char *p;

	fputc('"', f);
	for (p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\b':
			fputs("\\b", f);
			break;
		case '\f':
			fputs("\\f", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void json_begin(struct xlb_json *j, bool object)
{
	if (!json_value_prefix(j))
		return;
	if (j->depth == XLB_JSON_MAX_DEPTH) {
		json_fail(j, -E2BIG);
		return;
	}
	fputc(object ? '{' : '[', j->f);
	j->in_object[j->depth] = object;
	j->need_comma[j->depth] = false;
	j->depth++;
}

static void json_end(struct xlb_json *j, bool object)
{
	if (j->err)
		return;
	if (j->depth == 0 || j->in_object[j->depth - 1] != object ||
	    j->after_key) {
		json_fail(j, -EINVAL);
		return;
	}
	fputc(object ? '}' : ']', j->f);
	j->depth--;
}

void xlb_json_begin_object(struct xlb_json *j)
{
	json_begin(j, true);
}

void xlb_json_end_object(struct xlb_json *j)
{
	json_end(j, true);
}

void xlb_json_begin_array(struct xlb_json *j)
{
	json_begin(j, false);
}

void xlb_json_end_array(struct xlb_json *j)
{
	json_end(j, false);
}

void xlb_json_key(struct xlb_json *j, const char *key)
{
	int level = j->depth - 1;

	if (j->err)
		return;
	if (j->depth == 0 || !j->in_object[level] || j->after_key || !key) {
		json_fail(j, -EINVAL);
		return;
	}
	if (j->need_comma[level])
		fputc(',', j->f);
	j->need_comma[level] = true;
	json_write_string(j->f, key);
	fputc(':', j->f);
	j->after_key = true;
}

void xlb_json_string(struct xlb_json *j, const char *s)
{
	if (!json_value_prefix(j))
		return;
	if (s)
		json_write_string(j->f, s);
	else
		fputs("null", j->f);
}

void xlb_json_u64(struct xlb_json *j, __u64 v)
{
	if (json_value_prefix(j))
		fprintf(j->f, "%llu", (unsigned long long)v);
}

void xlb_json_i64(struct xlb_json *j, __s64 v)
{
	if (json_value_prefix(j))
		fprintf(j->f, "%lld", (long long)v);
}

void xlb_json_bool(struct xlb_json *j, bool v)
{
	if (json_value_prefix(j))
		fputs(v ? "true" : "false", j->f);
}

void xlb_json_null(struct xlb_json *j)
{
	if (json_value_prefix(j))
		fputs("null", j->f);
}

void xlb_json_kv_string(struct xlb_json *j, const char *key, const char *s)
{
	xlb_json_key(j, key);
	xlb_json_string(j, s);
}

void xlb_json_kv_u64(struct xlb_json *j, const char *key, __u64 v)
{
	xlb_json_key(j, key);
	xlb_json_u64(j, v);
}

void xlb_json_kv_i64(struct xlb_json *j, const char *key, __s64 v)
{
	xlb_json_key(j, key);
	xlb_json_i64(j, v);
}

void xlb_json_kv_bool(struct xlb_json *j, const char *key, bool v)
{
	xlb_json_key(j, key);
	xlb_json_bool(j, v);
}

int xlb_json_end(struct xlb_json *j)
{
	if (j->err)
		return j->err;
	if (!j->started || j->depth != 0) {
		json_fail(j, -EINVAL);
		return j->err;
	}
	fputc('\n', j->f);
	if (fflush(j->f) || ferror(j->f))
		return -EIO;
	return 0;
}
