/* Differential tests of near control transfers (control.c) against the
 * host CPU: Jcc, JMP, LOOP/LOOPE/LOOPNE, JrCXZ, CALL/RET (relative,
 * indirect, RET imm16), ENTER/LEAVE. Natively, both ways out of a branch
 * end in an exit pad that records which one ran. Faulting targets and the
 * instructions that cannot run in a user process (INT n, IN/OUT) are
 * checked on the core alone. See diff_harness.h.
 *
 * Not compared: near branches with a 66 prefix in 64-bit mode, which AMD
 * CPUs truncate to 16 bits and Intel CPUs ignore; the core (and decoder)
 * follow Intel. */
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
	diff_setup("control");
	diff_mem_randomize();
	return 0;
}

/* A branch target in the code page, within [lo, hi] when given. */
static uint64_t rand_target(unsigned len, int64_t lo, int64_t hi)
{
	for (;;) {
		uint64_t t = DIFF_CODE_BASE + len + (uint64_t)(lo + (int64_t)diff_rand_below((uint64_t)(hi - lo + 1)));

		if (diff_target_ok(t, len))
			return t;
	}
}

/* A stack in the middle of the window (32-bit code: an offset from SS's
 * base, with garbage above the 32 bits that count). */
static uint64_t rand_stack(void)
{
	uint64_t sp = DIFF_DATA_BASE + 0x1000 + diff_rand_below(DIFF_DATA_SIZE - 0x2000);

	return diff_in_mode32() ? (diff_rand() << 32) | (sp - DIFF_DATA_BASE) : sp;
}

/* The address of the stack top in the window. */
static uint64_t stack_addr(uint64_t sp)
{
	return diff_in_mode32() ? DIFF_DATA_BASE + (uint32_t)sp : sp;
}

/* Jcc rel8/rel32, JMP rel8/rel32. */
static void control_jumps_cases(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		unsigned form = (unsigned)diff_rand_below(4), len;

		diff_new_case(&d, &c);
		switch (form) {
		case 0: d.op = (uint8_t)(0x70 + diff_rand_below(16)); d.imm_len = 1; break;
		case 1: d.map = 1; d.op = (uint8_t)(0x80 + diff_rand_below(16)); d.imm_len = 4; break;
		case 2: d.op = 0xeb; d.imm_len = 1; break;
		default: d.op = 0xe9; d.imm_len = 4; break;
		}
		len = diff_encode(&d, c.code);
		c.target = d.imm_len == 1 ? rand_target(len, -128, 127) : rand_target(len, -0x7c0, 0x700);
		d.imm = c.target - (DIFF_CODE_BASE + len);
		diff_check("jcc/jmp", &d, &c);
	}
}

/* LOOPNE/LOOPE/LOOP (E0-E2) and JrCXZ (E3), with RCX or (67) ECX. */
static void control_loops_cases(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		unsigned len;

		diff_new_case(&d, &c);
		if (diff_rand_below(3) == 0) {
			/* ECX in 64-bit code, CX in 32-bit code */
			diff_prefix(&d, 0x67);
			c.in.gpr[R_CX] = diff_rand() << 16 | diff_rand_below(3);
		} else if (diff_rand_below(2)) {
			c.in.gpr[R_CX] = diff_rand_below(3);
		}
		d.op = (uint8_t)(0xe0 + diff_rand_below(4));
		d.imm_len = 1;
		len = diff_encode(&d, c.code);
		c.target = rand_target(len, -128, 127);
		d.imm = c.target - (DIFF_CODE_BASE + len);
		diff_check("loop/jrcxz", &d, &c);
	}
}

