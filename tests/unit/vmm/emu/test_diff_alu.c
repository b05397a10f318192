/* Differential tests of the ALU family (alu.c, with the operand helpers):
 * every form against the host CPU. See diff_harness.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "diff_harness.h"

#define ARITH EMU_ARITH_FLAGS
#define LOGIC (EMU_ARITH_FLAGS & ~EMU_AF)       /* AF is undefined */

/* An immediate of the operand size (imm32 sign-extended for 64-bit). */
static void set_imm(struct diff_insn *d, unsigned size)
{
	d->imm_len = (uint8_t)(size == 8 ? 4 : size);
	d->imm = diff_rand_value(d->imm_len);
}

static void done(void)
{
	assert_int_equal(diff_group_failures(), 0);
}

static int setup(void **state)
{
	(void)state;
	diff_setup("alu");
	diff_mem_randomize();
	return 0;
}

/* 00-3B: ADD/OR/ADC/SBB/AND/SUB/XOR/CMP r/m, reg and reg, r/m; LOCK on a
 * memory destination now and then (natively locked too). */
static void alu_modrm(void **state)
{
	unsigned n = diff_ncases(6000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		unsigned op = (unsigned)diff_rand_below(8), dir = (unsigned)diff_rand_below(2);
		unsigned size = diff_rand_size();
		bool mem = diff_rand_below(2);

		diff_new_case(&d, &c);
		d.op = (uint8_t)(op << 3 | dir << 1 | (size != 1));
		diff_modrm(&d, &c.in, size, -1, mem, 0);
		if (op == 1 || op == 4 || op == 6)
			c.flags = LOGIC | EMU_DF;
		if (mem && dir == 0 && op != 7 && diff_rand_below(4) == 0)
			diff_prefix(&d, 0xf0);
		diff_check("alu r/m", &d, &c);
	}
	done();
}

/* 04/05 (+8n): op AL/eAX, imm. */
static void alu_acc_imm(void **state)
{
	unsigned n = diff_ncases(2000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		unsigned op = (unsigned)diff_rand_below(8), size = diff_rand_size();

		diff_new_case(&d, &c);
		diff_size_prefix(&d, size);
		d.op = (uint8_t)(op << 3 | 4 | (size != 1));
		set_imm(&d, size);
		if (op == 1 || op == 4 || op == 6)
			c.flags = LOGIC | EMU_DF;
		diff_check("alu acc,imm", &d, &c);
	}
	done();
}

/* 80/81/83: group 1, r/m op imm8/imm/sign-extended imm8, LOCK sometimes. */
static void alu_grp1(void **state)
{
	unsigned n = diff_ncases(5000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		unsigned op = (unsigned)diff_rand_below(8), size = diff_rand_size();
		bool mem = diff_rand_below(2);

		diff_new_case(&d, &c);
		diff_modrm(&d, &c.in, size, (int)op, mem, 0);
		if (size == 1) {
			d.op = 0x80;
			set_imm(&d, 1);
		} else if (diff_rand_below(2)) {
			d.op = 0x83;
			set_imm(&d, 1);
		} else {
			d.op = 0x81;
			set_imm(&d, size);
		}
		if (op == 1 || op == 4 || op == 6)
			c.flags = LOGIC | EMU_DF;
		if (mem && op != 7 && diff_rand_below(4) == 0)
			diff_prefix(&d, 0xf0);
		diff_check("alu grp1", &d, &c);
	}
	done();
}

/* TEST: 84/85, A8/A9, F6/F7 /0. */
static void alu_test(void **state)
{
	unsigned n = diff_ncases(3000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		unsigned size = diff_rand_size(), form = (unsigned)diff_rand_below(3);

		diff_new_case(&d, &c);
		c.flags = LOGIC | EMU_DF;
		if (form == 0) {
			d.op = size == 1 ? 0x84 : 0x85;
			diff_modrm(&d, &c.in, size, -1, diff_rand_below(2), 0);
		} else if (form == 1) {
			diff_size_prefix(&d, size);
			d.op = size == 1 ? 0xa8 : 0xa9;
			set_imm(&d, size);
		} else {
			d.op = size == 1 ? 0xf6 : 0xf7;
			diff_modrm(&d, &c.in, size, 0, diff_rand_below(2), 0);
			set_imm(&d, size);
		}
		diff_check("test", &d, &c);
	}
	done();
}

