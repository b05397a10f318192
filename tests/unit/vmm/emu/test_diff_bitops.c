/* Differential tests of the bit instructions (bitops.c) against the host
 * CPU: BT/BTS/BTR/BTC with register and immediate offsets (a register
 * offset addresses memory outside the operand, in both directions), LOCK,
 * BSF/BSR with zero sources, LZCNT, POPCNT, and F3 0F BC (BSF here, as
 * the core does not advertise BMI1: compared with the host's BSF). See
 * diff_harness.h. */
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
	diff_setup("bitops");
	diff_mem_randomize();
	return 0;
}

static uint64_t mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

/* BT/BTS/BTR/BTC r/m, reg (0F A3/AB/B3/BB) and r/m, imm8 (0F BA /4-/7). */
static void bitops_bt(void **state)
{
	static const uint8_t reg_ops[4] = { 0xa3, 0xab, 0xb3, 0xbb };
	unsigned n = diff_ncases(10000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		unsigned size = diff_rand_wide_size(), bits = 8 * size, op = (unsigned)diff_rand_below(4);
		bool mem = diff_rand_below(2), imm = diff_rand_below(3) == 0;

		diff_new_case(&d, &c);
		d.map = 1;
		c.flags = EMU_CF | EMU_ZF | EMU_DF;     /* OF SF AF PF undefined */
		if (imm) {
			d.op = 0xba;
			diff_modrm(&d, &c.in, size, 4 + (int)op, mem, 0);
			d.imm = diff_rand_below(256);
			d.imm_len = 1;
		} else if (!mem) {
			d.op = reg_ops[op];
			diff_modrm(&d, &c.in, size, -1, false, 0);
		} else {
			/* The operand actually accessed is at addr; the bit offset
			 * (signed, of the operand size) moves the address by whole
			 * operands from the effective address. */
			uint64_t addr = diff_rand_addr(size, 1), ea;
			int64_t off = (int64_t)diff_rand_below(DIFF_DATA_SIZE * 4) - DIFF_DATA_SIZE * 2;
			int64_t units;

			d.op = reg_ops[op];
			diff_size_prefix(&d, size);
			d.modrm = true;
			d.reg = (uint8_t)diff_rand_below(16);
			if (size == 2)
				off = (int16_t)off;
			units = off >> __builtin_ctz(bits);
			ea = addr - (uint64_t)units * size;
			if (ea < DIFF_DATA_BASE - 0x10000)
				ea = addr, off &= bits - 1;     /* keep the disp32 form valid */
			diff_mem_set_value(addr, diff_rand_value(size), size);
			c.in.gpr[d.reg] = (c.in.gpr[d.reg] & ~mask(size)) | ((uint64_t)off & mask(size));
			if (size == 8)
				c.in.gpr[d.reg] = (uint64_t)off;
			diff_mem_operand(&d, &c.in, ea, (uint16_t)(1u << d.reg));
		}
		if (mem && op != 0 && diff_rand_below(3) == 0)
			diff_prefix(&d, 0xf0);
		diff_check("bt*", &d, &c);
	}
	assert_int_equal(diff_group_failures(), 0);
}

/* BSF/BSR (0F BC/BD), with zero sources now and then; F3 0F BC is BSF
 * in the core, compared with the host's plain BSF. */
static void bitops_bsf_bsr(void **state)
{
	unsigned n = diff_ncases(6000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		unsigned size = diff_rand_wide_size();
		bool mem = diff_rand_below(2), rep = diff_rand_below(4) == 0;
		uint64_t addr;

		diff_new_case(&d, &c);
		d.map = 1;
		d.op = (uint8_t)(rep ? 0xbc : 0xbc + diff_rand_below(2));
		addr = diff_modrm(&d, &c.in, size, -1, mem, 0);
		if (diff_rand_below(6) == 0) {
			if (mem)
				diff_mem_set_value(addr, 0, size);
			else
				c.in.gpr[d.rm] &= ~mask(size);
		}
		c.flags = EMU_ZF | EMU_DF;              /* CF OF SF AF PF undefined */
		if (rep) {
			c.native_len = diff_encode(&d, c.native);
			if (d.base == DIFF_RIP) {
				/* The native copy is one byte shorter. */
				d.disp = (int32_t)(d.rip_target - (DIFF_CODE_BASE + c.native_len));
				c.native_len = diff_encode(&d, c.native);
				d.disp = 0;
			}
			memmove(&d.prefix[1], &d.prefix[0], d.nprefix);
			d.prefix[0] = 0xf3;
			d.nprefix++;
		}
		diff_check(rep ? "rep bsf" : "bsf/bsr", &d, &c);
	}
	assert_int_equal(diff_group_failures(), 0);
}

/* LZCNT (F3 0F BD) and POPCNT (F3 0F B8). */
static void bitops_counts(void **state)
{
	unsigned n = diff_ncases(6000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		unsigned size = diff_rand_wide_size();
		bool popcnt = diff_rand_below(2), mem = diff_rand_below(2);
		uint64_t addr;

		diff_new_case(&d, &c);
		diff_prefix(&d, 0xf3);
		d.map = 1;
		d.op = popcnt ? 0xb8 : 0xbd;
		addr = diff_modrm(&d, &c.in, size, -1, mem, 0);
		if (diff_rand_below(6) == 0) {
			if (mem)
				diff_mem_set_value(addr, 0, size);
			else
				c.in.gpr[d.rm] &= ~mask(size);
		}
		/* POPCNT defines all six; LZCNT CF and ZF. */
		c.flags = popcnt ? DIFF_ALL_FLAGS : EMU_CF | EMU_ZF | EMU_DF;
		diff_check(popcnt ? "popcnt" : "lzcnt", &d, &c);
	}
	assert_int_equal(diff_group_failures(), 0);
}

/* LOCK BT and LOCK on a register operand: #UD. */
static void bitops_lock_ud(void **state)
{
	static const uint8_t codes[][5] = {
		{ 0xf0, 0x0f, 0xa3, 0x00 },             /* lock bt [rax], eax */
		{ 0xf0, 0x0f, 0xab, 0xc0 },             /* lock bts eax, eax */
		{ 0xf0, 0x0f, 0xba, 0x20, 0x01 },       /* lock bt [rax], 1 */
		{ 0xf0, 0x0f, 0xbc, 0x00 },             /* lock bsf eax, [rax] */
	};
	static const unsigned lens[] = { 4, 4, 5, 4 };

	(void)state;
	for (unsigned i = 0; i < 4; i++) {
		struct diff_case c;

		memset(&c, 0, sizeof(c));
		diff_rand_regs(&c.in);
		c.in.gpr[0] = DIFF_DATA_BASE + 64;
		memcpy(c.code, codes[i], lens[i]);
		c.len = lens[i];
		c.vector = EMU_VEC_UD;
		diff_run("lock bt #UD", &c);
	}
	assert_int_equal(diff_group_failures(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bitops_bt),
		cmocka_unit_test(bitops_bsf_bsr),
		cmocka_unit_test(bitops_counts),
		cmocka_unit_test(bitops_lock_ud),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
