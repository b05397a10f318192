/* Guest memory accesses of the software core: segmentation, the TLB fast
 * path, page-crossing splits and physical accesses (RAM, the local APIC
 * page, the MMIO bus). Paging itself is in paging.c, the TLB in tlb.c. */
#include <assert.h>
#include <string.h>

#include "exec.h"
#include "tlb.h"
#include "vmm/guest_mem.h"
#include "lapic.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the software core stores guest values in host byte order"
#endif

#define PHYS_MASK ((1ull << EMU_PHYS_ADDR_BITS) - 1)
#define APIC_BASE_EN (1ull << 11)

/* ---- physical ---------------------------------------------------------- */

static bool is_lapic_page(const struct emu_cpu *cpu, uint64_t pa)
{
	return cpu->lapic && (cpu->msr.apic_base & APIC_BASE_EN) &&
	       (pa & ~0xfffull) == (cpu->msr.apic_base & PHYS_MASK & ~0xfffull);
}

uint8_t *emu_phys_host_page(struct emu_cpu *cpu, uint64_t pa)
{
	if (is_lapic_page(cpu, pa))
		return NULL;
	return guest_mem_ptr(cpu->mem, pa & ~0xfffull, 4096);
}

/* Where one byte of physical memory goes: RAM, the LAPIC, or the bus. */
enum phys_kind { PHYS_RAM, PHYS_LAPIC, PHYS_BUS };

static enum phys_kind phys_kind(const struct emu_cpu *cpu, uint64_t pa)
{
	if (is_lapic_page(cpu, pa))
		return PHYS_LAPIC;
	return guest_mem_ptr(cpu->mem, pa, 1) ? PHYS_RAM : PHYS_BUS;
}

/* RAM regions and the LAPIC page are page aligned, so for an access of at
 * most 8 bytes its first and last bytes tell whether it is all of one
 * kind. */
static bool one_kind(const struct emu_cpu *cpu, uint64_t pa, unsigned size, enum phys_kind *k)
{
	*k = phys_kind(cpu, pa);
	return size == 1 || phys_kind(cpu, pa + size - 1) == *k;
}

uint64_t emu_phys_read(struct emu_cpu *cpu, uint64_t pa, unsigned size)
{
	enum phys_kind k;
	uint64_t v = 0;

	assert(size >= 1 && size <= 8);
	if (!one_kind(cpu, pa, size, &k)) {
		/* Straddles RAM and something else: byte by byte, as the
		 * pieces would be decoded by different targets. */
		for (unsigned i = 0; i < size; i++)
			v |= emu_phys_read(cpu, pa + i, 1) << (8 * i);
		return v;
	}
	switch (k) {
	case PHYS_RAM:
		memcpy(&v, guest_mem_ptr(cpu->mem, pa, size), size);
		return v;
	case PHYS_LAPIC:
		return emu_lapic_mmio_read(cpu->lapic, (uint32_t)(pa & 0xfff), size) & size_mask(size);
	case PHYS_BUS:
	default:
		if (cpu->env && cpu->env->mmio_read)
			return cpu->env->mmio_read(cpu->env, pa, size) & size_mask(size);
		return size_mask(size);  /* nothing there: the bus floats high */
	}
}

void emu_phys_write(struct emu_cpu *cpu, uint64_t pa, unsigned size, uint64_t value)
{
	enum phys_kind k;

	assert(size >= 1 && size <= 8);
	if (!one_kind(cpu, pa, size, &k)) {
		for (unsigned i = 0; i < size; i++)
			emu_phys_write(cpu, pa + i, 1, value >> (8 * i));
		return;
	}
	switch (k) {
	case PHYS_RAM: {
		uint8_t *host = guest_mem_ptr(cpu->mem, pa, size);

		emu_note_write(cpu, host, pa, size);
		memcpy(host, &value, size);
		return;
	}
	case PHYS_LAPIC:
		emu_lapic_mmio_write(cpu->lapic, (uint32_t)(pa & 0xfff), size, value & size_mask(size));
		return;
	case PHYS_BUS:
	default:
		if (cpu->env && cpu->env->mmio_write)
			cpu->env->mmio_write(cpu->env, pa, size, value & size_mask(size));
		return;
	}
}

/* ---- segmentation ------------------------------------------------------ */

