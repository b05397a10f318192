/* Differential tests of shifts and rotates (shift.c) against the host CPU:
 * group 2 in all its encodings and sizes, count masking and the edges
 * around the operand width, SHLD/SHRD. See diff_harness.h. */
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
	diff_setup("shift");
	diff_mem_randomize();
	return 0;
}

/* A count biased to the edges: 0, 1, around the width, around the masks,
 * and beyond them (the masking itself is under test). */
static unsigned rand_count(unsigned size)
{
	unsigned bits = 8 * size;

	switch (diff_rand_below(8)) {
	case 0: return (unsigned)diff_rand_below(2);
	case 1: return bits - 1 + (unsigned)diff_rand_below(3);
	case 2: return 31 + (unsigned)diff_rand_below(3);
	case 3: return 63 + (unsigned)diff_rand_below(3);
	case 4: return (unsigned)diff_rand_below(256);
	case 5: return (bits + 1) * (unsigned)diff_rand_below(4);      /* RCL/RCR mod 9/17 */
	default: return (unsigned)diff_rand_below(bits + 1);
	}
}

/* The flags a group-2 operation defines (Intel SDM and AMD APM). */
static uint64_t grp2_defined(unsigned op, unsigned size, unsigned count)
{
	unsigned bits = 8 * size, masked = count & (size == 8 ? 63 : 31);
	uint64_t f = EMU_DF;

	if (masked == 0)
		return DIFF_ALL_FLAGS;          /* nothing changes */
	if (op < 4) {
		/* Rotates: CF, and OF for a count of 1; the rest unchanged. */
		unsigned eff = op < 2 ? masked : masked % (bits + 1);

		f |= EMU_SF | EMU_ZF | EMU_AF | EMU_PF;
		if (op >= 2 && eff == 0)
			return f | EMU_CF | EMU_OF;     /* RCL/RCR by 0 mod 9/17 */
		f |= EMU_CF;
		if (masked == 1)
			f |= EMU_OF;
		return f;
	}
	/* Shifts: SF ZF PF; CF unless the count passed the width; OF for 1. */
	f |= EMU_SF | EMU_ZF | EMU_PF;
	if (masked <= bits)
		f |= EMU_CF;
	if (masked == 1)
		f |= EMU_OF;
	return f;
}

/* C0/C1 ib, D0/D1 (by 1), D2/D3 (by CL): every /digit, size, register and
 * memory operand. */
static void shift_grp2(void **state)
{
	unsigned n = diff_ncases(12000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		unsigned size = diff_rand_size(), op = (unsigned)diff_rand_below(8), form, count;

		diff_new_case(&d, &c);
		form = (unsigned)diff_rand_below(3);
		count = form == 1 ? 1 : rand_count(size);
		d.op = (uint8_t)((form == 0 ? 0xc0 : form == 1 ? 0xd0 : 0xd2) | (size != 1));
		diff_modrm(&d, &c.in, size, (int)op, diff_rand_below(2), 1u << R_CX);
		if (form == 0) {
			d.imm = count;
			d.imm_len = 1;
		} else if (form == 2) {
			c.in.gpr[R_CX] = (c.in.gpr[R_CX] & ~0xffull) | count;
		}
		c.flags = grp2_defined(op, size, count);
		diff_check("grp2", &d, &c);
	}
	assert_int_equal(diff_group_failures(), 0);
}

/* SHLD/SHRD r/m, reg, imm8/CL. A 16-bit count beyond 16 leaves the result
 * undefined: registers only there, with the result compared in strict
 * mode. */
static void shift_double(void **state)
{
	unsigned n = diff_ncases(8000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		unsigned size = diff_rand_wide_size(), count = rand_count(size), masked;
		bool cl = diff_rand_below(2), mem = diff_rand_below(2);

		diff_new_case(&d, &c);
		masked = count & (size == 8 ? 63 : 31);
		if (size == 2 && masked > 16)
			mem = false;
		d.map = 1;
		d.op = (uint8_t)((diff_rand_below(2) ? 0xa4 : 0xac) | cl);
		diff_modrm(&d, &c.in, size, -1, mem, 1u << R_CX);
		if (d.reg == R_CX && cl)
			d.reg = R_DX;
		if (cl) {
			c.in.gpr[R_CX] = (c.in.gpr[R_CX] & ~0xffull) | count;
		} else {
			d.imm = count;
			d.imm_len = 1;
		}
		if (masked == 0)
			c.flags = DIFF_ALL_FLAGS;
		else if (size == 2 && masked > 16)
			c.flags = EMU_DF, c.skip_gpr = (uint16_t)(1u << d.rm);
		else
			c.flags = EMU_DF | EMU_CF | EMU_SF | EMU_ZF | EMU_PF | (masked == 1 ? EMU_OF : 0);
		diff_check("shld/shrd", &d, &c);
	}
	assert_int_equal(diff_group_failures(), 0);
}

/* LOCK on a shift is #UD. */
static void shift_lock_ud(void **state)
{
	static const uint8_t code[] = { 0xf0, 0xd1, 0x20 };     /* lock shl dword [rax], 1 */
	struct diff_case c;

	(void)state;
	memset(&c, 0, sizeof(c));
	diff_rand_regs(&c.in);
	c.in.gpr[R_AX] = DIFF_DATA_BASE;
	memcpy(c.code, code, sizeof(code));
	c.len = sizeof(code);
	c.vector = EMU_VEC_UD;
	diff_run("lock shl", &c);
	assert_int_equal(diff_group_failures(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shift_grp2),
		cmocka_unit_test(shift_double),
		cmocka_unit_test(shift_lock_ud),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
