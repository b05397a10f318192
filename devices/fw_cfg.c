#include "fw_cfg.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/log.h"
#include "vmm/platform.h"

#define PORT_SELECTOR 0x510 /* 16-bit, write selects, read returns it */
#define PORT_DATA     0x511 /* 8-bit, reads auto-increment */
#define REG_SELECTOR  0
#define REG_DATA      (PORT_DATA - PORT_SELECTOR)
#define NPORTS        2

/* A selector with this bit asks to write the item: not supported (as in
 * QEMU since 2.4), so the bit is ignored when choosing the item. */
#define FW_CFG_WRITE_CHANNEL 0x4000

#define FW_CFG_ID_TRADITIONAL 0x01 /* legacy interface; no DMA bit */

#define NONE SIZE_MAX

struct fw_cfg_item {
	uint16_t key;
	uint32_t len;
	uint8_t *data;
};

struct fw_cfg {
	pthread_mutex_t lock;
	struct platform *p;
	uint16_t selector;
	size_t cur;         /* index of the selected item, or NONE */
	uint32_t offset;    /* next byte of it to read */
	struct fw_cfg_item *items;
	size_t nitems, capacity;
};

static size_t find_item(const struct fw_cfg *f, uint16_t key)
{
	size_t i;

	for (i = 0; i < f->nitems; i++) {
		if (f->items[i].key == key)
			return i;
	}
	return NONE;
}

static void select_item(struct fw_cfg *f, uint16_t selector)
{
	f->selector = selector;
	f->cur = find_item(f, selector & (uint16_t)~FW_CFG_WRITE_CHANNEL);
	f->offset = 0;
}

static uint8_t next_byte(struct fw_cfg *f)
{
	const struct fw_cfg_item *it;

	/* Unknown items and reads past the end give zeros. */
	if (f->cur == NONE)
		return 0;
	it = &f->items[f->cur];
	if (f->offset >= it->len)
		return 0;
	return it->data[f->offset++];
}

static uint64_t fw_cfg_read(void *opaque, uint64_t offset, unsigned size)
{
	struct fw_cfg *f = opaque;
	uint64_t v = 0;
	unsigned i;

	if (size > 8)
		size = 8;
	pthread_mutex_lock(&f->lock);
	if (offset == REG_SELECTOR) {
		/* Ports past the selector's two bytes are not ours. */
		v = size > 2 ? f->selector | ~0xffffull : f->selector;
	} else if (offset == REG_DATA) {
		/* A wide read takes that many bytes of the item, as QEMU's
		 * memory-mapped data register does. */
		for (i = 0; i < size; i++)
			v |= (uint64_t)next_byte(f) << (8 * i);
	} else {
		v = ~0ull;
	}
	pthread_mutex_unlock(&f->lock);
	return v;
}

static void fw_cfg_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct fw_cfg *f = opaque;

	/* Only a 16-bit (or wider) write selects; byte writes to the selector
	 * and all data-port writes are dropped. */
	if (offset != REG_SELECTOR || size < 2)
		return;
	pthread_mutex_lock(&f->lock);
	select_item(f, (uint16_t)value);
	pthread_mutex_unlock(&f->lock);
}

static const struct bus_ops fw_cfg_ops = {
	.read = fw_cfg_read,
	.write = fw_cfg_write,
};

int fw_cfg_add_item(struct fw_cfg *f, uint16_t key, const void *data, size_t len)
{
	uint8_t *copy;
	size_t i;

	if ((key & FW_CFG_WRITE_CHANNEL) || len > UINT32_MAX || (len && !data))
		return -EINVAL;
	copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, data, len);

	pthread_mutex_lock(&f->lock);
	i = find_item(f, key);
	if (i == NONE) {
		if (f->nitems == f->capacity) {
			size_t cap = f->capacity ? f->capacity * 2 : 16;
			struct fw_cfg_item *n = realloc(f->items, cap * sizeof(*n));
			if (!n) {
				pthread_mutex_unlock(&f->lock);
				free(copy);
				return -ENOMEM;
			}
			f->items = n;
			f->capacity = cap;
		}
		i = f->nitems++;
		f->items[i].key = key;
	} else {
		free(f->items[i].data);
	}
	f->items[i].data = copy;
	f->items[i].len = (uint32_t)len;
	/* A guest that selected the key before sees the new contents. */
	if ((f->selector & (uint16_t)~FW_CFG_WRITE_CHANNEL) == key)
		f->cur = i;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static void put_le(uint8_t *b, uint64_t v, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

struct fw_cfg *fw_cfg_create(struct platform *p, unsigned ncpus, uint64_t ram_size)
{
	static const uint8_t signature[4] = { 'Q', 'E', 'M', 'U' };
	/* The file directory is a big-endian count followed by entries. */
	static const uint8_t empty_dir[4] = { 0, 0, 0, 0 };
	uint8_t id[4], ram[8], cpus[2];
	struct fw_cfg *f;
	int rc;

	if (ncpus == 0 || ncpus > 0xffff) {
		log_error("fw_cfg: cannot describe %u CPUs", ncpus);
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		log_error("fw_cfg: out of memory");
		return NULL;
	}
	pthread_mutex_init(&f->lock, NULL);
	f->p = p;
	f->cur = NONE;

	put_le(id, FW_CFG_ID_TRADITIONAL, sizeof(id));
	put_le(ram, ram_size, sizeof(ram));
	put_le(cpus, ncpus, sizeof(cpus));
	rc = fw_cfg_add_item(f, FW_CFG_SIGNATURE, signature, sizeof(signature));
	if (!rc)
		rc = fw_cfg_add_item(f, FW_CFG_ID, id, sizeof(id));
	if (!rc)
		rc = fw_cfg_add_item(f, FW_CFG_RAM_SIZE, ram, sizeof(ram));
	if (!rc)
		rc = fw_cfg_add_item(f, FW_CFG_NB_CPUS, cpus, sizeof(cpus));
	if (!rc)
		rc = fw_cfg_add_item(f, FW_CFG_MAX_CPUS, cpus, sizeof(cpus));
	if (!rc)
		rc = fw_cfg_add_item(f, FW_CFG_FILE_DIR, empty_dir, sizeof(empty_dir));
	if (rc) {
		log_error("fw_cfg: out of memory");
		fw_cfg_destroy(f);
		return NULL;
	}
	/* The selector resets to the signature. */
	select_item(f, FW_CFG_SIGNATURE);

	rc = bus_register(p->pio, PORT_SELECTOR, NPORTS, &fw_cfg_ops, f, "fw_cfg");
	if (rc) {
		log_error("fw_cfg: cannot claim ports 0x%x-0x%x: %s", PORT_SELECTOR, PORT_DATA,
			  strerror(-rc));
		fw_cfg_destroy(f);
		return NULL;
	}
	return f;
}

void fw_cfg_destroy(struct fw_cfg *f)
{
	size_t i;

	if (!f)
		return;
	for (i = 0; i < f->nitems; i++)
		free(f->items[i].data);
	free(f->items);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
