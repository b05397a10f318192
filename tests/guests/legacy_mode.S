/* The legacy-mode trip of the legacy-mode guest: from 64-bit mode down
 * to 32-bit protected mode (IA-32e off), a series of steps there with the
 * trip's own GDT, IDT and 32-bit TSS (built by legacy_mode.c), and back
 * up. The code runs in place (the image is identity-mapped and below
 * 4 GiB). Every exception goes through lg_common, which logs it and, if
 * a step armed lg_fixup, resumes there at CPL 0; otherwise the trip is
 * abandoned (LGR_ABORTED) and goes straight back up. */
#include "layout.h"
#include "legacy_mode.h"

#define MSR_EFER    0xC0000080
#define MSR_GS_BASE 0xC0000101
#define CR0_PG      0x80000000
#define CR0_WP      0x00010000
#define CR4_PSE     0x10
#define CR4_PAE     0x20

	.section .note.GNU-stack, "", @progbits

	.bss
	.balign 16
	.globl lg_log, lg_nlog, lg_res, lg_step
lg_log:
	.fill LG_NLOG * LG_LOG_WORDS, 4, 0
lg_nlog:
	.long 0
lg_res:
	.fill LGR_RESULTS, 4, 0
lg_step:
	.long 0
lg_fixup:
	.long 0
lg_saved_rsp:
	.quad 0
lg_saved_cr3:
	.quad 0
lg_saved_cr4:
	.quad 0
lg_saved_gsbase:
	.quad 0
lg_kesp:
	.long 0
	.balign 16
lg_rt_gdtr:
	.fill 16, 1, 0
lg_rt_idtr:
	.fill 16, 1, 0
	.balign 16
lg_stack:
	.fill 4096, 1, 0
lg_stack_top:
	.globl lg_kstack_top
lg_kstack:
	.fill 4096, 1, 0
lg_kstack_top:
	.globl lg_ustack_top
lg_ustack:
	.fill 4096, 1, 0
lg_ustack_top:

	.text
/* ---- 64-bit: uint64_t legacy_trip(void) -------------------------------------- */
	.code64
	.globl legacy_trip
legacy_trip:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, lg_saved_rsp(%rip)
	sgdt lg_rt_gdtr(%rip)
	sidt lg_rt_idtr(%rip)
	mov %cr3, %rax
	mov %rax, lg_saved_cr3(%rip)
	mov %cr4, %rax
	mov %rax, lg_saved_cr4(%rip)
	mov $MSR_GS_BASE, %ecx
	rdmsr
	mov %eax, lg_saved_gsbase(%rip)
	mov %edx, lg_saved_gsbase+4(%rip)
	pushq $SEL_CODE32
	lea lg_down32(%rip), %rax
	push %rax
	lretq

/* ---- down to 32-bit protected mode ------------------------------------------- */
	.code32
lg_down32:
	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %cr0, %eax
	and $~CR0_PG, %eax
	mov %eax, %cr0			/* out of IA-32e mode */
	mov $MSR_EFER, %ecx
	rdmsr
	and $~0x100, %eax		/* LME off (NXE stays) */
	wrmsr
	lgdt lg_gdtr
	ljmp $LG_CODE0, $lg_main

lg_main:
	mov $LG_DATA0, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %fs
	mov %eax, %gs
	mov %eax, %ss
	mov $lg_stack_top, %esp
	lidt lg_idtr
	mov $LG_TSS, %eax
	ltr %ax

#define STEP(n) movl $(n), lg_step; movl $(n), lg_res + 4 * LGR_STEP_DONE
#define ARM(label) movl $label, lg_fixup

	/* #DE: fault, no error code, EIP of the div */
	STEP(ST_DE)
	ARM(1f)
	xor %edx, %edx
	xor %ecx, %ecx
	mov $1, %eax
	.globl lg_de_insn
lg_de_insn:
	div %ecx
1:
	/* #GP(selector): DS loaded with a selector beyond the GDT limit */
	STEP(ST_GP_SEL)
	ARM(1f)
	mov $0xFFF8, %eax
	.globl lg_gp_insn
lg_gp_insn:
	mov %eax, %ds
1:	mov $LG_DATA0, %eax
	mov %eax, %ds

	/* int $0x40 through a trap gate at CPL 0 (IF kept: set it) */
	STEP(ST_INT_TRAP)
	ARM(1f)
	sti
	int $0x40
	.globl lg_int_after
