/* The x87 FPU: the escape opcodes D8-DF and FWAIT. Every numeric
 * instruction (arithmetic, compares, loads and stores in every format,
 * constants, transcendentals, FXCH/FFREE/FCMOVcc and the rest) runs on the
 * host's own x87 unit, see x87.h; the control instructions that only move
 * state (FNINIT, FNCLEX, FLDCW, FNSTCW, FNSTSW, FLDENV, FNSTENV, FNSAVE,
 * FRSTOR) are in x87_env.c.
 *
 * Sources: Intel SDM vol. 1 ch. 8 (the x87 FPU), vol. 2 (each
 * instruction) and appendix A (the escape opcode maps); AMD APM vol. 5. */
#include <string.h>

#include "flags.h"
#include "mem.h"
#include "operand.h"
#include "x87.h"

void x87_check_pending(struct emu_cpu *cpu)
{
	if ((cpu->fpu.fsw & FSW_ES) && (cpu->cr0 & EMU_CR0_NE))
		emu_raise(cpu, EMU_VEC_MF, false, 0);
}

/* The tag of a non-empty register: 0 valid, 1 zero, 2 special. */
static unsigned tag_of(uint64_t mant, uint16_t exp)
{
	exp &= 0x7fff;
	if (exp == 0x7fff)
		return 2;
	if (exp == 0)
		return mant ? 2 : 1;
	return (mant >> 63) ? 0 : 2;            /* no integer bit: unnormal */
}

uint16_t emu_x87_tag_word(const struct emu_fpu *f)
{
	uint16_t tw = 0;

	for (unsigned r = 0; r < 8; r++) {
		unsigned tag = ((f->ftw >> r) & 1) ? tag_of(f->st[r].mant, f->st[r].exp) : 3;

		tw |= (uint16_t)(tag << (2 * r));
	}
	return tw;
}

/* ---- the host's x87 unit ------------------------------------------------ */

/* One instruction on the host FPU. In: an FNSAVE image (32-bit layout)
 * holding the guest's control word and condition codes, TOP = 6, and in
 * the host's physical registers 6 (ST(0)), 7 (ST(1)) and 5 (ST(7)) the
 * guest's ST(0), the other register the instruction names and ST(7) (the
 * one a push lands in), valid or empty as the guest has them; the RFLAGS
 * bits FCMOVcc looks at (in LAHF form); a memory operand. Out: the host's
 * FNSAVE image after the instruction, the memory operand, and ZF/PF/CF
 * (FCOMI and friends). */
struct x87_host {
	uint8_t in[108];
	struct { uint8_t b[16]; } mem;
	uint8_t save[108];
	uint16_t host_cw;
	uint8_t ah;
	bool zf, pf, cf;
};

/* The instruction itself: escape byte D8 + e and ModRM m, memory operands
 * addressed as [rdi] (ModRM 00 reg 111) pointing at mem. SAHF first gives
 * FCMOVcc its flags; the flags the instruction leaves come out. */
#define XOP(e, m)                                                                  \
	case (e) << 8 | (m):                                                       \
		__asm__ volatile("sahf\n\t.byte 0xd8 + %c[esc], %c[modrm]"          \
				 : "=@ccz"(zf), "=@ccp"(pf), "=@ccc"(cf), "+m"(h->mem)     \
				 : [esc] "i"(e), [modrm] "i"(m), "a"(ah), "D"(h->mem.b));  \
		break;
#define XM8(e) XOP(e, 0x07) XOP(e, 0x0f) XOP(e, 0x17) XOP(e, 0x1f) \
	       XOP(e, 0x27) XOP(e, 0x2f) XOP(e, 0x37) XOP(e, 0x3f)
#define XR8(e, r) XOP(e, (r) + 0) XOP(e, (r) + 1) XOP(e, (r) + 2) XOP(e, (r) + 3) \
		  XOP(e, (r) + 4) XOP(e, (r) + 5) XOP(e, (r) + 6) XOP(e, (r) + 7)
