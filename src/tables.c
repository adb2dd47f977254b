// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "tables.h"

void xlb_service_key_of(const struct xlb_service_conf *c,
			struct xlb_service_key *k)
{
	memset(k, 0, sizeof(*k));
	k->vip = c->vip;
	k->port = htons(c->port);
	k->proto = c->proto;
	k->family = c->family;
}

/* xlb_service_ports[port] |= bit (no write if it is there).  0 or -errno. */
static int port_bits_set(const struct xlb_maps *m, __u16 port, __u8 bit)
{
	__u32 key = port;
	__u8 bits;

	if (bpf_map_lookup_elem(m->service_ports, &key, &bits))
		return -errno;
	if (bits & bit)
		return 0;
	bits |= bit;
	return bpf_map_update_elem(m->service_ports, &key, &bits, BPF_ANY) ?
		       -errno :
		       0;
}

int xlb_backend_port_mark(const struct xlb_maps *m, __u16 port, __u8 proto)
{
	return port_bits_set(m, port, xlb_port_bit(proto, true));
}

static int write_backends(const struct xlb_maps *m, __u16 id,
			  const struct xlb_service_conf *c)
{
	for (size_t i = 0; i < c->n_backends; i++) {
		const struct xlb_backend_conf *bc = &c->backends[i];
		__u32 bid = c->first_backend_id + i;
		struct xlb_backend b = {};
		int err;

		if (bid >= XLB_MAX_BACKENDS)
			return -E2BIG;
		err = xlb_backend_port_mark(m, bc->port, c->proto);
		if (err)
			return err;
		b.addr = bc->addr;
		b.port = htons(bc->port);
		b.service_id = id;
		b.weight = bc->weight;
		b.family = bc->family;
		b.flags = XLB_BACKEND_IN_USE;
		if (bc->weight == 0)
			b.flags |= XLB_BACKEND_DRAIN;
		if (bc->down)
			b.flags |= XLB_BACKEND_DOWN;
		if (bpf_map_update_elem(m->backends, &bid, &b, BPF_ANY))
			return -errno;
	}
	return 0;
}

int xlb_schedule_write(const struct xlb_maps *m, __u16 id, const __u32 *slots,
		       __u32 len)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_INNER_MAP);
	__u32 key, outer_key = id, *keys, count = len;
	int fd, err = 0;

	if (len > XLB_SCHED_MAX_SLOTS)
		return -E2BIG;
	keys = calloc(len ? len : 1, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xlb_schedule", sizeof(__u32),
			    sizeof(__u32), len + 1, &opts);
	if (fd < 0) {
		err = -errno;
		free(keys);
		return err;
	}
	/* slot 0 holds the length, the sequence follows (one batch: an mh
	 * table is 65521 slots) */
	key = XLB_SCHED_LEN_SLOT;
	if (bpf_map_update_elem(fd, &key, &len, BPF_ANY))
		err = -errno;
	for (key = 1; key <= len; key++)
		keys[key - 1] = key;
	if (!err && len && bpf_map_update_batch(fd, keys, slots, &count, NULL))
		err = -errno;
	free(keys);
	/* one update swaps the whole table in; the kernel waits for the
	 * programs still using the old one (synchronize_rcu) */
	if (!err && bpf_map_update_elem(m->schedules, &outer_key, &fd, BPF_ANY))
		err = -errno;
	close(fd);
	return err;
}

int xlb_schedule_install(const struct xlb_maps *m, __u16 id,
			 const struct xlb_service_conf *c, bool *approx)
{
	struct xlb_sched_backend *in;
	__u32 *slots;
	int len, err;

	in = calloc(c->n_backends ? c->n_backends : 1, sizeof(*in));
	slots = calloc(XLB_SCHED_MAX_SLOTS, sizeof(*slots));
	if (!in || !slots) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < c->n_backends; i++) {
		in[i].id = c->first_backend_id + i;
		in[i].weight = c->backends[i].weight;
		in[i].live = !c->backends[i].down;
		in[i].ident = xlb_sched_ident(&c->backends[i].addr,
					      c->backends[i].port);
	}
	len = xlb_sched_build(c->algo, in, c->n_backends, slots,
			      XLB_SCHED_MAX_SLOTS, approx);
	if (len < 0) {
		err = len;
		goto out;
	}
	err = xlb_schedule_write(m, id, slots, len);
	if (!err)
		err = len;
out:
	free(in);
	free(slots);
	return err;
}

int xlb_service_install(const struct xlb_maps *m, __u16 id,
			const struct xlb_service_conf *c, bool *approx)
{
	struct xlb_service_key key;
	struct xlb_service svc = {};
	int err;

	if (id >= XLB_MAX_SERVICES)
		return -E2BIG;
	err = write_backends(m, id, c);
	if (err)
		return err;
	err = xlb_schedule_install(m, id, c, approx);
	if (err < 0)
		return err;
	xlb_service_key_of(c, &key);
	svc.snat = c->snat;
	svc.id = id;
	svc.algo = c->algo;
	if (bpf_map_update_elem(m->services, &key, &svc, BPF_ANY))
		return -errno;
	return port_bits_set(m, c->port, xlb_port_bit(c->proto, false));
}
