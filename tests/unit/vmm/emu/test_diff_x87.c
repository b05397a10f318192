/* Differential tests of the x87 family (x87.c, x87_env.c) against the
 * host CPU: every register form of D8-DF (the undefined ones included,
 * whose #UD is compared), every memory form with values of every class
 * (zeros, infinities, NaNs, denormals, the unsupported 80-bit encodings,
 * integers at the conversion limits, BCD), the control instructions and
 * the environment images in both operand sizes, on random stack states
 * (any TOP, empty registers for stack underflow and overflow) under
 * random precision and rounding control, with unmasked exceptions now and
 * then (their deferred #MF is compared on the next waiting instruction).
 * Compared: the whole x87 state, the instruction and data pointers and
 * the last opcode, RFLAGS (FCOMI, FCMOVcc), AX (FNSTSW) and memory. The
 * CR0 rules are checked against the core alone. See diff_harness_fp.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "diff_harness_fp.h"

static int setup(void **state)
{
	(void)state;
	diff_fp_setup("x87");
	diff_mem_randomize();
	return 0;
}

/* A random x87 state: any TOP, random register contents, most registers
 * valid (ST(0), ST(1) and ST(7) empty now and then, for stack underflow
 * and overflow), any precision and rounding control. Exceptions are
 * masked except one case in unmask_one_in; the sticky flags set are
 * masked ones, except one case in sixty-four, where an unmasked one is
 * pending (#MF on the next waiting instruction). */
static void rand_x87(struct diff_fp_case *fc, unsigned unmask_one_in)
{
	unsigned top = (unsigned)diff_rand_below(8);
	uint16_t masks = 0x3f, fcw, fsw;
	uint8_t ftw = 0;

	if (diff_rand_below(unmask_one_in) == 0)
		masks = (uint16_t)diff_rand_below(64);
	fcw = (uint16_t)(masks | 0x40 | (diff_rand() & 0x1f00));
	fsw = (uint16_t)((diff_rand() & 0x4700) | top << 11 | (diff_rand() & masks));
	if (diff_rand_below(64) == 0)
		fsw |= (uint16_t)(diff_rand() & 0x3f);
	for (unsigned i = 0; i < 8; i++) {
		uint64_t m;
		uint16_t e;
		bool valid = diff_rand_below(i == 0 || i == 1 || i == 7 ? 8 : 3) != 0;

		diff_rand_f80(&m, &e);
		diff_fx_set_st(&fc->in, i, m, e);
		if (valid)
			ftw |= (uint8_t)(1u << ((top + i) & 7));
	}
	/* Pointers and opcode as some earlier instruction left them. */
	{
		uint64_t ip = diff_rand() & 0xffffffff, dp = diff_rand() & 0xffffffff;
		uint16_t op = (uint16_t)(diff_rand() & 0x7ff);

		diff_fx_put(&fc->in, FX_FIP, &ip, 8);
		diff_fx_put(&fc->in, FX_FDP, &dp, 8);
		diff_fx_put(&fc->in, FX_FOP, &op, 2);
	}
	diff_fx_set_x87(&fc->in, fcw, fsw, ftw);
}

/* Every register form D8-DF C0-FF. */
static void x87_reg_forms(void **state)
{
	unsigned n = diff_ncases(30000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_fp_case fc;
		unsigned modrm = 0xc0 + (unsigned)diff_rand_below(64);

		diff_fp_new_case(&d, &fc);
		rand_x87(&fc, 8);
		if (diff_rand_below(8) == 0)
			d.rex = (uint8_t)(0x40 | diff_rand_below(16));
		d.op = (uint8_t)(0xd8 + diff_rand_below(8));
		d.modrm = true;
		d.reg = (uint8_t)((modrm >> 3) & 7);
		d.rm = (uint8_t)(modrm & 7);
		diff_fp_check("x87 register form", &d, &fc);
	}
	assert_int_equal(diff_fp_group_failures(), 0);
}

