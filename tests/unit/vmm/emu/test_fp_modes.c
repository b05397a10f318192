/* The FP state images in the modes the differential tests (64-bit only)
 * cannot reach: the x87 environment in its real-mode layouts (linear
 * instruction and data pointers) and its 16-bit protected layout, FSAVE
 * and FRSTOR in real mode, and FXSAVE/FXRSTOR outside 64-bit mode (eight
 * XMM registers, 32-bit pointers, the rest of the area untouched). */
#include <stdlib.h>

#include "sys_fixture.h"

#include "vmm/emu/decode.h"
#include "vmm/emu/exec.h"
#include "vmm/emu/sse.h"
#include "vmm/emu/x87.h"

static struct exec_table table;

static int setup(void **state)
{
	exec_table_init(&table);
	return fix_setup(state);
}

#define RUN(c, ...) fix_exec_bytes(&table, (c), (const uint8_t[]){ __VA_ARGS__ }, \
				   sizeof((const uint8_t[]){ __VA_ARGS__ }))

static uint16_t rd16(struct fixture *f, uint64_t pa)
{
	uint16_t v = 0;

	assert_int_equal(guest_mem_read(&f->mem, pa, &v, 2), 0);
	return v;
}

/* Real mode with CS = 0x1000 and DS = 0x2000, IP = 0x100. */
static void real_setup(struct fixture *f)
{
	struct emu_cpu *c = &f->cpu;

	c->seg[SEG_CS].selector = 0x1000;
	c->seg[SEG_CS].base = 0x10000;
	c->seg[SEG_DS].selector = 0x2000;
	c->seg[SEG_DS].base = 0x20000;
	c->cr0 = EMU_CR0_ET | EMU_CR0_NE;
	c->cr4 = EMU_CR4_OSFXSR;
	c->rip = 0x100;
	emu_update_mode(c);
}

static void real_mode_environment(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;
	struct emu_fpu saved;

	real_setup(f);
	assert_true(RUN(c, 0xdb, 0xe3));                        /* fninit */
	c->rip = 0x100;
	assert_true(RUN(c, 0xd9, 0xe8));                        /* fld1 at 1000:0100 */
	assert_int_equal(c->fpu.fip, 0x100);
	assert_int_equal(c->fpu.fop, 0x1e8);
	c->gpr[3] = 0x30;
	assert_true(RUN(c, 0xd9, 0x07));                        /* fld dword [bx] */
	assert_int_equal(c->fpu.fdp, 0x30);

	/* 16-bit layout at DS:0x40: linear pointers split 16 + 4 bits. */
	assert_true(RUN(c, 0xd9, 0x36, 0x40, 0x00));            /* fnstenv [0x40] */
	assert_int_equal(rd16(f, 0x20040), 0x037f);
	assert_int_equal(rd16(f, 0x20042), 0x3000);             /* TOP 6 */
	assert_int_equal(rd16(f, 0x20044), emu_x87_tag_word(&c->fpu));
	assert_int_equal(rd16(f, 0x20044), 0x1fff);             /* R7 1.0 valid, R6 0.0 zero */
	assert_int_equal(rd16(f, 0x20046), 0x0102);             /* IP of the fld */
	assert_int_equal(rd16(f, 0x20048), 0x1000 | 0x107);     /* IP 19:16, opcode D9 07 */
	assert_int_equal(rd16(f, 0x2004a), 0x0030);
	assert_int_equal(rd16(f, 0x2004c), 0x2000);             /* DP 19:16 */

	/* 32-bit layout at DS:0x80. */
	assert_true(RUN(c, 0x66, 0xd9, 0x36, 0x80, 0x00));      /* fnstenv [0x80] */
	assert_int_equal(fix_rd32(f, 0x2008c), 0xffff0102);
	assert_int_equal(fix_rd32(f, 0x20090), 0x1000 | 0x107);
	assert_int_equal(fix_rd32(f, 0x20094), 0xffff0030);
	assert_int_equal(fix_rd32(f, 0x20098), 0x2000);

	/* Loading gives the offsets back. */
	c->fpu.fcw = 0x37f;
	saved = c->fpu;
	assert_true(RUN(c, 0xdb, 0xe3));                        /* fninit */
	assert_true(RUN(c, 0xd9, 0x26, 0x40, 0x00));            /* fldenv [0x40] */
	assert_int_equal(c->fpu.fip, saved.fip);
	assert_int_equal(c->fpu.fdp, saved.fdp);
	assert_int_equal(c->fpu.fop, saved.fop);
	assert_int_equal(c->fpu.fsw, saved.fsw);
	assert_int_equal(c->fpu.ftw, saved.ftw);
	assert_true(RUN(c, 0xdb, 0xe3));
	assert_true(RUN(c, 0x66, 0xd9, 0x26, 0x80, 0x00));      /* fldenv [0x80] (32-bit) */
	assert_int_equal(c->fpu.fip, saved.fip);
	assert_int_equal(c->fpu.fdp, saved.fdp);
	assert_int_equal(c->fpu.fop, saved.fop);

	/* FNSAVE initializes; FRSTOR brings everything back. */
	assert_true(RUN(c, 0xdd, 0x36, 0x00, 0x01));            /* fnsave [0x100] */
	assert_int_equal(c->fpu.fcw, 0x37f);
	assert_int_equal(c->fpu.ftw, 0);
	assert_int_equal(c->fpu.fsw, 0);
	assert_true(RUN(c, 0xdd, 0x26, 0x00, 0x01));            /* frstor [0x100] */
	assert_int_equal(c->fpu.fsw, saved.fsw);
	assert_int_equal(c->fpu.ftw, saved.ftw);
	assert_int_equal(c->fpu.fip, saved.fip);
	for (unsigned r = 6; r < 8; r++) {
		assert_int_equal(c->fpu.st[r].mant, saved.st[r].mant);
		assert_int_equal(c->fpu.st[r].exp, saved.st[r].exp);
	}
}