/* CALL rel32, CALL/JMP r/m (FF /2, /4), RET, RET imm16. */
static void control_calls_cases(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		unsigned form = (unsigned)diff_rand_below(4), len;
		uint64_t addr = 0;

		diff_new_case(&d, &c);
		c.in.gpr[R_SP] = rand_stack();
		switch (form) {
		case 0:         /* CALL rel32 */
			d.op = 0xe8;
			d.imm_len = 4;
			len = diff_encode(&d, c.code);
			c.target = rand_target(len, -0x7c0, 0x700);
			d.imm = c.target - (DIFF_CODE_BASE + len);
			break;
		case 1:         /* CALL/JMP r/m64 */
		case 2: {
			bool mem = diff_rand_below(2);

			d.op = 0xff;
			addr = diff_modrm_operands(&d, &c.in, diff_in_mode32() ? 4 : 8, form == 1 ? 2 : 4,
						   mem, 1u << R_SP);
			if (!mem)
				while (d.rm == R_SP)
					d.rm = (uint8_t)diff_rand_below(diff_in_mode32() ? 8 : 16);
			len = diff_encode(&d, c.code);      /* final: disp32 either way */
			c.target = rand_target(len, -0x7c0, 0x700);
			if (mem)
				diff_mem_set_value(addr, c.target, diff_in_mode32() ? 4 : 8);
			else
				c.in.gpr[d.rm] = c.target;
			break;
		}
		default:        /* RET / RET imm16 */
			if (diff_rand_below(2)) {
				d.op = 0xc2;
				d.imm_len = 2;
				d.imm = diff_rand_value(2);
			} else {
				d.op = 0xc3;
			}
			len = diff_encode(&d, c.code);
			c.target = rand_target(len, -0x7c0, 0x700);
			diff_mem_set_value(stack_addr(c.in.gpr[R_SP]), c.target, diff_in_mode32() ? 4 : 8);
			break;
		}
		diff_check("call/ret", &d, &c);
	}
}

/* ENTER imm16, level (0..31 as encoded, more to check the masking) and
 * LEAVE, with 64- and 16-bit operand sizes. (Allocations that leave the
 * window would fault natively: ENTER probes the final rSP.) */
static void control_frames_cases(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;

		diff_new_case(&d, &c);
		c.in.gpr[R_SP] = rand_stack();
		c.in.gpr[R_BP] = rand_stack();
		if (diff_rand_below(4) == 0)
			diff_prefix(&d, 0x66);
		if (diff_rand_below(2)) {
			d.op = 0xc8;
			d.imm = diff_rand_value(2);
			d.imm_len = 2;
			d.imm2 = diff_rand_below(4) ? diff_rand_below(8) : diff_rand_below(256);
			d.imm2_len = 1;
			/* The host probes the final rSP: keep it in the window. */
			d.imm = diff_rand_below(4) ? diff_rand_below(0x800) : diff_rand_below(4);
		} else {
			d.op = 0xc9;
		}
		diff_check("enter/leave", &d, &c);
	}
}

static void control_jumps(void **state)
{
	(void)state;
	control_jumps_cases(diff_ncases(6000));
	assert_int_equal(diff_group_failures(), 0);
}

static void control_loops(void **state)
{
	(void)state;
	control_loops_cases(diff_ncases(4000));
	assert_int_equal(diff_group_failures(), 0);
}

static void control_calls(void **state)
{
	(void)state;
	control_calls_cases(diff_ncases(6000));
	assert_int_equal(diff_group_failures(), 0);
}

static void control_frames(void **state)
{
	(void)state;
	control_frames_cases(diff_ncases(3000));
	assert_int_equal(diff_group_failures(), 0);
}

/* The same in 32-bit code: 32-bit stack and return addresses, LOOP and
 * JCXZ with CX (67) or ECX, ENTER/LEAVE with ESP/EBP. */
static void control_mode32(void **state)
{
	(void)state;
	if (!diff_mode32(true)) {
		skip();
		return;
	}
	control_jumps_cases(diff_ncases(2000));
	control_loops_cases(diff_ncases(2000));
	control_calls_cases(diff_ncases(3000));
	control_frames_cases(diff_ncases(2000));
	diff_mode32(false);
	assert_int_equal(diff_group_failures(), 0);
}

/* Non-canonical targets: #GP(0) with nothing changed (no push, no RSP or
 * RCX update). Core only. */
