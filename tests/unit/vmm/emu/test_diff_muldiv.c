/* Differential tests of multiplication and division (muldiv.c) against
 * the host CPU. Divisions that would raise #DE are not run natively: the
 * test computes that they must fault (zero divisor, quotient too large,
 * the most negative dividend divided by -1) and checks that the core
 * raises #DE and changes nothing. See diff_harness.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "diff_harness.h"

typedef unsigned __int128 u128;
typedef __int128 s128;

#define MULFLAGS (EMU_CF | EMU_OF | EMU_DF)     /* SF ZF AF PF undefined */

static int setup(void **state)
{
	(void)state;
	diff_setup("muldiv");
	diff_mem_randomize();
	return 0;
}

static uint64_t mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static int64_t sext(uint64_t v, unsigned size)
{
	unsigned sh = 64 - 8 * size;

	return (int64_t)(v << sh) >> sh;
}

/* F6/F7 /4 MUL, /5 IMUL. */
static void muldiv_mul1(void **state)
{
	unsigned n = diff_ncases(6000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		unsigned size = diff_rand_size();

		diff_new_case(&d, &c);
		d.op = size == 1 ? 0xf6 : 0xf7;
		diff_modrm(&d, &c.in, size, 4 + (int)diff_rand_below(2), diff_rand_below(2),
			   1u << R_AX | 1u << R_DX);
		c.flags = MULFLAGS;
		diff_check("mul/imul r/m", &d, &c);
	}
	assert_int_equal(diff_group_failures(), 0);
}

/* 0F AF IMUL r, r/m; 69 IMUL r, r/m, imm; 6B IMUL r, r/m, imm8. */
static void muldiv_imul(void **state)
{
	unsigned n = diff_ncases(6000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		unsigned size = diff_rand_wide_size(), form = (unsigned)diff_rand_below(3);

		diff_new_case(&d, &c);
		if (form == 0) {
			d.map = 1;
			d.op = 0xaf;
		} else if (form == 1) {
			d.op = 0x69;
			d.imm_len = (uint8_t)(size == 2 ? 2 : 4);
		} else {
			d.op = 0x6b;
			d.imm_len = 1;
		}
		d.imm = diff_rand_value(d.imm_len ? d.imm_len : 1);
		diff_modrm(&d, &c.in, size, -1, diff_rand_below(2), 0);
		c.flags = MULFLAGS;
		diff_check("imul", &d, &c);
	}
	assert_int_equal(diff_group_failures(), 0);
}

/* Whether DIV/IDIV of size bytes faults for dividend n (2 * size bytes)
 * and divisor v. */
static bool div_faults(unsigned size, bool sign, u128 n, uint64_t v)
{
	unsigned bits = 8 * size;

	if (v == 0)
		return true;
	if (!sign)
		return n / v > mask(size);
	s128 sn = (s128)(n << (128 - 2 * bits)) >> (128 - 2 * bits), sv = sext(v, size);
	s128 lim = (s128)1 << (bits - 1);

	if (bits == 64 && sv == -1 && n == (u128)1 << 127)
		return true;
	return sn / sv >= lim || sn / sv < -lim;
}

/* F6/F7 /6 DIV, /7 IDIV: mostly quotients that fit, and now and then a
 * zero divisor, an oversized quotient, or INT_MIN / -1. */
static void muldiv_div(void **state)
{
	unsigned n = diff_ncases(8000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		unsigned size = diff_rand_size(), bits = 8 * size, kind = (unsigned)diff_rand_below(10);
		bool sign = diff_rand_below(2), mem = diff_rand_below(2);
		uint64_t addr, v;
		u128 dividend;

		diff_new_case(&d, &c);
		d.op = size == 1 ? 0xf6 : 0xf7;
		addr = diff_modrm(&d, &c.in, size, 6 + sign, mem, 1u << R_AX | 1u << R_DX);
		/* Keep the divisor out of the dividend's registers. */
		if (!mem) {
			while (d.rm == R_AX || d.rm == R_DX || (size == 1 && d.rm == 4 && !d.rex))
				d.rm = (uint8_t)diff_rand_below(size == 1 && !d.rex ? 8 : 16);
		}
		v = diff_rand_value(size);
		if (kind == 0)
			v = 0;
		else if (v == 0)
			v = 1;
		if (kind == 1 && sign)
			v = mask(size);         /* -1 */
		if (mem)
			diff_mem_set_value(addr, v, size);
		else if (size == 1 && d.rm >= 4 && d.rm < 8 && !d.rex)
			c.in.gpr[d.rm - 4] = (c.in.gpr[d.rm - 4] & ~0xff00ull) | v << 8;
		else
			c.in.gpr[d.rm] = (c.in.gpr[d.rm] & ~mask(size)) | v;

		/* The dividend: quotient * divisor + remainder that fits, or (kind
		 * 1) an overflowing one. */
		if (kind == 1) {
			dividend = sign ? (u128)1 << (2 * bits - 1)
					: ((u128)v << bits) | diff_rand_value(size);
		} else if (!sign) {
			u128 q = diff_rand_value(size);
			uint64_t r = v ? diff_rand_below(v) : 0;

			dividend = q * v + r;
		} else {
			s128 sv = sext(v, size), q = sext(diff_rand_value(size), size), nn;
			s128 av = sv < 0 ? -sv : sv, r = av ? (s128)diff_rand_below((uint64_t)av) : 0;

			nn = q * sv;
			if (nn < 0 || (nn == 0 && diff_rand_below(2)))
				r = -r;
			dividend = (u128)(nn + r);
		}
		if (2 * bits < 128)
			dividend &= ((u128)1 << (2 * bits)) - 1;
		if (size == 1) {
			c.in.gpr[R_AX] = (c.in.gpr[R_AX] & ~0xffffull) | (uint64_t)dividend;
		} else {
			c.in.gpr[R_AX] = (c.in.gpr[R_AX] & ~mask(size)) | ((uint64_t)dividend & mask(size));
			c.in.gpr[R_DX] = (c.in.gpr[R_DX] & ~mask(size)) |
					 ((uint64_t)(dividend >> bits) & mask(size));
		}
		c.flags = EMU_DF;       /* every arithmetic flag is undefined */
		c.vector = div_faults(size, sign, dividend, v) ? EMU_VEC_DE : -1;
		diff_check("div/idiv", &d, &c);
	}
	assert_int_equal(diff_group_failures(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(muldiv_mul1),
		cmocka_unit_test(muldiv_imul),
		cmocka_unit_test(muldiv_div),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