/* 32-bit protected mode: FXSAVE writes XMM0-7 only, with 32-bit pointers
 * and zero selectors; FXRSTOR leaves XMM8-15 alone; FNSTENV with a 66
 * prefix writes the 14-byte protected layout. */
static void protected_mode_images(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;
	uint8_t *area = guest_mem_ptr(&f->mem, 0x5000, 512);

	fix_protected(f, 0x1000, 4);
	c->cr0 |= EMU_CR0_NE;
	c->cr4 = EMU_CR4_OSFXSR | EMU_CR4_OSXMMEXCPT;
	for (unsigned i = 0; i < 16; i++) {
		c->fpu.xmm[i].q[0] = 0x1111111111111111ull * (i + 1);
		c->fpu.xmm[i].q[1] = ~c->fpu.xmm[i].q[0];
	}
	c->rip = 0x7000;
	assert_true(RUN(c, 0xdb, 0xe3));                        /* fninit */
	c->rip = 0x7002;
	assert_true(RUN(c, 0xd9, 0xeb));                        /* fldpi */
	memset(area, 0xcc, 512);
	assert_true(RUN(c, 0x0f, 0xae, 0x05, 0x00, 0x50, 0x00, 0x00)); /* fxsave [0x5000] */
	assert_int_equal(fix_rd32(f, 0x5008), 0x7002);          /* FIP */
	assert_int_equal(fix_rd32(f, 0x500c), 0);               /* FCS */
	assert_int_equal(fix_rd32(f, 0x5018), 0x1f80);
	assert_int_equal(fix_rd32(f, 0x501c), EMU_MXCSR_MASK);
	for (unsigned i = 0; i < 8; i++)
		assert_memory_equal(area + 160 + 16 * i, c->fpu.xmm[i].b, 16);
	for (unsigned i = 288; i < 512; i++)
		assert_int_equal(area[i], 0xcc);
	{
		uint8_t img[512];

		memset(img, 0xcc, sizeof(img));
		emu_fxsave_image(c, img, false, 8);
		assert_memory_equal(img, area, 512);
	}

	memset(area + 160, 0x5a, 256);
	assert_true(RUN(c, 0x0f, 0xae, 0x0d, 0x00, 0x50, 0x00, 0x00)); /* fxrstor [0x5000] */
	assert_int_equal(c->fpu.xmm[7].q[0], 0x5a5a5a5a5a5a5a5aull);
	assert_int_equal(c->fpu.xmm[8].q[0], 0x9999999999999999ull);
	assert_int_equal(c->fpu.fip, 0x7002);

	/* Misaligned: #GP(0). */
	assert_false(RUN(c, 0x0f, 0xae, 0x05, 0x08, 0x50, 0x00, 0x00));
	assert_int_equal(c->event.vector, EMU_VEC_GP);
	assert_int_equal(c->event.error, 0);

	assert_true(RUN(c, 0x66, 0xd9, 0x35, 0x00, 0x60, 0x00, 0x00)); /* fnstenv [0x6000], o16 */
	assert_int_equal(rd16(f, 0x6000), 0x037f);
	assert_int_equal(rd16(f, 0x6006), 0x7002);              /* IP */
	assert_int_equal(rd16(f, 0x6008), 0);                   /* CS */
	assert_int_equal(rd16(f, 0x600a), 0);                   /* DP */
	assert_int_equal(rd16(f, 0x600c), 0);                   /* DS */
	assert_int_equal(c->fpu.fcw, 0x037f);                   /* masked already */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(real_mode_environment, setup, fix_teardown),
		cmocka_unit_test_setup_teardown(protected_mode_images, setup, fix_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
