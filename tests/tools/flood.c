// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * flood: a bounded packet generator for the xlb end-to-end tests.
 *
 *   flood -i IFACE --dmac MAC --dst ADDR --dport PORT
 *         --count N --duration SECONDS
 *         [--proto syn|udp] [--src CIDR[,CIDR...]] [--batch N]
 *         [--payload BYTES] [--seed N]
 *
 * Sends Ethernet frames carrying TCP SYNs (default) or UDP datagrams to
 * ADDR:PORT through an AF_PACKET socket on IFACE (sendmmsg batches,
 * qdisc bypass), each from a random source address drawn from the --src
 * ranges and a random source port (1024-65535), with valid IPv4/TCP/UDP
 * checksums (computed in full: the frames bypass checksum offload).
 * IPv4 or IPv6 follows from ADDR.  Stops at whichever comes first: COUNT
 * packets, SECONDS elapsed, SIGINT/SIGTERM.  Both bounds are required.
 *
 * Safety: every address (sources and destination) must lie inside the
 * documentation ranges 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and
 * 2001:db8::/32; anything else is refused.  Default sources:
 * 192.0.2.0/24,203.0.113.0/24 (IPv4), 2001:db8:ffff::/48 (IPv6).
 *
 * Output (stdout, one line):
 *   flood: sent=N errors=E seconds=S pps=R proto=syn family=4
 * Exit 0 if at least one packet was sent, 1 on error, 2 on usage.
 */
#define _GNU_SOURCE /* sendmmsg */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 1024
#define MAX_RANGES 16
#define MAX_COUNT 1000000000ULL /* hard cap whatever --count says */
#define MAX_DURATION_S 600.0    /* hard cap whatever --duration says */
#define MAX_PAYLOAD 1400
#define FRAME_MAX 1514

struct range {
	int family;        /* AF_INET / AF_INET6 */
	uint8_t base[16];  /* network order */
	int prefix_len;
};

struct opts {
	const char *ifname;
	uint8_t dmac[6];
	bool have_dmac;
	int family;
	uint8_t dst[16];
	uint16_t dport;
	bool udp;
	uint64_t count;
	double duration_s;
	struct range src[MAX_RANGES];
	int n_src;
	int batch;
	int payload;
	uint64_t seed;
};

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) { stop_flag = sig; }

static void usage(FILE *f)
{
	fprintf(f,
		"usage: flood -i IFACE --dmac MAC --dst ADDR --dport PORT "
		"--count N --duration SECONDS\n"
		"             [--proto syn|udp] [--src CIDR[,CIDR...]] "
		"[--batch N] [--payload BYTES] [--seed N]\n"
		"Addresses must lie in 192.0.2.0/24, 198.51.100.0/24, "
		"203.0.113.0/24 or 2001:db8::/32.\n");
}

/* -------------------------------------------------------- address checks */
static bool prefix_match(const uint8_t *a, const uint8_t *net, int len)
{
	int full = len / 8, rest = len % 8;

	if (memcmp(a, net, full))
		return false;
	if (rest) {
		uint8_t m = (uint8_t)(0xff << (8 - rest));

		if ((a[full] & m) != (net[full] & m))
			return false;
	}
	return true;
}

/* Is the range [base/len] entirely inside a documentation range? */
static bool is_doc_range(int family, const uint8_t *base, int len)
{
	static const uint8_t v4[3][4] = { { 192, 0, 2, 0 },
					  { 198, 51, 100, 0 },
					  { 203, 0, 113, 0 } };
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };

	if (family == AF_INET) {
		if (len < 24)
			return false;
		for (int i = 0; i < 3; i++)
			if (prefix_match(base, v4[i], 24))
				return true;
		return false;
	}
	return len >= 32 && prefix_match(base, v6, 32);
}

static int parse_addr(const char *s, int *family, uint8_t *out)
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, out) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -1;
}

static int parse_cidr(const char *s, struct range *r)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	long len;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (parse_addr(buf, &r->family, r->base))
		return -1;
	len = r->family == AF_INET ? 32 : 128;
	if (slash) {
		errno = 0;
		len = strtol(slash + 1, &end, 10);
		if (errno || *end || len < 0 ||
		    len > (r->family == AF_INET ? 32 : 128))
			return -1;
	}
	r->prefix_len = (int)len;
	return 0;
}

