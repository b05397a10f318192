#include "post_code.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmm/log.h"
#include "vmm/platform.h"

#define POST_PORT  0x80
#define NCODES     256

struct post_code {
	pthread_mutex_t lock;
	struct platform *p;
	uint8_t last;
	uint64_t epoch_ns;
	bool seen[NCODES];
	uint64_t first_ns[NCODES];
};

struct sighting {
	uint64_t ns;
	uint8_t code;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t post_read(void *opaque, uint64_t offset, unsigned size)
{
	struct post_code *pc = opaque;
	uint64_t v;

	(void)size;
	if (offset != 0)
		return ~0ull;
	pthread_mutex_lock(&pc->lock);
	v = pc->last;
	pthread_mutex_unlock(&pc->lock);
	/* Bytes past the port are not ours and float high. */
	return v | ~0xffull;
}

static void post_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct post_code *pc = opaque;
	uint8_t code = (uint8_t)value;

	if (offset != 0 || size == 0)
		return;
	pthread_mutex_lock(&pc->lock);
	pc->last = code;
	/* Only a code's first appearance costs a clock read. */
	if (!pc->seen[code]) {
		pc->seen[code] = true;
		pc->first_ns[code] = now_ns();
	}
	pthread_mutex_unlock(&pc->lock);
}

static const struct bus_ops post_ops = {
	.read = post_read,
	.write = post_write,
};

struct post_code *post_code_create(struct platform *p)
{
	struct post_code *pc = calloc(1, sizeof(*pc));
	int rc;

	if (!pc) {
		log_error("post_code: out of memory");
		return NULL;
	}
	pthread_mutex_init(&pc->lock, NULL);
	pc->p = p;
	pc->epoch_ns = now_ns();
	rc = bus_register(p->pio, POST_PORT, 1, &post_ops, pc, "post_code");
	if (rc) {
		log_error("post_code: cannot claim port 0x%x: %s", POST_PORT, strerror(-rc));
		post_code_destroy(pc);
		return NULL;
	}
	return pc;
}

void post_code_destroy(struct post_code *pc)
{
	if (!pc)
		return;
	pthread_mutex_destroy(&pc->lock);
	free(pc);
}

void post_code_set_epoch(struct post_code *pc, uint64_t t0_ns)
{
	pthread_mutex_lock(&pc->lock);
	pc->epoch_ns = t0_ns;
	pthread_mutex_unlock(&pc->lock);
}

static int by_time(const void *a, const void *b)
{
	const struct sighting *x = a, *y = b;

	if (x->ns != y->ns)
		return x->ns < y->ns ? -1 : 1;
	return (int)x->code - (int)y->code;
}

void post_code_report(struct post_code *pc, FILE *out)
{
	struct sighting s[NCODES];
	uint64_t epoch;
	size_t n = 0, i;

	pthread_mutex_lock(&pc->lock);
	epoch = pc->epoch_ns;
	for (i = 0; i < NCODES; i++) {
		if (pc->seen[i])
			s[n++] = (struct sighting){ pc->first_ns[i], (uint8_t)i };
	}
	pthread_mutex_unlock(&pc->lock);

	qsort(s, n, sizeof(s[0]), by_time);
	for (i = 0; i < n; i++) {
		/* Signed: a code can predate an epoch set late. */
		double ms = (double)(int64_t)(s[i].ns - epoch) / 1e6;
		fprintf(out, "boot-timing: post 0x%02x at %.3f ms\n", s[i].code, ms);
	}
}
