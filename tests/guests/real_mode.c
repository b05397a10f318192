/* real-mode: from the 64-bit guest down to real mode and back (long mode
 * -> compatibility mode -> 32-bit protected mode without paging -> 16-bit
 * protected mode -> real mode, then up the same way; real_mode.S). On the
 * way: a store through a 16-bit protected-mode data segment with a base;
 * in real mode: FS keeping the 4 GiB limit it had in protected mode ("big
 * real mode"), #GP through the IVT beyond DS's 64 KiB limit, segment
 * bases from selectors << 4 (DS/ES/FS/GS/SS, an
 * alias seg:off of the same byte, 16-bit offset wrap-around), a far call
 * with another CS for the same code and a retf popping arguments, 16-bit
 * rep movsb between segments, rep movsw backwards, SI wrapping at 64 KiB,
 * 16-bit pushf/popf and pushfl, lgdt/sgdt/sidt (a 16-bit lgdt loads only
 * 24 bits of base), int $0x42 through the IVT to a handler installed at
 * a low address and iret back, and #DE through IVT entry 0. Everything is
 * checked back in long mode, along with the state of the machine there
 * (paging, EFER.LMA, CS, the GDT/IDT/GS base the runtime needs,
 * exceptions delivered again).
 *
 * The PVM flavour of KVM cannot emulate INT n at CPL 0 in protected mode,
 * but real mode is fine: its emulator has a real-mode path. */
#include "guest.h"
#include "real_mode.h"

extern uint8_t rm_blob[], rm_blob_end[], rm_res[], rm_saved_rsp[], rm_saved_gsbase[], rt_gdtr[],
	rt_idtr[], rm_gdtr[], rm_after_lcall[], rm_after_int[], rm_de_insn[],
	rm_int42[], rm_de_handler[], rm_gp_handler[], rm_gp_insn[];
uint64_t rm_roundtrip(void);

#define FL_CF 0x0001
#define FL_TF 0x0100
#define FL_IF 0x0200

static uint8_t *low(const uint8_t *sym) { return phys(RM_LOW + (uint64_t)(sym - rm_blob)); }
static uint16_t off(const uint8_t *sym) { return (uint16_t)(sym - rm_blob); }
static uint16_t res16(unsigned o) { uint16_t v; memcpy(&v, low(rm_res) + o, 2); return v; }
static uint32_t res32(unsigned o) { uint32_t v; memcpy(&v, low(rm_res) + o, 4); return v; }
static uint16_t mem16(uint64_t a) { return *(volatile uint16_t *)phys(a); }

static volatile unsigned ud_hits;
static void on_ud(struct irq_frame *f)
{
	ud_hits++;
	f->rip += 2;
}