/* Memory operand sizes: [escape][digit]; the control forms with 32-bit
 * operand size. */
static const uint8_t mem_size[8][8] = {
	{ 4, 4, 4, 4, 4, 4, 4, 4 },
	{ 4, 4, 4, 4, 28, 2, 28, 2 },
	{ 4, 4, 4, 4, 4, 4, 4, 4 },
	{ 4, 4, 4, 4, 10, 10, 10, 10 },
	{ 8, 8, 8, 8, 8, 8, 8, 8 },
	{ 8, 8, 8, 8, 108, 8, 108, 2 },
	{ 2, 2, 2, 2, 2, 2, 2, 2 },
	{ 2, 2, 2, 2, 10, 8, 10, 8 },
};

/* A memory operand's value for escape esc, digit. */
static void fill_operand(uint8_t *buf, unsigned esc, unsigned digit, unsigned size)
{
	for (unsigned i = 0; i < size; i += 8) {
		uint64_t r = diff_rand();

		memcpy(buf + i, &r, size - i < 8 ? size - i : 8);
	}
	switch (esc) {
	case 0:
	case 1:
		if (esc == 0 || digit == 0) {
			uint32_t f = diff_rand_f32();

			memcpy(buf, &f, 4);
		}
		break;
	case 4:
	case 5:
		if (esc == 4 || digit == 0) {
			uint64_t f = diff_rand_f64();

			memcpy(buf, &f, 8);
		}
		break;
	case 2:
	case 3:
		if (esc == 2 || digit == 0) {
			uint32_t v = (uint32_t)diff_rand_value(4);

			memcpy(buf, &v, 4);
		} else if (digit == 5) {
			uint64_t m;
			uint16_t e;

			diff_rand_f80(&m, &e);
			memcpy(buf, &m, 8);
			memcpy(buf + 8, &e, 2);
		}
		break;
	case 6:
	case 7:
		if (esc == 6 || digit == 0) {
			uint16_t v = (uint16_t)diff_rand_value(2);

			memcpy(buf, &v, 2);
		} else if (digit == 5) {
			uint64_t v = diff_rand_value(8);

			memcpy(buf, &v, 8);
		} else if (digit == 4 && diff_rand_below(4)) {
			/* Packed BCD: 18 digits and a sign byte. */
			for (unsigned k = 0; k < 9; k++)
				buf[k] = (uint8_t)(diff_rand_below(10) << 4 | diff_rand_below(10));
			buf[9] = (uint8_t)(diff_rand_below(2) << 7);
		}
		break;
	}
}

/* Every memory form. */
static void x87_mem_forms(void **state)
{
	unsigned n = diff_ncases(30000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_fp_case fc;
		unsigned esc = (unsigned)diff_rand_below(8), digit = (unsigned)diff_rand_below(8);
		unsigned size = mem_size[esc][digit];
		uint8_t buf[108];
		uint64_t addr;

		diff_fp_new_case(&d, &fc);
		rand_x87(&fc, 8);
		if (diff_rand_below(8) == 0)
			d.rex |= 0x48;                  /* beats 66: 32-bit environment */
		if (size >= 28 && diff_rand_below(3) == 0) {
			diff_prefix(&d, 0x66);          /* the 16-bit environment */
			if (!(d.rex & 8))
				size -= 14;
		}
		d.op = (uint8_t)(0xd8 + esc);
		d.modrm = true;
		d.reg = (uint8_t)digit;
		addr = diff_rand_addr(size, 1);
		fill_operand(buf, esc, digit, size);
		diff_mem_set(addr, buf, size);
		diff_mem_operand(&d, &fc.c.in, addr, 0);
		diff_fp_check("x87 memory form", &d, &fc);
	}
	assert_int_equal(diff_fp_group_failures(), 0);
}

/* FRSTOR from what FNSAVE wrote (a round trip with real contents), and
 * FLDENV from what FNSTENV wrote, with both operand sizes. */