static _Noreturn void seg_fault(struct emu_cpu *cpu, unsigned seg)
{
	emu_raise(cpu, seg == SEG_SS ? EMU_VEC_SS : EMU_VEC_GP, true, 0);
}

uint64_t emu_linear(struct emu_cpu *cpu, unsigned seg, uint64_t offset, unsigned size,
		    enum emu_access kind)
{
	const struct emu_segment *s;
	uint64_t last;

	assert(seg < SEG_COUNT && size >= 1);
	s = &cpu->seg[seg];
	if (cpu->mode == EMU_MODE_LONG64) {
		/* No limits and no type checks; only FS and GS have a base. */
		uint64_t la = offset;

		if (seg == SEG_FS || seg == SEG_GS)
			la += s->base;
		if (!emu_canonical(la) || !emu_canonical(la + size - 1))
			seg_fault(cpu, seg);
		return la;
	}
	/* Offsets are at most 32 bits here and size at most a few KiB, so
	 * the last byte's offset cannot wrap in 64-bit arithmetic. */
	last = offset + size - 1;
	if (cpu->mode == EMU_MODE_REAL) {
		/* Only the cached limit counts: 64 KiB normally, more in
		 * "unreal" mode after a protected-mode load. */
		if (last > s->limit)
			seg_fault(cpu, seg);
		return (s->base + offset) & 0xffffffffull;
	}
	if (s->unusable)
		seg_fault(cpu, seg);
	if (s->type & 8) {
		/* Code: never writable, readable only with the R bit. */
		if (kind == EMU_WRITE || (kind == EMU_READ && !(s->type & 2)))
			emu_raise_gp(cpu, 0);
	} else if (kind == EMU_WRITE && !(s->type & 2)) {
		seg_fault(cpu, seg);
	}
	if (!(s->type & 8) && (s->type & 4)) {
		/* Expand-down: valid offsets are limit + 1 up to 64 KiB or
		 * 4 GiB - 1 by the B bit. */
		uint64_t upper = s->db ? 0xffffffffull : 0xffffull;

		if (offset <= s->limit || last > upper)
			seg_fault(cpu, seg);
	} else if (last > s->limit) {
		seg_fault(cpu, seg);
	}
	return (s->base + offset) & 0xffffffffull;
}

/* ---- linear ------------------------------------------------------------ */

/* The linear address after la + n: 32-bit outside long mode. */
static inline uint64_t la_add(const struct emu_cpu *cpu, uint64_t la, uint64_t n)
{
	la += n;
	return (cpu->efer & EMU_EFER_LMA) ? la : (la & 0xffffffffull);
}

static inline bool user_access(const struct emu_cpu *cpu, bool supervisor)
{
	return !supervisor && cpu->cpl == 3;
}

/* The TLB entry for an access of kind to la, walking on a miss; raises
 * #PF (CR2 = la) when the walk refuses. */
static const struct emu_tlb_entry *lookup(struct emu_cpu *cpu, uint64_t la, enum emu_access kind,
					  bool user)
{
	struct emu_tlb_entry *e = emu_tlb_slot(cpu->tlb, la);
	uint32_t err;

	if (e->vpn == la >> 12 && (e->perm & emu_perm_bit(kind, user)))
		return e;
	e = emu_page_walk(cpu, la, kind, user, &err);
	if (!e) {
		cpu->cr2 = la;
		emu_raise(cpu, EMU_VEC_PF, true, err);
	}
	return e;
}

uint64_t emu_translate(struct emu_cpu *cpu, uint64_t la, enum emu_access kind, bool supervisor)
{
	return lookup(cpu, la, kind, user_access(cpu, supervisor))->pa | (la & 0xfff);
}

const uint8_t *emu_code_ptr(struct emu_cpu *cpu, uint64_t la, uint64_t *pa)
{
	const struct emu_tlb_entry *e = lookup(cpu, la, EMU_FETCH, cpu->cpl == 3);

	*pa = e->pa | (la & 0xfff);
	return e->host ? e->host + (la & 0xfff) : NULL;
}

/* One access that stays within a page (size <= 8). */
static uint64_t read_in_page(struct emu_cpu *cpu, uint64_t la, unsigned size, bool user)
{
	const struct emu_tlb_entry *e = lookup(cpu, la, EMU_READ, user);
	uint64_t v = 0;

	if (e->host) {
		memcpy(&v, e->host + (la & 0xfff), size);
		return v;
	}
	return emu_phys_read(cpu, e->pa | (la & 0xfff), size);
}