int guest_main(void)
{
	size_t size = (size_t)(rm_blob_end - rm_blob);
	uint64_t gs_base = rdmsr(MSR_GS_BASE);

	checks_begin("real-mode", 0xC0);
	note("trip code: %zu bytes at %#x (real-mode CS %#x)", size, RM_LOW, RM_SEG);

	memcpy(phys(RM_LOW), rm_blob, size);
	__asm__ volatile("sgdt %0" :: "m"(*low(rt_gdtr)) : "memory");
	__asm__ volatile("sidt %0" :: "m"(*low(rt_idtr)) : "memory");
	memcpy(low(rm_saved_gsbase), &gs_base, 8);

	/* the IVT entries the real-mode part uses: #DE and 0x42 */
	uint32_t ivt_de = ((uint32_t)RM_SEG << 16) | off(rm_de_handler);
	uint32_t ivt_42 = ((uint32_t)RM_SEG << 16) | off(rm_int42);
	memcpy(phys(0x0), &ivt_de, 4);
	memcpy(phys(0x42 * 4), &ivt_42, 4);
	uint32_t ivt_gp = ((uint32_t)RM_SEG << 16) | off(rm_gp_handler);
	memcpy(phys(13 * 4), &ivt_gp, 4);
	*(volatile uint32_t *)phys(BIG_REAL_ADDR) = 0;

	/* data for the string copies, and clean destinations */
	for (unsigned i = 0; i < 128; i++)
		*(volatile uint8_t *)phys(0x55010 + i) = (uint8_t)(0x30 + i * 7);
	memset(phys(0x56000), 0, 0x200);
	memset(phys(0x57000), 0, 0x200);
	memset(phys(0x59000), 0, 0x10);
	memcpy(phys(0x67FFC), "WXYZ", 4);
	memcpy(phys(0x58000), "abcd", 4);
	memset(phys(0x50000), 0, 0x40);
	memset(phys(0x51240), 0, 0x20);
	memset(phys(0x52360), 0, 0x20);
	memset(phys(0x53FF0), 0, 0x10);
	memset(phys(0x54000), 0, 0x40);
	memset(phys(0x5A000), 0, 0x20);

	rm_roundtrip();

	/* ---- back in long mode ---- */
	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	check((read_cr0() & (CR0_PG | CR0_PE)) == (CR0_PG | CR0_PE) && (rdmsr(MSR_EFER) & EFER_LMA) &&
	      cs == SEL_CODE64 && rdmsr(MSR_GS_BASE) == gs_base && this_cpu()->index == 0,
	      "back in 64-bit mode: CR0 %#lx, EFER %#lx, CS %#x, GS base restored",
	      (unsigned long)read_cr0(), (unsigned long)rdmsr(MSR_EFER), cs);
	set_handler(6, on_ud);
	__asm__ volatile("ud2" ::: "memory");
	check(ud_hits == 1, "exceptions are delivered through the runtime's IDT again");
	check(res16(RES_REACHED) == 1 && res16(RES_DONE) == 1, "the real-mode code ran to its end");

	/* 16-bit protected mode */
	check(mem16(0x5A010) == 0xF66F, "16-bit protected mode: store through a data segment with "
	      "base 0x5a000 landed at 0x5a010 (%#x)", mem16(0x5A010));

	/* segment limits */
	check(*(volatile uint32_t *)phys(BIG_REAL_ADDR) == 0x7E57BEEF && res32(RES_BIG_READ) == 0x7E57BEEF,
	      "big real mode: FS keeps the 4 GiB limit from protected mode; %#x written and read "
	      "back at %#x", res32(RES_BIG_READ), BIG_REAL_ADDR);
	check(res16(RES_GP_COUNT) == 1 && res16(RES_GP_CS) == RM_SEG && res16(RES_GP_IP) == off(rm_gp_insn),
	      "offset 0x10000 beyond DS's 64 KiB limit: #GP through IVT entry 13, %u time(s), "
	      "CS:IP %#x:%#x (want %#x:%#x)", res16(RES_GP_COUNT), res16(RES_GP_CS), res16(RES_GP_IP),
	      RM_SEG, off(rm_gp_insn));

	/* segments */
	check(mem16(0x50010) == 0xA11A && mem16(0x51250) == 0xB22B && mem16(0x52370) == 0xC33C,
	      "ES/FS/GS stores at selector * 16 + offset (%#x %#x %#x)", mem16(0x50010),
	      mem16(0x51250), mem16(0x52370));
	check(res16(RES_ALIAS) == 0xA11A, "0x5001:0 reads the word at 0x5000:0x10 (%#x)", res16(RES_ALIAS));
	check(mem16(0x54020) == 0xE55E, "[bx+si] = 0xfff0 + 0x30 wraps to offset 0x20 (%#x at 0x54020)",
	      mem16(0x54020));
	check(mem16(0x53FFE) == 0xD44D && res16(RES_SP_PUSH) == 0x0FFE,
	      "push with SS 0x5300, SP 0x1000: the word at 0x53ffe, SP 0xffe (%#x, SP %#x)",
	      mem16(0x53FFE), res16(RES_SP_PUSH));

	/* far call */
	check(res16(RES_FAR_CS) == RM_SEG + 1 && res16(RES_FAR_CS_PUSHED) == RM_SEG &&
	      res16(RES_FAR_IP_PUSHED) == off(rm_after_lcall) && res16(RES_FAR_ARG) == 0x2222,
	      "far call: CS %#x in the callee (want %#x), return CS:IP %#x:%#x pushed (want %#x:%#x)",
	      res16(RES_FAR_CS), RM_SEG + 1, res16(RES_FAR_CS_PUSHED), res16(RES_FAR_IP_PUSHED),
	      RM_SEG, off(rm_after_lcall));
	check(res16(RES_FAR_RET) == 0x4242 &&
	      res16(RES_SP_AFTER_CALL) == (uint16_t)(res16(RES_SP_BEFORE_CALL) + 4),
	      "retf 4 came back and popped the two argument words (SP %#x -> %#x)",
	      res16(RES_SP_BEFORE_CALL), res16(RES_SP_AFTER_CALL));

	/* string copies */
	check(memcmp(phys(0x56020), phys(0x55010), 100) == 0 && res16(RES_MOVSB_SI) == 0x74 &&
	      res16(RES_MOVSB_DI) == 0x84 && res16(RES_MOVSB_CX) == 0,
	      "rep movsb 0x5500:0x10 -> 0x5600:0x20, 100 bytes (SI %#x DI %#x CX %#x)",
	      res16(RES_MOVSB_SI), res16(RES_MOVSB_DI), res16(RES_MOVSB_CX));
	check(memcmp(phys(0x57040), phys(0x55010), 64) == 0 && res16(RES_MOVSW_SI) == 0x0E &&
	      res16(RES_MOVSW_DI) == 0x3E && res16(RES_MOVSW_CX) == 0,
	      "std; rep movsw, 32 words backwards (SI %#x DI %#x CX %#x)",
	      res16(RES_MOVSW_SI), res16(RES_MOVSW_DI), res16(RES_MOVSW_CX));
	check(memcmp(phys(0x59000), "WXYZabcd", 8) == 0 && res16(RES_WRAP_SI) == 4 && res16(RES_WRAP_DI) == 8,
	      "rep movsb from 0x5800:0xfffc: SI wraps to 0 within the segment (SI %#x DI %#x)",
	      res16(RES_WRAP_SI), res16(RES_WRAP_DI));

	/* flags */
	check(res16(RES_FLAGS16) == 0x0CD7 && res16(RES_POPF_SPDIFF) == 0,
	      "16-bit popf/pushf: %#x (want 0xcd7), SP back where it was", res16(RES_FLAGS16));
	check(res16(RES_PUSHFL_SPDIFF) == 4 && (res32(RES_PUSHFL) & 0xFFFF) == 0x0002 &&
	      !(res32(RES_PUSHFL) & 0x30000),
	      "pushfl pushes 4 bytes: %#x (VM, RF clear)", res32(RES_PUSHFL));

	/* descriptor tables */
	uint8_t *sg = low(rm_res) + RES_SGDT, *si = low(rm_res) + RES_SIDT, *sg2 = low(rm_res) + RES_SGDT2;
	uint16_t lim, ilim, lim2;
	uint32_t base, ibase, base2, want_base2;
	memcpy(&lim, sg, 2);
	memcpy(&base, sg + 2, 4);
	memcpy(&ilim, si, 2);
	memcpy(&ibase, si + 2, 4);
	memcpy(&lim2, sg2, 2);
	memcpy(&base2, sg2 + 2, 4);
	memcpy(&want_base2, low(rm_gdtr) + 2, 4);
	check(lim == FAKE_GDT_LIMIT && base == (FAKE_GDT_BASE & 0xFFFFFF),
	      "16-bit lgdt in real mode loads a 24-bit base: sgdt gives %#x/%#x (want %#x/%#x)",
	      base, lim, FAKE_GDT_BASE & 0xFFFFFF, FAKE_GDT_LIMIT);
	check(ilim == 0x3FF && ibase == 0, "sidt in real mode: the IVT at 0, limit 0x3ff (%#x/%#x)", ibase, ilim);
	check(base2 == want_base2 && lim2 == 6 * 8 - 1, "32-bit lgdt in real mode: %#x/%#x", base2, lim2);

	uint16_t pushed = res16(RES_INT_FLAGS_PUSHED), inside = res16(RES_INT_FLAGS_INSIDE),
		 after = res16(RES_FLAGS_AFTER_INT);
	check(res16(RES_INT_COUNT) == 1 && res16(RES_INT_CS) == RM_SEG && res16(RES_INT_IP) == off(rm_after_int),
	      "int $0x42 through the IVT: handler ran %u time(s), pushed CS:IP %#x:%#x (want %#x:%#x)",
	      res16(RES_INT_COUNT), res16(RES_INT_CS), res16(RES_INT_IP), RM_SEG, off(rm_after_int));
	check((pushed & (FL_CF | FL_IF)) == (FL_CF | FL_IF) && !(inside & (FL_IF | FL_TF)),
	      "int pushed FLAGS %#x (CF, IF set) and cleared IF/TF in the handler (%#x)", pushed, inside);
	check((after & (FL_CF | FL_IF)) == (FL_CF | FL_IF) && res16(RES_INT_AX) == 0x4242 &&
	      res16(RES_SP_AFTER_INT) == res16(RES_SP_BEFORE_INT),
	      "iret restored FLAGS (%#x), AX from the handler %#x, SP balanced", after, res16(RES_INT_AX));
	check(res16(RES_DE_COUNT) == 1 && res16(RES_DE_CS) == RM_SEG && res16(RES_DE_IP) == off(rm_de_insn),
	      "div by 0: #DE through IVT entry 0, %u time(s), CS:IP %#x:%#x (want the div at %#x:%#x)",
	      res16(RES_DE_COUNT), res16(RES_DE_CS), res16(RES_DE_IP), RM_SEG, off(rm_de_insn));
	return checks_end();
}