#define XESC(e) XM8(e) XR8(e, 0xc0) XR8(e, 0xc8) XR8(e, 0xd0) XR8(e, 0xd8) \
		XR8(e, 0xe0) XR8(e, 0xe8) XR8(e, 0xf0) XR8(e, 0xf8)

/* Run instruction key (escape << 8 | ModRM) on the host. The host FPU is
 * empty here (the ABI leaves it so at calls, and this function holds no
 * long double); FRSTOR loads the guest's part into it (unlike loading the
 * registers one by one, this leaves the condition codes as given), FNSAVE
 * takes the result out and empties it again, and the host's control word
 * is put back. No host instruction between the two is an x87 one, so
 * splitting this into three asm statements is safe. */
static __attribute__((noinline)) void host_run(struct x87_host *h, unsigned key)
{
	uint64_t ah = (uint64_t)h->ah << 8;
	bool zf = false, pf = false, cf = false;

	__asm__ volatile("fnstcw %[hcw]\n\tfrstor %[in]"
			 : [hcw] "=m"(h->host_cw) : [in] "m"(h->in));
	switch (key) {
	XESC(0) XESC(1) XESC(2) XESC(3) XESC(4) XESC(5) XESC(6) XESC(7)
	}
	__asm__ volatile("fnsave %[out]\n\tfldcw %[hcw]"
			 : [out] "=m"(h->save) : [hcw] "m"(h->host_cw));
	h->zf = zf;
	h->pf = pf;
	h->cf = cf;
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

/* Host physical register p after the run: into guest physical register r. */
static void take_reg(struct emu_fpu *f, unsigned r, const struct x87_host *h, unsigned p)
{
	uint16_t sw = get16(h->save + 4), tw = get16(h->save + 8);
	const uint8_t *src = h->save + 28 + 10 * ((p - x87_top_of(sw)) & 7);

	memcpy(&f->st[r].mant, src, 8);
	memcpy(&f->st[r].exp, src + 8, 2);
	if (((tw >> (2 * p)) & 3) == 3)
		f->ftw &= (uint8_t)~(1u << r);
	else
		f->ftw |= (uint8_t)(1u << r);
}

/* Guest physical register r into host register p (of TOP 6) of the image,
 * with its tag. */
static void give_reg(struct x87_host *h, const struct emu_fpu *f, unsigned r, unsigned p)
{
	uint8_t *dst = h->in + 28 + 10 * ((p - 6) & 7);
	uint16_t tw;
	unsigned tag = 3;

	memcpy(dst, &f->st[r].mant, 8);
	memcpy(dst + 8, &f->st[r].exp, 2);
	if ((f->ftw >> r) & 1)
		tag = tag_of(f->st[r].mant, f->st[r].exp);
	memcpy(&tw, h->in + 8, 2);
	tw = (uint16_t)((tw & ~(3u << (2 * p))) | tag << (2 * p));
	memcpy(h->in + 8, &tw, 2);
}

/* ---- numeric instructions ------------------------------------------------ */

/* How an instruction uses the host. */
enum x87_form {
	XF_UD,          /* undefined */
	XF_STI,         /* names ST(i) (ModRM.rm) besides ST(0) */
	XF_FIXED,       /* implicit ST(0)/ST(1) only */
	XF_LOAD,        /* memory source of msize bytes */
	XF_STORE,       /* memory destination of msize bytes */
	XF_CONTROL,     /* x87_env.c, or handled in x87_dispatch */
};

/* Memory forms: [escape][digit] -> form, and the operand size. */
static const uint8_t mem_form[8][8] = {
	{ XF_LOAD, XF_LOAD, XF_LOAD, XF_LOAD, XF_LOAD, XF_LOAD, XF_LOAD, XF_LOAD },
	{ XF_LOAD, XF_UD, XF_STORE, XF_STORE, XF_CONTROL, XF_CONTROL, XF_CONTROL, XF_CONTROL },
	{ XF_LOAD, XF_LOAD, XF_LOAD, XF_LOAD, XF_LOAD, XF_LOAD, XF_LOAD, XF_LOAD },
	{ XF_LOAD, XF_STORE, XF_STORE, XF_STORE, XF_UD, XF_LOAD, XF_UD, XF_STORE },
	{ XF_LOAD, XF_LOAD, XF_LOAD, XF_LOAD, XF_LOAD, XF_LOAD, XF_LOAD, XF_LOAD },
	{ XF_LOAD, XF_STORE, XF_STORE, XF_STORE, XF_CONTROL, XF_UD, XF_CONTROL, XF_CONTROL },
	{ XF_LOAD, XF_LOAD, XF_LOAD, XF_LOAD, XF_LOAD, XF_LOAD, XF_LOAD, XF_LOAD },
	{ XF_LOAD, XF_STORE, XF_STORE, XF_STORE, XF_LOAD, XF_LOAD, XF_STORE, XF_STORE },
};

static const uint8_t mem_size[8][8] = {
	{ 4, 4, 4, 4, 4, 4, 4, 4 },             /* D8: m32fp */
	{ 4, 0, 4, 4, 0, 0, 0, 0 },             /* D9: FLD/FST/FSTP m32fp */
	{ 4, 4, 4, 4, 4, 4, 4, 4 },             /* DA: m32int */
	{ 4, 4, 4, 4, 0, 10, 0, 10 },           /* DB: m32int, FLD/FSTP m80 */
	{ 8, 8, 8, 8, 8, 8, 8, 8 },             /* DC: m64fp */
	{ 8, 8, 8, 8, 0, 0, 0, 0 },             /* DD: FLD/FISTTP/FST/FSTP m64 */
	{ 2, 2, 2, 2, 2, 2, 2, 2 },             /* DE: m16int */
	{ 2, 2, 2, 2, 10, 8, 10, 8 },           /* DF: m16int, FBLD/FBSTP, m64int */
};

/* Register forms (ModRM C0-FF). */
static enum x87_form reg_form(unsigned esc, unsigned modrm)
{
	unsigned row = modrm & 0xf8;

	switch (esc) {
	case 0:
	case 4:
		return XF_STI;
	case 1:
		if (row == 0xc0 || row == 0xc8 || row == 0xd8)  /* FLD, FXCH, FSTP1 */
			return XF_STI;
		switch (modrm) {
		case 0xd0: case 0xe0: case 0xe1: case 0xe4: case 0xe5:
		case 0xe8: case 0xe9: case 0xea: case 0xeb: case 0xec: case 0xed: case 0xee:
			return XF_FIXED;
		}
		return modrm >= 0xf0 ? XF_FIXED : XF_UD;
	case 2:
		if (row <= 0xd8)                                /* FCMOVB/E/BE/U */
			return XF_STI;
		return modrm == 0xe9 ? XF_FIXED : XF_UD;        /* FUCOMPP */
	case 3:
		if (row <= 0xd8 || row == 0xe8 || row == 0xf0)  /* FCMOVNcc, FUCOMI, FCOMI */
			return XF_STI;
		return modrm <= 0xe4 ? XF_CONTROL : XF_UD;      /* FNENI..FNSETPM */
	case 5:
		return row <= 0xe8 ? XF_STI : XF_UD;            /* FFREE..FUCOMP */
	case 6:
		if (row == 0xd8)
			return modrm == 0xd9 ? XF_FIXED : XF_UD;    /* FCOMPP */
		return XF_STI;
	default:
		if (row <= 0xd8 || row == 0xe8 || row == 0xf0)  /* FFREEP..FSTP9, FUCOMIP, FCOMIP */
			return XF_STI;
		return modrm == 0xe0 ? XF_CONTROL : XF_UD;      /* FNSTSW AX */
	}
}

/* Run one numeric instruction. bi: which ST(i) goes to the host as b
 * (ModRM.rm for ST(i) forms, 1 for the implicit ST(1) of FPATAN, FPREM,
 * FCOMPP...). A memory source is read before anything changes; a
 * destination is written before the FPU state is, so that a fault leaves
 * no trace. */
static void x87_numeric(struct emu_cpu *cpu, const struct insn *insn, enum x87_form form,
			unsigned msize)
{
	struct emu_fpu *f = &cpu->fpu;
	unsigned esc = insn->op & 7, modrm = (unsigned)insn->mod << 6 | (insn->reg & 7) << 3 |
					     (insn->rm & 7);
	unsigned top = x87_top_of(f->fsw), bi = 1, hmodrm = modrm, seg = 0, htop;
	uint64_t ea = 0;
	struct x87_host h;
	uint16_t hsw;

	x87_check_pending(cpu);
	memset(&h, 0, sizeof(h));
	if (form == XF_LOAD || form == XF_STORE) {
		seg = exec_ea_seg(insn);
		ea = exec_ea(cpu, insn);
		hmodrm = (modrm & 0x38) | 0x07;         /* [rdi] */
		if (form == XF_LOAD)
			emu_read_bytes(cpu, seg, ea, h.mem.b, msize);
	} else if (form == XF_STI) {
		bi = modrm & 7;
		hmodrm = (modrm & 0xf8) | (bi ? 1 : 0);
	}
	/* The environment: control word, condition codes with TOP 6 and no
	 * flags, every register empty but the three. */
	{
		uint32_t env[7] = { 0xffff0000u | f->fcw, 0xffff0000u | (f->fsw & FSW_CC) | 6u << 11,
				    0xffffffffu, 0, 0, 0, 0xffff0000u };

		memcpy(h.in, env, sizeof(env));
	}
	give_reg(&h, f, (top + 7) & 7, 5);
	give_reg(&h, f, (top + bi) & 7, 7);
	give_reg(&h, f, top, 6);
	h.ah = 0x02;
	if (esc == 2 || esc == 3)
		h.ah |= (uint8_t)(emu_get_rflags(cpu) & (EMU_CF | EMU_PF | EMU_ZF));
	host_run(&h, esc << 8 | hmodrm);
	hsw = get16(h.save + 4);

	if (form == XF_STORE) {
		bool stored = true;

		/* An unmasked exception may or may not leave the destination
		 * unwritten (invalid, overflow and underflow do; precision
		 * does not): run again over a different buffer to see which. */
		if (hsw & FSW_ES) {
			struct x87_host again = h;

			memset(&again.mem, 0xff, sizeof(again.mem));
			host_run(&again, esc << 8 | hmodrm);
			stored = memcmp(h.mem.b, again.mem.b, msize) == 0;
		}
		if (stored)
			emu_write_bytes(cpu, seg, ea, h.mem.b, msize);
	}

	/* The host's physical registers 7, 6, 5 are the guest's ST(bi), ST(0)
	 * and ST(7) of before; its TOP moved from 6 as the guest's moves. The
	 * pushed register goes last, as ST(7) may be ST(bi) too. */
	htop = x87_top_of(hsw);
	if (bi != 0)
		take_reg(f, (top + bi) & 7, &h, 7);
	take_reg(f, top, &h, 6);
	if (htop == 5)
		take_reg(f, (top + 7) & 7, &h, 5);
	f->fsw = (uint16_t)((f->fsw & ~FSW_CC) | (hsw & (FSW_CC | FSW_EXC | FSW_SF | FSW_ES | FSW_B)));
	x87_set_top(f, top + htop - 6);
	if ((esc == 3 || esc == 7) && modrm >= 0xe8 && modrm < 0xf8) {
		/* FUCOMI/FCOMI(P): the result in ZF PF CF, OF SF AF cleared. */
		emu_set_arith_flags(cpu, EMU_ARITH_FLAGS,
				    (h.zf ? EMU_ZF : 0) | (h.pf ? EMU_PF : 0) | (h.cf ? EMU_CF : 0));
	}

	/* The last non-control instruction: its address and opcode, and its
	 * memory operand's offset when it has one. */
	f->fop = (uint16_t)(esc << 8 | modrm);
	f->fip = cpu->rip;
	if (form == XF_LOAD || form == XF_STORE)
		f->fdp = ea;
	exec_advance(cpu, insn);
}

/* D8-DF. */
static void x87_dispatch(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned esc = insn->op & 7, digit = insn->reg & 7;
	unsigned modrm = 0xc0 | digit << 3 | (insn->rm & 7);
	struct emu_fpu *f = &cpu->fpu;
	enum x87_form form;

	exec_no_lock(cpu, insn);
	form = insn->mod != 3 ? (enum x87_form)mem_form[esc][digit] : reg_form(esc, modrm);
	if (form == XF_UD)
		emu_raise_ud(cpu);
	if (cpu->cr0 & (EMU_CR0_EM | EMU_CR0_TS))
		emu_raise(cpu, EMU_VEC_NM, false, 0);
	if (form != XF_CONTROL) {
		x87_numeric(cpu, insn, form, insn->mod != 3 ? mem_size[esc][digit] : 0);
		return;
	}
	if (insn->mod != 3) {
		x87_control_mem(cpu, insn, esc, digit);
		return;
	}
	/* The register-form control instructions: none waits. */
	if (esc == 7)                           /* DF E0 FNSTSW AX */
		exec_set_reg(cpu, insn, 0, 2, f->fsw);
	else if (modrm == 0xe2)                 /* DB E2 FNCLEX */
		f->fsw &= (uint16_t)~(FSW_EXC | FSW_SF | FSW_ES | FSW_B);
	else if (modrm == 0xe3)                 /* DB E3 FNINIT */
		x87_init(f);
	/* else DB E0 E1 E4 (FNENI, FNDISI, FNSETPM): 8087/287 leftovers,
	 * no-ops since the 387. */
	exec_advance(cpu, insn);
}

/* 9B FWAIT: #NM only when CR0.MP and CR0.TS are both set; then any
 * pending unmasked exception. */
static void op_fwait(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	if ((cpu->cr0 & (EMU_CR0_MP | EMU_CR0_TS)) == (EMU_CR0_MP | EMU_CR0_TS))
		emu_raise(cpu, EMU_VEC_NM, false, 0);
	x87_check_pending(cpu);
	exec_advance(cpu, insn);
}

/* 0F 77 EMMS: the one MMX instruction the core runs (the rest of MMX is
 * not implemented and CPUID does not advertise it). Linux executes it on
 * AMD CPUs when it restores FPU state, to clear the x87 pointers the AMD
 * FXSAVE leaks. It empties every x87 register's tag and, as AMD CPUs do
 * (the host measured by the differential tests), sets TOP to 0. */
static void op_emms(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	if (insn->sse_prefix != SSE_NONE)
		emu_raise_ud(cpu);
	if (cpu->cr0 & EMU_CR0_EM)
		emu_raise_ud(cpu);
	if (cpu->cr0 & EMU_CR0_TS)
		emu_raise(cpu, EMU_VEC_NM, false, 0);
	x87_check_pending(cpu);
	cpu->fpu.ftw = 0;
	cpu->fpu.fsw &= (uint16_t)~(7u << 11);
	exec_advance(cpu, insn);
}

void exec_register_x87(struct exec_table *t)
{
	exec_fn *p = t->fn[MAP_PRIMARY];

	for (unsigned op = 0xd8; op <= 0xdf; op++)
		p[op] = x87_dispatch;
	p[0x9b] = op_fwait;
	t->fn[MAP_0F][0x77] = op_emms;
}