lg_int_after:
1:	cli

	/* 32-bit paging with 4 MiB pages (CR4.PSE), CR0.WP */
	mov lg_saved_cr4, %eax
	and $~CR4_PAE, %eax
	or $CR4_PSE, %eax
	mov %eax, %cr4
	mov $lg_pd, %eax
	mov %eax, %cr3
	mov %cr0, %eax
	or $(CR0_PG | CR0_WP), %eax
	mov %eax, %cr0
	STEP(ST_PG32_NP_R)
	ARM(1f)
	.globl lg_np_r_insn
lg_np_r_insn:
	mov LG_PG_NP + 0x10, %eax
1:	STEP(ST_PG32_NP_W)
	ARM(1f)
	.globl lg_np_w_insn
lg_np_w_insn:
	movl $1, LG_PG_NP + 0x20
1:	STEP(ST_PG32_RO_W)
	ARM(1f)
	.globl lg_ro_w_insn
lg_ro_w_insn:
	movl $1, LG_PG_RO + 0x30
1:	STEP(ST_PG32_WP0)			/* CR0.WP=0: ring 0 may write */
	mov %cr0, %eax
	and $~CR0_WP, %eax
	mov %eax, %cr0
	movl $0x600DC0DE, LG_PG_RO + 0x50
	or $CR0_WP, %eax
	mov %eax, %cr0
	STEP(ST_PG32_BIG)
	mov LG_BIG + 0x1000, %eax	/* the 4 MiB page: A */
	mov lg_pd + 4 * (LG_BIG >> 22), %eax
	mov %eax, lg_res + 4 * LGR_PDE_READ
	movl $0x12345678, LG_BIG + 0x2000	/* ... D */

	/* ring 3 under 32-bit paging: #PF on a supervisor page, int $0x80;
	 * the frames come through the TSS's SS0:ESP0 */
	STEP(ST_RING3_PF)
	mov %esp, lg_kesp
	ARM(lg_ring3_back)
	push $LG_UDATA
	push $lg_ustack_top
	push $0x2
	push $LG_UCODE
	push $lg_user_pf
	iret
lg_ring3_back:
	mov lg_kesp, %esp
	mov $LG_DATA0, %eax
	mov %eax, %ds
	mov %eax, %es
	STEP(ST_RING3_INT)
	ARM(lg_ring3_back2)
	push $LG_UDATA
	push $lg_ustack_top
	push $0x2
	push $LG_UCODE
	push $lg_user_int
	iret
lg_ring3_back2:
	mov lg_kesp, %esp
	mov $LG_DATA0, %eax
	mov %eax, %ds
	mov %eax, %es

	/* CR4.PSE=0: a PDE's PS bit is ignored, it names a page table */
	mov %cr0, %eax
	and $~CR0_PG, %eax
	mov %eax, %cr0
	mov %cr4, %eax
	and $~CR4_PSE, %eax
	mov %eax, %cr4
	mov %cr0, %eax
	or $CR0_PG, %eax
	mov %eax, %cr0
	STEP(ST_PG32_NOPSE)
	mov LG_NOPSE + 0x10, %eax
	mov %eax, lg_res + 4 * LGR_NOPSE_VAL
	mov %cr0, %eax
	and $~CR0_PG, %eax
	mov %eax, %cr0

	/* PAE paging (legacy): NX fetch, not-present read, reserved bit */
	mov lg_saved_cr4, %eax
	or $CR4_PAE, %eax
	mov %eax, %cr4
	mov $lg_pdpt, %eax
	mov %eax, %cr3
	mov %cr0, %eax
	or $CR0_PG, %eax
	mov %eax, %cr0
	STEP(ST_PAE_NX)
	cmpl $0, lg_nx
	je 1f
	ARM(1f)
	mov $LG_PG_NX, %eax
	jmp *%eax
1:	STEP(ST_PAE_NP_R)
	ARM(1f)
	.globl lg_pae_np_insn
lg_pae_np_insn:
	mov LG_PG_NP + 0x40, %eax
1:	STEP(ST_PAE_RSVD)
	cmpl $0, lg_pae_rsvd
	je 1f
	ARM(1f)
	.globl lg_pae_rsvd_insn
lg_pae_rsvd_insn:
	mov LG_PG_RSVD + 0x10, %eax
1:	mov %cr0, %eax
	and $~CR0_PG, %eax
	mov %eax, %cr0
	STEP(ST_END)

/* ---- back up -------------------------------------------------------------------- */
lg_up:
	cli
	mov %cr0, %eax
	and $~CR0_PG, %eax
	mov %eax, %cr0
	lgdt lg_rt_gdtr
	ljmp $SEL_CODE32, $1f