/* INC/DEC (FE/FF /0 /1), NOT/NEG (F6/F7 /2 /3), LOCK sometimes. */
static void alu_unary(void **state)
{
	unsigned n = diff_ncases(4000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		unsigned size = diff_rand_size(), which = (unsigned)diff_rand_below(4);
		bool mem = diff_rand_below(2);

		diff_new_case(&d, &c);
		if (which < 2) {
			d.op = size == 1 ? 0xfe : 0xff;
			diff_modrm(&d, &c.in, size, (int)which, mem, 0);
		} else {
			d.op = size == 1 ? 0xf6 : 0xf7;
			diff_modrm(&d, &c.in, size, (int)which, mem, 0);
		}
		if (mem && diff_rand_below(3) == 0)
			diff_prefix(&d, 0xf0);
		diff_check(which < 2 ? "inc/dec" : "not/neg", &d, &c);
	}
	done();
}

/* MOV 88-8B, C6/C7, B0-BF; MOVZX/MOVSX; MOVSXD; LEA. */
static void alu_mov(void **state)
{
	unsigned n = diff_ncases(6000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		unsigned size = diff_rand_size(), form = (unsigned)diff_rand_below(6);
		bool mem = diff_rand_below(2);

		diff_new_case(&d, &c);
		switch (form) {
		case 0:         /* 88-8B */
			d.op = (uint8_t)(0x88 | diff_rand_below(2) << 1 | (size != 1));
			diff_modrm(&d, &c.in, size, -1, mem, 0);
			break;
		case 1:         /* C6/C7 /0 */
			d.op = size == 1 ? 0xc6 : 0xc7;
			diff_modrm(&d, &c.in, size, 0, mem, 0);
			set_imm(&d, size);
			break;
		case 2:         /* B0+r / B8+r (imm64 with REX.W) */
			diff_size_prefix(&d, size);
			if (diff_rand_below(2))
				d.rex |= 0x41;
			d.op = (uint8_t)((size == 1 ? 0xb0 : 0xb8) + diff_rand_below(8));
			d.imm_len = (uint8_t)size;
			d.imm = diff_rand_value(size);
			break;
		case 3: {       /* MOVZX/MOVSX r, r/m8 / r/m16 */
			unsigned from = diff_rand_below(2) ? 2 : 1;

			size = diff_rand_wide_size();
			d.map = 1;
			d.op = (uint8_t)((diff_rand_below(2) ? 0xbe : 0xb6) | (from == 2));
			diff_size_prefix(&d, size);
			diff_modrm_operands(&d, &c.in, from, -1, mem, 0);
			break;
		}
		case 4:         /* MOVSXD r, r/m32 (with REX.W; plain MOV without,
				 * still reading 32 bits of memory) */
			size = diff_rand_wide_size();
			d.op = 0x63;
			diff_size_prefix(&d, size);
			diff_modrm_operands(&d, &c.in, 4, -1, mem, 0);
			break;
		default:        /* LEA with any addressing form */
			size = diff_rand_wide_size();
			d.op = 0x8d;
			diff_modrm(&d, &c.in, size, -1, true, 0);
			break;
		}
		diff_check("mov", &d, &c);
	}
	done();
}

/* A0-A3: MOV between the accumulator and moffs64 (moffs32 with 67). */
static void alu_moffs(void **state)
{
	unsigned n = diff_ncases(1000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		unsigned size = diff_rand_size();
		uint64_t addr = diff_rand_addr(size, 1);

		diff_new_case(&d, &c);
		diff_size_prefix(&d, size);
		if (diff_rand_below(2)) {
			diff_prefix(&d, 0x67);
			d.imm_len = 4;
		} else {
			d.imm_len = 8;
		}
		d.imm = addr;
		d.op = (uint8_t)(0xa0 | diff_rand_below(2) << 1 | (size != 1));
		diff_mem_set_value(addr, diff_rand_value(size), size);
		diff_check("mov moffs", &d, &c);
	}
	done();
}