static void x87_env_roundtrip(void **state)
{
	unsigned n = diff_ncases(3000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_fp_case fc;
		bool save = diff_rand_below(2), o16 = diff_rand_below(2);
		unsigned size = (save ? 108 : 28) - (o16 ? 14 : 0);
		uint64_t addr = diff_rand_addr(size, 1);

		/* The store... */
		diff_fp_new_case(&d, &fc);
		rand_x87(&fc, 4);
		if (o16)
			diff_prefix(&d, 0x66);
		d.op = save ? 0xdd : 0xd9;
		d.modrm = true;
		d.reg = 6;
		diff_mem_operand(&d, &fc.c.in, addr, 0);
		diff_fp_check("fnsave/fnstenv", &d, &fc);

		/* ...and the load, into another state. */
		diff_fp_new_case(&d, &fc);
		rand_x87(&fc, 64);
		if (o16)
			diff_prefix(&d, 0x66);
		d.op = save ? 0xdd : 0xd9;
		d.modrm = true;
		d.reg = 4;
		diff_mem_operand(&d, &fc.c.in, addr, 0);
		diff_fp_check("frstor/fldenv", &d, &fc);
	}
	assert_int_equal(diff_fp_group_failures(), 0);
}

/* FWAIT, with an unmasked exception pending now and then (#MF). */
static void x87_fwait(void **state)
{
	unsigned n = diff_ncases(1000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_fp_case fc;

		diff_fp_new_case(&d, &fc);
		rand_x87(&fc, 2);
		if (diff_rand_below(2))
			fc.in.b[FX_FSW] |= 0x3f;        /* flags: pending if unmasked */
		d.op = 0x9b;
		diff_fp_check("fwait", &d, &fc);
	}
	assert_int_equal(diff_fp_group_failures(), 0);
}

/* 0F 77 EMMS, which Linux runs on AMD CPUs when it restores FPU state:
 * every tag empty, and a pending unmasked exception first. */
static void x87_emms(void **state)
{
	unsigned n = diff_ncases(1000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_fp_case fc;

		diff_fp_new_case(&d, &fc);
		rand_x87(&fc, 2);
		if (diff_rand_below(2))
			fc.in.b[FX_FSW] |= 0x3f;        /* flags: pending if unmasked */
		d.map = 1;
		d.op = 0x77;
		diff_fp_check("emms", &d, &fc);
	}
	assert_int_equal(diff_fp_group_failures(), 0);
}

/* Two instructions in a row: the first raises an unmasked exception (or
 * not), the second is #MF then, or not. The core runs them one by one;
 * the host runs both. */
static void x87_deferred(void **state)
{
	static const uint8_t firsts[][2] = {
		{ 0xd8, 0xf1 },         /* fdiv st, st(1) */
		{ 0xd9, 0xfa },         /* fsqrt */
		{ 0xd8, 0xc9 },         /* fmul st, st(1) */
		{ 0xd9, 0xc1 },         /* fld st(1) */
	};
	unsigned n = diff_ncases(2000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_fp_case fc;
		unsigned f = (unsigned)diff_rand_below(4);

		diff_fp_new_case(&d, &fc);
		rand_x87(&fc, 1);
		fc.c.len = 2;
		memcpy(fc.c.code, firsts[f], 2);
		if (!diff_fp_run("deferred: first", &fc))
			continue;
		/* The state after the first is the next case's input. */
		{
			struct diff_fp_case next;
			struct emu_cpu *cpu = diff_cpu();
			unsigned top = (cpu->fpu.fsw >> 11) & 7;

			memset(&next, 0, sizeof(next));
			next.c.in = fc.c.in;
			next.c.flags = fc.c.flags;
			next.c.vector = -1;
			next.fsw_mask = 0xffff;
			next.pointers = true;
			next.in = fc.in;
			diff_fx_put(&next.in, FX_FCW, &cpu->fpu.fcw, 2);
			diff_fx_put(&next.in, FX_FSW, &cpu->fpu.fsw, 2);
			next.in.b[FX_FTW] = cpu->fpu.ftw;
			for (unsigned r = 0; r < 8; r++)
				diff_fx_set_st(&next.in, r, cpu->fpu.st[(top + r) & 7].mant,
					       cpu->fpu.st[(top + r) & 7].exp);
			next.c.len = 2;
			next.c.code[0] = 0xd9;
			next.c.code[1] = 0xe8;  /* fld1 */
			diff_fp_run("deferred: second", &next);
		}
	}
	assert_int_equal(diff_fp_group_failures(), 0);
}