1:	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov lg_saved_cr4, %eax
	mov %eax, %cr4
	mov lg_saved_cr3, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $CR0_PG, %eax
	mov %eax, %cr0
	ljmp $SEL_CODE64, $lg_up64

	.code64
lg_up64:
	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	xor %eax, %eax
	mov %eax, %fs
	mov %eax, %gs
	lgdt lg_rt_gdtr(%rip)
	lidt lg_rt_idtr(%rip)
	andb $0xFD, gdt + SEL_TSS0 + 5(%rip)	/* not busy, to load it again */
	mov $SEL_TSS0, %eax
	ltr %ax
	mov $MSR_GS_BASE, %ecx
	mov lg_saved_gsbase(%rip), %eax
	mov lg_saved_gsbase+4(%rip), %edx
	wrmsr
	mov lg_saved_rsp(%rip), %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	xor %eax, %eax
	ret

/* ---- ring 3 ---------------------------------------------------------------------- */
	.code32
lg_user_pf:
	mov $LG_UDATA, %eax
	mov %eax, %ds
	mov %eax, %es
	.globl lg_user_pf_insn
lg_user_pf_insn:
	mov LG_PG_SUP + 0x10, %eax
	ud2
lg_user_int:
	mov $LG_UDATA, %eax
	mov %eax, %ds
	mov %eax, %es
	int $0x80
	.globl lg_user_int_after
lg_user_int_after:
	ud2

/* ---- exception and interrupt stubs ------------------------------------------------
 * 32 exception stubs of 16 bytes at lg_stubs (+ 16 * vector), then the
 * stubs of 0x40, 0x80 and the default one (logged as 0xff). */
	.balign 16
	.globl lg_stubs, lg_stub_40, lg_stub_80, lg_stub_default
lg_stubs:
	vec = 0
	.rept 32
	.balign 16
	.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17)
	.else
	push $0
	.endif
	push $vec
	jmp lg_common
	vec = vec + 1
	.endr
	.balign 16
lg_stub_40:
	push $0
	push $0x40
	jmp lg_common
	.balign 16
lg_stub_80:
	push $0
	push $0x80
	jmp lg_common
	.balign 16
lg_stub_default:
	push $0
	push $0xff
	jmp lg_common

/* Stack: vector, error, EIP, CS, EFLAGS[, ESP, SS]. */
lg_common:
	push %eax
	push %ebx
	push %ecx
	push %edx
	mov lg_nlog, %ebx
	cmp $LG_NLOG, %ebx
	jae 2f
	imul $(4 * LG_LOG_WORDS), %ebx
	add $lg_log, %ebx
	mov 16(%esp), %eax
	mov %eax, 4 * LGL_VEC(%ebx)
	mov 20(%esp), %eax
	mov %eax, 4 * LGL_ERR(%ebx)
	mov 24(%esp), %eax
	mov %eax, 4 * LGL_EIP(%ebx)
	mov 28(%esp), %eax
	mov %eax, 4 * LGL_CS(%ebx)
	mov 32(%esp), %eax
	mov %eax, 4 * LGL_EFLAGS(%ebx)
	mov %cr2, %eax
	mov %eax, 4 * LGL_CR2(%ebx)
	lea 16(%esp), %eax
	mov %eax, 4 * LGL_FRAME(%ebx)
	mov lg_step, %eax
	mov %eax, 4 * LGL_STEP(%ebx)
	testb $3, 28(%esp)
	jz 1f
	mov 36(%esp), %eax
	mov %eax, 4 * LGL_ESP(%ebx)
	mov 40(%esp), %eax
	mov %eax, 4 * LGL_SS(%ebx)
1:	cmpl $0x40, 16(%esp)
	jne 2f
	pushf
	pop %eax
	mov %eax, lg_res + 4 * LGR_INT_EFLAGS
2:	incl lg_nlog
	mov lg_fixup, %eax
	test %eax, %eax
	jnz 3f
	movl $1, lg_res + 4 * LGR_ABORTED
	mov $lg_up, %eax
3:	movl $0, lg_fixup
	mov %eax, 24(%esp)		/* EIP */
	movl $LG_CODE0, 28(%esp)	/* CS: back to ring 0 */
	movl $0x2, 32(%esp)		/* EFLAGS */
	pop %edx
	pop %ecx
	pop %ebx
	pop %eax
	add $8, %esp
	iret
