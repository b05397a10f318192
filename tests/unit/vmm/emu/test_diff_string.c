/* Differential tests of the string instructions (string.c) against the
 * host CPU: MOVS/STOS/LODS/CMPS/SCAS in every size, both directions, with
 * and without REP/REPE/REPNE, 64- and 32-bit addressing (67: only ESI/EDI/
 * ECX count, garbage above them), a segment override on the source,
 * overlapping MOVS ranges, counts that cross pages and exceed what one
 * handler call does (the harness re-executes, as the execution loop does).
 * INS/OUTS cannot run natively at CPL 3: they are checked against the
 * harness's fake port bus. See diff_harness.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "diff_harness.h"

static int setup(void **state)
{
	(void)state;
	diff_setup("string");
	diff_mem_randomize();
	return 0;
}

/* A count biased to the edges and to runs long enough for the fast path
 * and for several handler calls. */
static uint64_t rand_count(unsigned size)
{
	uint64_t max = DIFF_DATA_SIZE / size / 2;

	switch (diff_rand_below(6)) {
	case 0: return diff_rand_below(3);
	case 1: return diff_rand_below(17);
	case 2: return 250 + diff_rand_below(20);
	default: return diff_rand_below(max);
	}
}

/* A start address for count elements of size bytes walking in direction
 * dir (+1/-1), the whole run inside the window. */
static uint64_t run_start(uint64_t count, unsigned size, int dir)
{
	uint64_t span = count ? count * size : size;
	uint64_t lo = DIFF_DATA_BASE + diff_rand_below(DIFF_DATA_SIZE - span + 1);

	return dir > 0 ? lo : lo + span - size;
}

/* The cases of one code size: 64-bit, or 32-bit (diff_mode32: offsets
 * relative to the data segment's base, 67 meaning SI/DI/CX). */
static void string_cases(unsigned n)
{
	static const uint8_t ops[] = { 0xa4, 0xa6, 0xaa, 0xac, 0xae };
	bool m32 = diff_in_mode32();

	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		unsigned size = diff_rand_size(), kind = (unsigned)diff_rand_below(sizeof(ops));
		uint8_t op = ops[kind];
		int dir = diff_rand_below(2) ? 1 : -1;
		unsigned rep = (unsigned)diff_rand_below(4);   /* 0: none, 1-2: F3, 3: F2 */
		/* 67: 32-bit addressing in 64-bit code, 16-bit in 32-bit code. */
		bool a32 = diff_rand_below(4) == 0, fs = !a32 && !m32 && diff_rand_below(6) == 0;
		uint64_t count = rep ? rand_count(size) : 1, si, di;
		bool uses_si = op != 0xaa && op != 0xae, uses_di = op != 0xac;

		diff_new_case(&d, &c);
		if (rep == 3)
			diff_prefix(&d, 0xf2);
		else if (rep)
			diff_prefix(&d, 0xf3);
		if (a32)
			diff_prefix(&d, 0x67);
		if (fs && uses_si)
			diff_prefix(&d, 0x64);
		diff_size_prefix(&d, size);
		d.op = (uint8_t)(op | (size != 1));
		c.in.rflags = (c.in.rflags & ~EMU_DF) | (dir < 0 ? EMU_DF : 0);

		si = run_start(count, size, dir);
		di = run_start(count, size, dir);
		if (op == 0xa4 && diff_rand_below(3) == 0) {
			/* Overlap: the destination a few elements or bytes away. */
			int64_t delta = (int64_t)diff_rand_below(33) - 16;

			if (diff_rand_below(2))
				delta *= (int64_t)size;
			di = si + (uint64_t)delta;
			if (di < DIFF_DATA_BASE + count * size || di + count * size + size >
			    DIFF_DATA_BASE + DIFF_DATA_SIZE)
				di = si;
		}
		if ((op == 0xa6 || op == 0xae) && diff_rand_below(2)) {
			/* REPE/REPNE need runs that are partly equal: copy the
			 * source (or AL/AX/...) over the destination and change
			 * one element. */
			uint8_t buf[DIFF_DATA_SIZE];
			uint64_t span = count * size, lo_s = dir > 0 ? si : si - span + size;
			uint64_t lo_d = dir > 0 ? di : di - span + size;

			if (span && lo_s + span <= DIFF_DATA_BASE + DIFF_DATA_SIZE &&
			    lo_d + span <= DIFF_DATA_BASE + DIFF_DATA_SIZE) {
				for (uint64_t k = 0; k < span; k++)
					buf[k] = op == 0xae ? (uint8_t)(c.in.gpr[R_AX] >> (8 * (k % size)))
							    : (uint8_t)diff_rand();
				if (op == 0xa6)
					diff_mem_set(lo_s, buf, span);
				buf[diff_rand_below(span)] ^= (uint8_t)(1 + diff_rand_below(255));
				diff_mem_set(lo_d, buf, span);
			}
		}
		c.in.gpr[R_SI] = si;
		if (fs && uses_si) {
			/* FS:RSI must land on si. */
			uint64_t fs_base = diff_cpu()->seg[SEG_FS].base;

			c.in.gpr[R_SI] = si - fs_base;
		}
		c.in.gpr[R_DI] = di;
		c.in.gpr[R_CX] = count;
		if (m32) {
			/* Offsets from the segments' base; 16 or 32 bits of them
			 * count, the rest is garbage. */
			uint64_t keep = a32 ? 0xffff : 0xffffffff;

			c.in.gpr[R_SI] = ((si - DIFF_DATA_BASE) & keep) | (diff_rand() & ~keep);
			c.in.gpr[R_DI] = ((di - DIFF_DATA_BASE) & keep) | (diff_rand() & ~keep);
			c.in.gpr[R_CX] = (count & keep) | (diff_rand() & ~keep);
		} else if (a32) {
			c.in.gpr[R_SI] = (c.in.gpr[R_SI] & 0xffffffff) | diff_rand() << 32;
			c.in.gpr[R_DI] = (c.in.gpr[R_DI] & 0xffffffff) | diff_rand() << 32;
			c.in.gpr[R_CX] = (c.in.gpr[R_CX] & 0xffffffff) | diff_rand() << 32;
		}
		if (!uses_si && diff_rand_below(2))
			c.in.gpr[R_SI] = diff_rand();
		if (!uses_di && diff_rand_below(2))
			c.in.gpr[R_DI] = diff_rand();
		diff_check(m32 ? "string (32-bit code)" : "string", &d, &c);
	}
}