static void control_bad_targets(void **state)
{
	static const uint8_t codes[][3] = {
		{ 0xff, 0xe0 },         /* jmp rax */
		{ 0xff, 0xd0 },         /* call rax */
		{ 0xc3 },               /* ret */
		{ 0xc2, 0x10, 0x00 },   /* ret 16 */
	};
	static const unsigned lens[] = { 2, 2, 1, 3 };

	(void)state;
	for (unsigned i = 0; i < 4; i++) {
		struct diff_case c;

		memset(&c, 0, sizeof(c));
		diff_rand_regs(&c.in);
		c.in.gpr[R_SP] = rand_stack();
		c.in.gpr[R_AX] = 0x0000800000000000ull;
		diff_mem_set_value(c.in.gpr[R_SP], 0xffff7fffffff0000ull, 8);
		memcpy(c.code, codes[i], lens[i]);
		c.len = lens[i];
		c.vector = EMU_VEC_GP;
		diff_run("non-canonical target", &c);
	}
	assert_int_equal(diff_group_failures(), 0);
}

/* INT3, INT n: a software event whose frame gets the rip past the
 * instruction while cpu->rip stays on it (a fault in delivery reports the
 * INT); INT1: a #DB trap, the same but without the gate-DPL check; INTO is
 * #UD in 64-bit mode. Core only. */
static void control_soft_interrupts(void **state)
{
	static const struct { uint8_t code[2]; unsigned len; int vector; bool soft, advance; } t[] = {
		{ { 0xcc }, 1, EMU_VEC_BP, true, true },
		{ { 0xcd, 0x80 }, 2, 0x80, true, true },
		{ { 0xcd, 0x03 }, 2, 3, true, true },
		{ { 0xf1 }, 1, EMU_VEC_DB, false, true },
		{ { 0xce }, 1, EMU_VEC_UD, false, false },
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct diff_case c;
		struct diff_regs out;

		memset(&c, 0, sizeof(c));
		diff_rand_regs(&c.in);
		memcpy(c.code, t[i].code, t[i].len);
		c.len = t[i].len;
		assert_int_equal(diff_emu_only(&c, &out), t[i].vector);
		assert_int_equal(diff_cpu()->rip, DIFF_CODE_BASE);
		if (t[i].advance) {
			assert_int_equal(diff_cpu()->event.soft, t[i].soft);
			assert_true(diff_cpu()->event.trap);
			assert_int_equal(diff_cpu()->event.return_rip, DIFF_CODE_BASE + t[i].len);
		}
		assert_memory_equal(out.gpr, c.in.gpr, sizeof(out.gpr));
	}
}

/* IN/OUT through the fake port bus. Core only. */
static void control_in_out(void **state)
{
	struct diff_case c;
	struct diff_regs out;

	(void)state;
	memset(&c, 0, sizeof(c));
	diff_rand_regs(&c.in);
	c.in.gpr[R_AX] = 0x1122334455667788ull;
	c.in.gpr[R_DX] = 0x3f8;
	diff_pio_value = 0xa5a5a5a5deadbeefull;

	c.code[0] = 0xed;                       /* in eax, dx */
	c.len = 1;
	assert_int_equal(diff_emu_only(&c, &out), -1);
	assert_int_equal(out.gpr[R_AX], 0xdeadbeef);    /* zero-extended */

	c.code[0] = 0xe4;                       /* in al, 0x60 */
	c.code[1] = 0x60;
	c.len = 2;
	assert_int_equal(diff_emu_only(&c, &out), -1);
	assert_int_equal(out.gpr[R_AX], 0x11223344556677efull);

	c.code[0] = 0x66;                       /* in ax, dx */
	c.code[1] = 0xed;
	assert_int_equal(diff_emu_only(&c, &out), -1);
	assert_int_equal(out.gpr[R_AX], 0x112233445566beefull);

	diff_pio_writes = 0;
	c.code[0] = 0xef;                       /* out dx, eax */
	c.len = 1;
	assert_int_equal(diff_emu_only(&c, &out), -1);
	assert_int_equal(diff_pio_writes, 1);
	assert_int_equal(diff_pio_last_write, 0x55667788);
	assert_memory_equal(out.gpr, c.in.gpr, sizeof(out.gpr));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(control_jumps),
		cmocka_unit_test(control_loops),
		cmocka_unit_test(control_calls),
		cmocka_unit_test(control_frames),
		cmocka_unit_test(control_mode32),
		cmocka_unit_test(control_bad_targets),
		cmocka_unit_test(control_soft_interrupts),
		cmocka_unit_test(control_in_out),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
