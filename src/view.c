// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "addr.h"
#include "view.h"

static int cmp_svc(const void *a, const void *b)
{
	const struct xlb_view_service *x = a, *y = b;

	return (int)x->svc.id - (int)y->svc.id;
}

static int read_services(const struct xlb_maps *m, struct xlb_view *v)
{
	struct xlb_service_key key, next;
	void *prev = NULL;

	v->svcs = calloc(XLB_MAX_SERVICES, sizeof(*v->svcs));
	if (!v->svcs)
		return -ENOMEM;
	while (v->n_svcs < XLB_MAX_SERVICES &&
	       !bpf_map_get_next_key(m->services, prev, &next)) {
		struct xlb_view_service *s = &v->svcs[v->n_svcs];

		if (!bpf_map_lookup_elem(m->services, &next, &s->svc)) {
			s->key = next;
			v->n_svcs++;
		}
		key = next;
		prev = &key;
	}
	qsort(v->svcs, v->n_svcs, sizeof(*v->svcs), cmp_svc);
	return 0;
}

static int read_backends(const struct xlb_maps *m, struct xlb_view *v)
{
	const __u32 chunk = 4096;
	struct xlb_backend *vals;
	__u32 *keys, batch = 0;
	bool first = true;
	int err = 0;

	keys = calloc(chunk, sizeof(*keys));
	vals = calloc(chunk, sizeof(*vals));
	v->backends = calloc(XLB_MAX_BACKENDS, sizeof(*v->backends));
	if (!keys || !vals || !v->backends) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		__u32 count = chunk;
		int rc = bpf_map_lookup_batch(m->backends, first ? NULL : &batch,
					      &batch, keys, vals, &count, NULL);

		first = false;
		if (rc && errno != ENOENT) {
			err = -errno;
			break;
		}
		for (__u32 i = 0; i < count; i++) {
			if (!(vals[i].flags & XLB_BACKEND_IN_USE))
				continue;
			v->backends[v->n_backends].id = keys[i];
			v->backends[v->n_backends].b = vals[i];
			v->n_backends++;
		}
		if (rc)
			break;
	}
out:
	free(keys);
	free(vals);
	return err;
}

int xlb_view_read(const struct xlb_maps *m, struct xlb_view *v)
{
	int err;

	memset(v, 0, sizeof(*v));
	err = read_services(m, v);
	if (!err)
		err = read_backends(m, v);
	if (err)
		xlb_view_free(v);
	return err;
}

void xlb_view_free(struct xlb_view *v)
{
	free(v->svcs);
	free(v->backends);
	memset(v, 0, sizeof(*v));
}

const struct xlb_view_service *xlb_view_service(const struct xlb_view *v,
						__u16 id)
{
	for (size_t i = 0; i < v->n_svcs; i++)
		if (v->svcs[i].svc.id == id)
			return &v->svcs[i];
	return NULL;
}

const char *xlb_view_vip_str(const struct xlb_service_key *k, char *buf,
			     size_t len)
{
	char ep[XLB_ENDPOINT_STRLEN];

	snprintf(buf, len, "%s/%s",
		 xlb_endpoint_str(&k->vip, k->family, ntohs(k->port), ep,
				  sizeof(ep)),
		 xlb_proto_name(k->proto));
	return buf;
}

const char *xlb_backend_state_name(const struct xlb_backend *b)
{
	if (b->flags & XLB_BACKEND_DOWN)
		return "down";
	if (b->flags & XLB_BACKEND_DRAIN)
		return "drain";
	return "up";
}