static void write_in_page(struct emu_cpu *cpu, uint64_t la, unsigned size, uint64_t v, bool user)
{
	const struct emu_tlb_entry *e = lookup(cpu, la, EMU_WRITE, user);

	if (e->host) {
		emu_note_write(cpu, e->host + (la & 0xfff), e->pa | (la & 0xfff), size);
		memcpy(e->host + (la & 0xfff), &v, size);
	} else {
		emu_phys_write(cpu, e->pa | (la & 0xfff), size, v);
	}
}

/* Accesses that cross a page translate the second page first, so that a
 * fault there leaves no side effect of the first part (MMIO reads, half a
 * write in RAM). */
static uint64_t read_la(struct emu_cpu *cpu, uint64_t la, unsigned size, bool user)
{
	unsigned first = 4096 - (unsigned)(la & 0xfff);
	uint64_t lo, hi;

	if (size <= first)
		return read_in_page(cpu, la, size, user);
	lookup(cpu, la_add(cpu, la, first), EMU_READ, user);
	lo = read_in_page(cpu, la, first, user);
	hi = read_in_page(cpu, la_add(cpu, la, first), size - first, user);
	return lo | (hi << (8 * first));
}

static void write_la(struct emu_cpu *cpu, uint64_t la, unsigned size, uint64_t v, bool user)
{
	unsigned first = 4096 - (unsigned)(la & 0xfff);

	if (size <= first) {
		write_in_page(cpu, la, size, v, user);
		return;
	}
	lookup(cpu, la_add(cpu, la, first), EMU_WRITE, user);
	lookup(cpu, la, EMU_WRITE, user);
	write_in_page(cpu, la, first, v, user);
	write_in_page(cpu, la_add(cpu, la, first), size - first, v >> (8 * first), user);
}

/* Implicit accesses name linear addresses directly; outside long mode
 * they are 32 bits, in long mode they must be canonical. */
static uint64_t check_la(struct emu_cpu *cpu, uint64_t la, unsigned size)
{
	if (!(cpu->efer & EMU_EFER_LMA))
		return la & 0xffffffffull;
	if (!emu_canonical(la) || !emu_canonical(la + size - 1))
		emu_raise_gp(cpu, 0);
	return la;
}

uint64_t emu_read_linear(struct emu_cpu *cpu, uint64_t la, unsigned size, bool supervisor)
{
	assert(size >= 1 && size <= 8);
	la = check_la(cpu, la, size);
	return read_la(cpu, la, size, user_access(cpu, supervisor));
}

void emu_write_linear(struct emu_cpu *cpu, uint64_t la, unsigned size, uint64_t value,
		      bool supervisor)
{
	assert(size >= 1 && size <= 8);
	la = check_la(cpu, la, size);
	write_la(cpu, la, size, value, user_access(cpu, supervisor));
}

/* ---- through a segment ------------------------------------------------- */

uint64_t emu_read(struct emu_cpu *cpu, unsigned seg, uint64_t offset, unsigned size)
{
	uint64_t la;

	assert(size >= 1 && size <= 8);
	la = emu_linear(cpu, seg, offset, size, EMU_READ);
	return read_la(cpu, la, size, cpu->cpl == 3);
}

void emu_write(struct emu_cpu *cpu, unsigned seg, uint64_t offset, unsigned size, uint64_t value)
{
	uint64_t la;

	assert(size >= 1 && size <= 8);
	la = emu_linear(cpu, seg, offset, size, EMU_WRITE);
	write_la(cpu, la, size, value, cpu->cpl == 3);
}

/* Byte ranges of any length: every page is translated before any byte
 * moves, then the copy goes page by page. */
static void bytes_access(struct emu_cpu *cpu, uint64_t la, uint8_t *buf, unsigned len,
			 enum emu_access kind, bool user)
{
	unsigned done;