/* XCHG (86/87, 90+r), XADD, CMPXCHG, BSWAP. */
static void alu_exchange(void **state)
{
	unsigned n = diff_ncases(6000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		unsigned size = diff_rand_size(), form = (unsigned)diff_rand_below(5);
		bool mem = diff_rand_below(2);
		uint64_t addr;

		diff_new_case(&d, &c);
		switch (form) {
		case 0:         /* XCHG r/m, reg: locked by itself with memory */
			d.op = size == 1 ? 0x86 : 0x87;
			diff_modrm(&d, &c.in, size, -1, mem, 0);
			break;
		case 1:         /* 90+r: XCHG rAX, r; 90 = NOP, 41 90 = XCHG r8 */
			size = diff_rand_wide_size();
			diff_size_prefix(&d, size);
			if (diff_rand_below(2))
				d.rex |= 0x41;
			d.op = (uint8_t)(0x90 + diff_rand_below(8));
			break;
		case 2:         /* XADD */
			d.map = 1;
			d.op = size == 1 ? 0xc0 : 0xc1;
			diff_modrm(&d, &c.in, size, -1, mem, 0);
			if (mem && diff_rand_below(2))
				diff_prefix(&d, 0xf0);
			break;
		case 3:         /* CMPXCHG: equal half of the time */
			d.map = 1;
			d.op = size == 1 ? 0xb0 : 0xb1;
			addr = diff_modrm(&d, &c.in, size, -1, mem, 1u << R_AX);
			if (diff_rand_below(2)) {
				uint64_t v = mem ? diff_rand_value(size) : diff_reg_value(&c.in, &d, d.rm, size);

				if (mem)
					diff_mem_set_value(addr, v, size);
				if (size == 1)
					c.in.gpr[R_AX] = (c.in.gpr[R_AX] & ~0xffull) | v;
				else
					c.in.gpr[R_AX] = v;
			}
			if (mem && diff_rand_below(2))
				diff_prefix(&d, 0xf0);
			break;
		default:        /* BSWAP r32/r64 (r16 is undefined: see below) */
			size = diff_rand_below(8) ? (diff_rand_below(2) ? 4 : 8) : 2;
			diff_size_prefix(&d, size);
			if (diff_rand_below(2))
				d.rex |= 0x41;
			d.map = 1;
			d.op = (uint8_t)(0xc8 + diff_rand_below(8));
			break;
		}
		diff_check("exchange", &d, &c);
	}
	done();
}

/* CBW/CWDE/CDQE, CWD/CDQ/CQO; LAHF/SAHF; CLC/STC/CMC/CLD/STD. */
static void alu_misc(void **state)
{
	static const uint8_t ops[] = { 0x98, 0x99, 0x9e, 0x9f, 0xf5, 0xf8, 0xf9, 0xfc, 0xfd };
	unsigned n = diff_ncases(2000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;

		diff_new_case(&d, &c);
		d.op = ops[diff_rand_below(sizeof(ops))];
		diff_size_prefix(&d, diff_rand_wide_size());
		diff_check("misc", &d, &c);
	}
	done();
}

/* SETcc r/m8 and CMOVcc (a false 32-bit CMOV still zero-extends). */
static void alu_conditions(void **state)
{
	unsigned n = diff_ncases(4000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		bool mem = diff_rand_below(2);

		diff_new_case(&d, &c);
		d.map = 1;
		if (diff_rand_below(2)) {
			d.op = (uint8_t)(0x90 + diff_rand_below(16));
			diff_modrm(&d, &c.in, 1, (int)diff_rand_below(8), mem, 0);
		} else {
			d.op = (uint8_t)(0x40 + diff_rand_below(16));
			diff_modrm(&d, &c.in, diff_rand_wide_size(), -1, mem, 0);
		}
		diff_check("setcc/cmovcc", &d, &c);
	}
	done();
}

/* PUSH/POP r (50+r/58+r, with REX.B, 16-bit with 66), PUSH imm (68/6A),
 * PUSH r/m (FF /6), POP r/m (8F /0, including [rsp+disp], which sees rSP
 * after the pop). */
static void alu_stack(void **state)
{
	unsigned n = diff_ncases(4000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		unsigned form = (unsigned)diff_rand_below(6);
		unsigned size = diff_rand_below(4) ? 8 : 2;

		diff_new_case(&d, &c);
		c.in.gpr[R_SP] = DIFF_DATA_BASE + 64 + diff_rand_below(DIFF_DATA_SIZE - 128);
		if (size == 2)
			diff_prefix(&d, 0x66);
		switch (form) {
		case 0:
		case 1:
			if (diff_rand_below(2))
				d.rex |= 0x41;
			d.op = (uint8_t)((form ? 0x58 : 0x50) + diff_rand_below(8));
			break;
		case 2:
			if (diff_rand_below(2)) {
				d.op = 0x6a;
				d.imm_len = 1;
			} else {
				d.op = 0x68;
				d.imm_len = size == 2 ? 2 : 4;
			}
			d.imm = diff_rand_value(d.imm_len);
			break;
		case 3:         /* PUSH r/m (64-bit by default: no REX.W) */
			d.op = 0xff;
			diff_modrm_operands(&d, &c.in, size, 6, diff_rand_below(2), 1u << R_SP);
			break;
		case 4:         /* POP r/m */
			d.op = 0x8f;
			diff_modrm_operands(&d, &c.in, size, 0, diff_rand_below(2), 1u << R_SP);
			break;
		default:        /* POP [rsp + disp8] */
			d.op = 0x8f;
			d.modrm = true;
			d.mem = true;
			d.base = R_SP;
			d.index = DIFF_NONE;
			d.scale = 1;
			d.disp = (int32_t)diff_rand_below(48) - 16;
			d.disp_len = 1;
			break;
		}
		diff_check("push/pop", &d, &c);
	}
	done();
}