static void string_ops(void **state)
{
	(void)state;
	string_cases(diff_ncases(5000));
	assert_int_equal(diff_group_failures(), 0);
}

/* 32-bit code, with SI/DI/CX (67) or ESI/EDI/ECX. */
static void string_ops_mode32(void **state)
{
	(void)state;
	if (!diff_mode32(true)) {
		skip();
		return;
	}
	string_cases(diff_ncases(3000));
	diff_mode32(false);
	assert_int_equal(diff_group_failures(), 0);
}

/* INS/OUTS (emulated only): REP INS fills memory with the port's value,
 * REP OUTS writes every element, the registers move as for MOVS. */
static void string_ins_outs(void **state)
{
	(void)state;
	for (unsigned size = 1; size <= 4; size *= 2) {
		for (int dir = -1; dir <= 1; dir += 2) {
			struct diff_case c;
			struct diff_regs out;
			uint64_t count = 300, start = DIFF_DATA_BASE + (dir > 0 ? 0x100 : 0x100 + (count - 1) * size);
			uint8_t expect[8];

			memset(&c, 0, sizeof(c));
			diff_rand_regs(&c.in);
			c.in.rflags = (c.in.rflags & ~EMU_DF) | (dir < 0 ? EMU_DF : 0);
			c.in.gpr[R_CX] = count;
			c.in.gpr[R_DI] = start;
			c.in.gpr[R_SI] = start;
			c.in.gpr[R_DX] = 0x1234;
			c.len = 0;
			c.code[c.len++] = 0xf3;
			if (size == 2)
				c.code[c.len++] = 0x66;
			c.code[c.len++] = size == 1 ? 0x6c : 0x6d;      /* rep ins */
			diff_pio_value = 0x8877665544332211ull;
			assert_int_equal(diff_emu_only(&c, &out), -1);
			assert_int_equal(out.gpr[R_CX], 0);
			assert_int_equal(out.gpr[R_DI], start + (uint64_t)dir * (int64_t)(count * size));
			assert_int_equal(out.gpr[R_SI], start);
			memcpy(expect, &diff_pio_value, 8);
			for (uint64_t k = 0; k < count * size; k++) {
				uint64_t lo = dir > 0 ? start : start - (count - 1) * size;

				assert_int_equal(diff_guest_mem(lo)[k], expect[k % size]);
			}
			diff_mem_resync();
			/* OUTS: count writes, RSI moves. */
			c.code[c.len - 1] = size == 1 ? 0x6e : 0x6f;
			diff_pio_writes = 0;
			assert_int_equal(diff_emu_only(&c, &out), -1);
			assert_int_equal(diff_pio_writes, count);
			assert_int_equal(out.gpr[R_SI], start + (uint64_t)dir * (int64_t)(count * size));
			assert_int_equal(out.gpr[R_DI], start);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(string_ops),
		cmocka_unit_test(string_ops_mode32),
		cmocka_unit_test(string_ins_outs),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