	for (done = 0; done < len;) {
		uint64_t a = la_add(cpu, la, done);

		lookup(cpu, a, kind, user);
		done += 4096 - (unsigned)(a & 0xfff);
	}
	for (done = 0; done < len;) {
		uint64_t a = la_add(cpu, la, done);
		unsigned n = 4096 - (unsigned)(a & 0xfff);
		const struct emu_tlb_entry *e = lookup(cpu, a, kind, user);

		if (n > len - done)
			n = len - done;
		if (e->host && kind == EMU_WRITE) {
			emu_note_write(cpu, e->host + (a & 0xfff), e->pa | (a & 0xfff), n);
			memcpy(e->host + (a & 0xfff), buf + done, n);
		}
		else if (e->host)
			memcpy(buf + done, e->host + (a & 0xfff), n);
		else
			for (unsigned i = 0; i < n; i++) {
				uint64_t pa = e->pa | ((a + i) & 0xfff);

				if (kind == EMU_WRITE)
					emu_phys_write(cpu, pa, 1, buf[done + i]);
				else
					buf[done + i] = (uint8_t)emu_phys_read(cpu, pa, 1);
			}
		done += n;
	}
}

void emu_read_bytes(struct emu_cpu *cpu, unsigned seg, uint64_t offset, void *dst, unsigned len)
{
	uint64_t la;

	if (len == 0)
		return;
	la = emu_linear(cpu, seg, offset, len, EMU_READ);
	bytes_access(cpu, la, dst, len, EMU_READ, cpu->cpl == 3);
}

void emu_write_bytes(struct emu_cpu *cpu, unsigned seg, uint64_t offset, const void *src, unsigned len)
{
	uint64_t la;

	if (len == 0)
		return;
	la = emu_linear(cpu, seg, offset, len, EMU_WRITE);
	/* bytes_access only reads from buf for writes. */
	bytes_access(cpu, la, (uint8_t *)(uintptr_t)src, len, EMU_WRITE, cpu->cpl == 3);
}

void *emu_rmw_ptr(struct emu_cpu *cpu, unsigned seg, uint64_t offset, unsigned size)
{
	uint64_t la = emu_linear(cpu, seg, offset, size, EMU_WRITE);
	const struct emu_tlb_entry *e;

	if ((la & 0xfff) + size > 4096)
		return NULL;
	e = lookup(cpu, la, EMU_WRITE, cpu->cpl == 3);
	if (!e->host)
		return NULL;
	/* The caller writes through it (or may: a failed CMPXCHG does not). */
	emu_note_write(cpu, e->host + (la & 0xfff), e->pa | (la & 0xfff), size);
	return e->host + (la & 0xfff);
}

/* ---- instruction fetch ------------------------------------------------- */

unsigned emu_fetch(struct emu_cpu *cpu, uint64_t rip, uint8_t *buf, unsigned len)
{
	const struct emu_segment *cs = &cpu->seg[SEG_CS];
	bool user = cpu->cpl == 3;
	unsigned n = len, got = 0;
	uint64_t la;

	if (len == 0)
		return 0;
	if (cpu->mode == EMU_MODE_LONG64) {
		if (!emu_canonical(rip))
			emu_raise_gp(cpu, 0);
		la = rip;
		/* Stop before the first non-canonical byte. */
		while (n > 1 && !emu_canonical(rip + n - 1))
			n--;
	} else {
		if (rip > cs->limit)
			emu_raise_gp(cpu, 0);
		if (cs->limit - rip + 1 < n)
			n = (unsigned)(cs->limit - rip + 1);
		la = (cs->base + rip) & 0xffffffffull;
	}
	while (got < n) {
		uint64_t a = la_add(cpu, la, got);
		unsigned chunk = 4096 - (unsigned)(a & 0xfff);
		struct emu_tlb_entry *e = emu_tlb_slot(cpu->tlb, a);
		uint32_t err;

		if (chunk > n - got)
			chunk = n - got;
		if (e->vpn != a >> 12 || !(e->perm & emu_perm_bit(EMU_FETCH, user)))
			e = emu_page_walk(cpu, a, EMU_FETCH, user, &err);
		if (!e) {
			if (got)
				break;
			cpu->cr2 = a;
			emu_raise(cpu, EMU_VEC_PF, true, err);
		}
		if (e->host)
			memcpy(buf + got, e->host + (a & 0xfff), chunk);
		else
			for (unsigned i = 0; i < chunk; i++)
				buf[got + i] = (uint8_t)emu_phys_read(cpu, e->pa | ((a + i) & 0xfff), 1);
		got += chunk;
	}
	return got;
}