/* NOP, PAUSE, multi-byte NOPs and hints (whose memory is not accessed),
 * XLAT. */
static void alu_nop_xlat(void **state)
{
	unsigned n = diff_ncases(1000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		unsigned form = (unsigned)diff_rand_below(4);

		diff_new_case(&d, &c);
		switch (form) {
		case 0:
			d.op = 0x90;
			if (diff_rand_below(2))
				diff_prefix(&d, 0xf3);
			break;
		case 1:
			d.map = 1;
			d.op = 0x1f;
			diff_modrm(&d, &c.in, diff_rand_wide_size(), 0, true, 0);
			break;
		case 2:         /* PREFETCHh / reserved hints 0F 18-1E */
			d.map = 1;
			d.op = (uint8_t)(0x18 + (diff_rand_below(2) ? 0 : 7));
			diff_modrm(&d, &c.in, 4, (int)diff_rand_below(4), true, 0);
			break;
		default:        /* XLAT: AL = [rBX + AL] */
			d.op = 0xd7;
			c.in.gpr[R_BX] = DIFF_DATA_BASE + diff_rand_below(DIFF_DATA_SIZE - 256);
			break;
		}
		diff_check("nop/xlat", &d, &c);
	}
	done();
}

/* Forms that must raise #UD (not run natively): LOCK on a register
 * operand or a non-RMW instruction, LOCK on CMP/TEST/MOV, UD2. */
static void alu_ud(void **state)
{
	static const uint8_t lock_reg[][3] = {
		{ 0xf0, 0x01, 0xc0 },   /* lock add eax, eax */
		{ 0xf0, 0x87, 0xc1 },   /* lock xchg ecx, eax */
		{ 0xf0, 0xff, 0xc0 },   /* lock inc eax */
		{ 0xf0, 0x39, 0x00 },   /* lock cmp [rax], eax */
		{ 0xf0, 0x89, 0x00 },   /* lock mov [rax], eax */
		{ 0xf0, 0x85, 0x00 },   /* lock test [rax], eax */
		{ 0xf0, 0x03, 0x00 },   /* lock add eax, [rax] */
		{ 0x0f, 0x0b, 0x90 },   /* ud2 */
		{ 0xf0, 0x90, 0x90 },   /* lock nop */
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(lock_reg) / sizeof(lock_reg[0]); i++) {
		struct diff_case c;

		memset(&c, 0, sizeof(c));
		diff_rand_regs(&c.in);
		c.in.gpr[R_AX] = DIFF_DATA_BASE + 64;
		memcpy(c.code, lock_reg[i], 3);
		c.len = lock_reg[i][0] == 0x0f || lock_reg[i][1] == 0x90 ? 2 : 3;
		c.vector = EMU_VEC_UD;
		diff_run("#UD", &c);
	}
	done();
}

/* 32-bit code (compatibility mode natively; see diff_mode32): the classic
 * operations with 32- and 16-bit addressing, INC/DEC 40-4F, PUSH/POP and
 * PUSHA/POPA on a 32-bit stack, the BCD adjustments, ARPL, XLAT, moffs16,
 * LEA. */