/* CR0.EM and CR0.TS: #NM for every escape opcode; FWAIT only with MP and
 * TS. LOCK is #UD. */
static void x87_control_regs(void **state)
{
	static const struct {
		uint8_t code[3];
		unsigned len;
		uint64_t cr0_set, cr0_clear;
		int vector;
	} cases[] = {
		{ { 0xd9, 0xe8 }, 2, EMU_CR0_TS, 0, EMU_VEC_NM },               /* fld1 */
		{ { 0xd9, 0xe8 }, 2, EMU_CR0_EM, 0, EMU_VEC_NM },
		{ { 0xdb, 0xe3 }, 2, EMU_CR0_TS, 0, EMU_VEC_NM },               /* fninit */
		{ { 0xdd, 0x38 }, 2, EMU_CR0_EM, 0, EMU_VEC_NM },               /* fnstsw [rax] */
		{ { 0x9b }, 1, EMU_CR0_TS, 0, EMU_VEC_NM },                     /* fwait, MP set */
		{ { 0x9b }, 1, EMU_CR0_TS, EMU_CR0_MP, -1 },                    /* fwait, MP clear */
		{ { 0x9b }, 1, EMU_CR0_EM, 0, -1 },                             /* fwait ignores EM */
		{ { 0xf0, 0xd9, 0xe8 }, 3, 0, 0, EMU_VEC_UD },                  /* lock fld1 */
	};
	struct emu_cpu *cpu = diff_cpu();
	uint64_t cr0 = cpu->cr0;

	(void)state;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct diff_fp_case fc;
		struct diff_insn d;

		diff_fp_new_case(&d, &fc);
		rand_x87(&fc, 1000000);
		memcpy(fc.c.code, cases[i].code, cases[i].len);
		fc.c.len = cases[i].len;
		fc.c.in.gpr[R_AX] = DIFF_DATA_BASE;
		fc.c.vector = cases[i].vector;
		cpu->cr0 = (cr0 | cases[i].cr0_set) & ~cases[i].cr0_clear;
		diff_fp_run("x87 cr0", &fc);
	}
	cpu->cr0 = cr0;

	/* Without CR0.NE a pending exception does not fault (the FERR#
	 * route is not modelled). */
	{
		struct diff_fp_case fc;
		struct diff_insn d;
		struct diff_regs out;

		diff_fp_new_case(&d, &fc);
		fc.c.code[0] = 0x9b;
		fc.c.len = 1;
		cpu->fpu.fcw = 0x037e;
		cpu->fpu.fsw = 0x8081;
		cpu->cr0 = cr0 & ~EMU_CR0_NE;
		assert_int_equal(diff_emu_only(&fc.c, &out), -1);
		cpu->cr0 = cr0;
		assert_int_equal(diff_emu_only(&fc.c, &out), EMU_VEC_MF);
		cpu->fpu.fcw = 0x037f;
		cpu->fpu.fsw = 0;
	}
	assert_int_equal(diff_fp_group_failures(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(x87_reg_forms),
		cmocka_unit_test(x87_mem_forms),
		cmocka_unit_test(x87_env_roundtrip),
		cmocka_unit_test(x87_fwait),
		cmocka_unit_test(x87_emms),
		cmocka_unit_test(x87_deferred),
		cmocka_unit_test(x87_control_regs),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