static int parse_mac(const char *s, uint8_t *mac)
{
	unsigned int b[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (b[i] > 255)
			return -1;
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

/* ---------------------------------------------------------------- random */
static uint64_t rng_state;

static inline uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

/* A random address inside r (host bits random). */
static void random_addr(const struct range *r, uint8_t *out)
{
	int nbytes = r->family == AF_INET ? 4 : 16;
	uint64_t a = rnd(), b = rnd();
	uint8_t rb[16];

	memcpy(rb, &a, 8);
	memcpy(rb + 8, &b, 8);
	for (int i = 0; i < nbytes; i++) {
		int bit0 = i * 8;
		uint8_t keep;

		if (bit0 + 8 <= r->prefix_len)
			keep = 0xff;
		else if (bit0 >= r->prefix_len)
			keep = 0;
		else
			keep = (uint8_t)(0xff << (8 - (r->prefix_len - bit0)));
		out[i] = (uint8_t)((r->base[i] & keep) | (rb[i] & ~keep));
	}
}

/* ------------------------------------------------------------- checksums */
static uint32_t csum_add_bytes(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 1) {
		sum += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* --------------------------------------------------------------- frames */
struct frame_layout {
	size_t l3_off, l4_off, l4_len, frame_len;
};

/* Build a frame for source address src and source port sport. */
static size_t build_frame(const struct opts *o, const uint8_t *smac,
			  const uint8_t *src, uint16_t sport, uint32_t seq,
			  uint8_t *f)
{
	size_t l4_len = o->udp ? 8 + (size_t)o->payload : 24; /* TCP + MSS */
	uint8_t *l3 = f + 14, *l4;
	uint32_t sum;
	uint16_t c;

	memcpy(f, o->dmac, 6);
	memcpy(f + 6, smac, 6);
	if (o->family == AF_INET) {
		size_t tot = 20 + l4_len;

		f[12] = 0x08, f[13] = 0x00;
		memset(l3, 0, 20);
		l3[0] = 0x45;
		l3[2] = (uint8_t)(tot >> 8), l3[3] = (uint8_t)tot;
		l3[4] = (uint8_t)(seq >> 8), l3[5] = (uint8_t)seq; /* id */
		l3[6] = 0x40; /* DF */
		l3[8] = 64;
		l3[9] = o->udp ? IPPROTO_UDP : IPPROTO_TCP;
		memcpy(l3 + 12, src, 4);
		memcpy(l3 + 16, o->dst, 4);
		c = csum_fold(csum_add_bytes(0, l3, 20));
		l3[10] = (uint8_t)(c >> 8), l3[11] = (uint8_t)c;
		l4 = l3 + 20;
		/* pseudo-header */
		sum = csum_add_bytes(0, src, 4);
		sum = csum_add_bytes(sum, o->dst, 4);
	} else {
		f[12] = 0x86, f[13] = 0xdd;
		memset(l3, 0, 40);
		l3[0] = 0x60;
		l3[4] = (uint8_t)(l4_len >> 8), l3[5] = (uint8_t)l4_len;
		l3[6] = o->udp ? IPPROTO_UDP : IPPROTO_TCP;
		l3[7] = 64;
		memcpy(l3 + 8, src, 16);
		memcpy(l3 + 24, o->dst, 16);
		l4 = l3 + 40;
		sum = csum_add_bytes(0, src, 16);
		sum = csum_add_bytes(sum, o->dst, 16);
	}
	sum += o->udp ? IPPROTO_UDP : IPPROTO_TCP;
	sum += (uint32_t)l4_len;
	memset(l4, 0, l4_len);
	l4[0] = (uint8_t)(sport >> 8), l4[1] = (uint8_t)sport;
	l4[2] = (uint8_t)(o->dport >> 8), l4[3] = (uint8_t)o->dport;
	if (o->udp) {
		l4[4] = (uint8_t)(l4_len >> 8), l4[5] = (uint8_t)l4_len;
		for (int i = 0; i < o->payload; i++)
			l4[8 + i] = (uint8_t)('a' + i % 26);
		c = csum_fold(csum_add_bytes(sum, l4, l4_len));
		if (c == 0)
			c = 0xffff;
		l4[6] = (uint8_t)(c >> 8), l4[7] = (uint8_t)c;
	} else {
		l4[4] = (uint8_t)(seq >> 24), l4[5] = (uint8_t)(seq >> 16);
		l4[6] = (uint8_t)(seq >> 8), l4[7] = (uint8_t)seq;
		l4[12] = 6 << 4; /* doff: 24 bytes */
		l4[13] = 0x02;   /* SYN */
		l4[14] = 0xfa, l4[15] = 0xf0; /* window 64240 */
		l4[20] = 2, l4[21] = 4;       /* MSS 1460 */
		l4[22] = 0x05, l4[23] = 0xb4;
		c = csum_fold(csum_add_bytes(sum, l4, l4_len));
		l4[16] = (uint8_t)(c >> 8), l4[17] = (uint8_t)c;
	}
	return (size_t)(l4 - f) + l4_len;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_DMAC = 256, O_DST, O_DPORT, O_COUNT, O_DURATION, O_PROTO,
	       O_SRC, O_BATCH, O_PAYLOAD, O_SEED };
	static const struct option lo[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "dmac", required_argument, NULL, O_DMAC },
		{ "dst", required_argument, NULL, O_DST },
		{ "dport", required_argument, NULL, O_DPORT },
		{ "count", required_argument, NULL, O_COUNT },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "proto", required_argument, NULL, O_PROTO },
		{ "src", required_argument, NULL, O_SRC },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "payload", required_argument, NULL, O_PAYLOAD },
		{ "seed", required_argument, NULL, O_SEED },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *src_text = NULL;
	bool have_dst = false, have_count = false, have_dur = false;
	char *end;
	int c;

	o->batch = 64;
	o->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	while ((c = getopt_long(argc, argv, "i:h", lo, NULL)) != -1) {
		errno = 0;
		switch (c) {
		case 'i':
			o->ifname = optarg;
			break;
		case O_DMAC:
			if (parse_mac(optarg, o->dmac)) {
				fprintf(stderr, "flood: bad --dmac %s\n", optarg);
				return 2;
			}
			o->have_dmac = true;
			break;
		case O_DST:
			if (parse_addr(optarg, &o->family, o->dst)) {
				fprintf(stderr, "flood: bad --dst %s\n", optarg);
				return 2;
			}
			have_dst = true;
			break;
		case O_DPORT: {
			long v = strtol(optarg, &end, 10);

			if (errno || *end || v < 1 || v > 65535) {
				fprintf(stderr, "flood: bad --dport %s\n", optarg);
				return 2;
			}
			o->dport = (uint16_t)v;
			break;
		}
		case O_COUNT:
			o->count = strtoull(optarg, &end, 10);
			if (errno || *end || o->count == 0 ||
			    o->count > MAX_COUNT) {
				fprintf(stderr,
					"flood: --count must be 1..%llu\n",
					(unsigned long long)MAX_COUNT);
				return 2;
			}
			have_count = true;
			break;
		case O_DURATION:
			o->duration_s = strtod(optarg, &end);
			if (errno || *end || !(o->duration_s > 0) ||
			    o->duration_s > MAX_DURATION_S) {
				fprintf(stderr,
					"flood: --duration must be >0 and <= %.0f "
					"seconds\n",
					MAX_DURATION_S);
				return 2;
			}
			have_dur = true;
			break;
		case O_PROTO:
			if (!strcmp(optarg, "udp"))
				o->udp = true;
			else if (!strcmp(optarg, "syn") || !strcmp(optarg, "tcp"))
				o->udp = false;
			else {
				fprintf(stderr, "flood: --proto syn or udp\n");
				return 2;
			}
			break;
		case O_SRC:
			src_text = optarg;
			break;
		case O_BATCH:
			o->batch = (int)strtol(optarg, &end, 10);
			if (errno || *end || o->batch < 1 ||
			    o->batch > MAX_BATCH) {
				fprintf(stderr, "flood: --batch 1..%d\n",
					MAX_BATCH);
				return 2;
			}
			break;
		case O_PAYLOAD:
			o->payload = (int)strtol(optarg, &end, 10);
			if (errno || *end || o->payload < 0 ||
			    o->payload > MAX_PAYLOAD) {
				fprintf(stderr, "flood: --payload 0..%d\n",
					MAX_PAYLOAD);
				return 2;
			}
			break;
		case O_SEED:
			o->seed = strtoull(optarg, &end, 0);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || !o->ifname || !o->have_dmac || !have_dst ||
	    !o->dport || !have_count || !have_dur) {
		fprintf(stderr, "flood: -i, --dmac, --dst, --dport, --count and "
				"--duration are all required\n");
		usage(stderr);
		return 2;
	}
	if (!is_doc_range(o->family, o->dst, o->family == AF_INET ? 32 : 128)) {
		fprintf(stderr, "flood: --dst outside the documentation "
				"ranges: refused\n");
		return 2;
	}
	if (!src_text)
		src_text = o->family == AF_INET ? "192.0.2.0/24,203.0.113.0/24" :
						  "2001:db8:ffff::/48";
	{
		char *copy = strdup(src_text), *tok, *save = NULL;

		if (!copy)
			return 1;
		for (tok = strtok_r(copy, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			struct range *r = &o->src[o->n_src];

			if (o->n_src == MAX_RANGES || parse_cidr(tok, r) ||
			    r->family != o->family ||
			    !is_doc_range(r->family, r->base, r->prefix_len)) {
				fprintf(stderr,
					"flood: --src %s: not a CIDR of the "
					"destination's family inside the "
					"documentation ranges: refused\n",
					tok);
				free(copy);
				return 2;
			}
			o->n_src++;
		}
		free(copy);
	}
	if (!o->n_src) {
		fprintf(stderr, "flood: --src is empty\n");
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static uint8_t frames[MAX_BATCH][FRAME_MAX];
	static struct mmsghdr msgs[MAX_BATCH];
	static struct iovec iov[MAX_BATCH];
	struct opts o = {};
	struct sockaddr_ll sll = {};
	struct ifreq ifr = {};
	uint8_t smac[6];
	uint64_t sent = 0, errors = 0;
	double t0, t1, deadline;
	int fd, one = 1, rc;

	rc = parse_args(argc, argv, &o);
	if (rc)
		return rc;
	rng_state = o.seed ? o.seed : 0x9e3779b97f4a7c15ULL;

	fd = socket(AF_PACKET, SOCK_RAW, 0); /* send only: no protocol */
	if (fd < 0) {
		perror("flood: socket(AF_PACKET)");
		return 1;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o.ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr)) {
		fprintf(stderr, "flood: interface %s: %s\n", o.ifname,
			strerror(errno));
		return 1;
	}
	memcpy(smac, ifr.ifr_hwaddr.sa_data, 6);
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = (int)if_nametoindex(o.ifname);
	sll.sll_protocol = 0;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		perror("flood: bind");
		return 1;
	}
	/* straight to the driver, like pktgen; not fatal if refused */
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));

	for (int i = 0; i < o.batch; i++) {
		iov[i].iov_base = frames[i];
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	t0 = now_s();
	deadline = t0 + o.duration_s;
	while (!stop_flag && sent < o.count) {
		int n = o.batch, done;

		if ((uint64_t)n > o.count - sent)
			n = (int)(o.count - sent);
		for (int i = 0; i < n; i++) {
			uint8_t src[16] = {};
			const struct range *r = &o.src[rnd() % o.n_src];
			uint64_t x = rnd();
			uint16_t sport = (uint16_t)(1024 + x % (65536 - 1024));

			random_addr(r, src);
			iov[i].iov_len = build_frame(&o, smac, src, sport,
						     (uint32_t)(x >> 32),
						     frames[i]);
		}
		done = sendmmsg(fd, msgs, (unsigned int)n, 0);
		if (done < 0) {
			if (errno == EINTR)
				continue;
			if (errno != ENOBUFS && errno != EAGAIN) {
				perror("flood: sendmmsg");
				break;
			}
			errors += (uint64_t)n;
			done = 0;
		}
		sent += (uint64_t)done;
		if (now_s() >= deadline)
			break;
	}
	t1 = now_s();
	close(fd);
	printf("flood: sent=%llu errors=%llu seconds=%.3f pps=%.0f proto=%s "
	       "family=%d\n",
	       (unsigned long long)sent, (unsigned long long)errors, t1 - t0,
	       t1 > t0 ? (double)sent / (t1 - t0) : 0.0,
	       o.udp ? "udp" : "syn", o.family == AF_INET ? 4 : 6);
	return sent ? 0 : 1;
}