static void alu_mode32(void **state)
{
	unsigned n = diff_ncases(8000);

	(void)state;
	if (!diff_mode32(true)) {
		skip();
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_case c;
		unsigned form = (unsigned)diff_rand_below(10), size = diff_rand_size();
		bool mem = diff_rand_below(2);
		const char *what = "mode32";

		diff_new_case(&d, &c);
		/* A 32-bit stack inside the window (SS is based at it). */
		c.in.gpr[R_SP] = (diff_rand() << 32) | (0x100 + diff_rand_below(DIFF_DATA_SIZE - 0x200));
		switch (form) {
		case 0:         /* ALU r/m forms */
		case 1: {
			unsigned op = (unsigned)diff_rand_below(8), dir = (unsigned)diff_rand_below(2);

			d.op = (uint8_t)(op << 3 | dir << 1 | (size != 1));
			diff_modrm(&d, &c.in, size, -1, mem, 1u << R_SP);
			if (op == 1 || op == 4 || op == 6)
				c.flags = LOGIC | EMU_DF;
			if (mem && dir == 0 && op != 7 && diff_rand_below(4) == 0)
				diff_prefix(&d, 0xf0);
			what = "mode32 alu";
			break;
		}
		case 2:         /* INC/DEC r (40-4F) */
			diff_size_prefix(&d, diff_rand_wide_size());
			d.op = (uint8_t)(0x40 + diff_rand_below(16));
			what = "inc/dec r";
			break;
		case 3:         /* PUSH/POP r, PUSHA/POPA */
			diff_size_prefix(&d, diff_rand_wide_size());
			d.op = (uint8_t)(diff_rand_below(3) ? 0x50 + diff_rand_below(16) : 0x60 + diff_rand_below(2));
			what = "push/pop/pusha/popa";
			break;
		case 4: {       /* DAA DAS AAA AAS */
			static const uint8_t bcd[] = { 0x27, 0x2f, 0x37, 0x3f };

			d.op = bcd[diff_rand_below(4)];
			c.flags = d.op < 0x30 ? EMU_ARITH_FLAGS & ~EMU_OF : EMU_AF | EMU_CF;
			c.flags |= EMU_DF;
			what = "daa/das/aaa/aas";
			break;
		}
		case 5:         /* AAM/AAD imm8 (AAM 0: #DE) */
			d.op = (uint8_t)(0xd4 + diff_rand_below(2));
			d.imm = diff_rand_below(8) ? diff_rand_below(256) : (diff_rand_below(2) ? 10 : 0);
			d.imm_len = 1;
			c.flags = EMU_SF | EMU_ZF | EMU_PF | EMU_DF;
			if (d.op == 0xd4 && d.imm == 0)
				c.vector = EMU_VEC_DE;
			what = "aam/aad";
			break;
		case 6:         /* ARPL r/m16, r16 */
			d.op = 0x63;
			diff_modrm_operands(&d, &c.in, 2, -1, mem, 1u << R_SP);
			c.flags = EMU_ZF | EMU_DF;
			what = "arpl";
			break;
		case 7:         /* XLAT, with 16-bit addressing now and then */
			d.op = 0xd7;
			if (diff_rand_below(2)) {
				diff_prefix(&d, 0x67);
				c.in.gpr[R_BX] = (diff_rand() << 16) | diff_rand_below(DIFF_DATA_SIZE - 256);
			} else {
				c.in.gpr[R_BX] = (diff_rand() << 32) | diff_rand_below(DIFF_DATA_SIZE - 256);
			}
			what = "xlat";
			break;
		case 8: {       /* MOV moffs32 / moffs16 */
			uint64_t addr = diff_rand_addr(size, 1);

			diff_size_prefix(&d, size);
			if (diff_rand_below(2)) {
				diff_prefix(&d, 0x67);
				d.imm_len = 2;
			} else {
				d.imm_len = 4;
			}
			d.imm = addr - DIFF_DATA_BASE;
			d.op = (uint8_t)(0xa0 | diff_rand_below(2) << 1 | (size != 1));
			diff_mem_set_value(addr, diff_rand_value(size), size);
			what = "moffs";
			break;
		}
		default:        /* LEA, MOV with any addressing */
			size = diff_rand_wide_size();
			d.op = diff_rand_below(2) ? 0x8d : 0x8b;
			diff_modrm(&d, &c.in, size, -1, true, 1u << R_SP);
			what = "lea/mov";
			break;
		}
		diff_check(what, &d, &c);
	}
	diff_mode32(false);
	done();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(alu_modrm),
		cmocka_unit_test(alu_acc_imm),
		cmocka_unit_test(alu_grp1),
		cmocka_unit_test(alu_test),
		cmocka_unit_test(alu_unary),
		cmocka_unit_test(alu_mov),
		cmocka_unit_test(alu_moffs),
		cmocka_unit_test(alu_exchange),
		cmocka_unit_test(alu_misc),
		cmocka_unit_test(alu_conditions),
		cmocka_unit_test(alu_stack),
		cmocka_unit_test(alu_nop_xlat),
		cmocka_unit_test(alu_ud),
		cmocka_unit_test(alu_mode32),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
