/* The real-mode trip of the real-mode guest: from 64-bit mode down through
 * compatibility mode, 32-bit protected mode without paging and 16-bit
 * protected mode to real mode, a few real-mode tests, and back up the
 * same way. rm_blob..rm_blob_end is copied to RM_LOW first (real-mode
 * code must live below 1 MiB); O(x) is x's offset in the blob (its IP in
 * real mode, CS = RM_SEG) and A(x) its address in the copy. */
#include "layout.h"
#include "real_mode.h"

#define O(x) ((x) - rm_blob)
#define A(x) (RM_LOW + O(x))
#define R(n) (O(rm_res) + (n))
#define MSR_EFER 0xC0000080
#define MSR_GS_BASE 0xC0000101

	.section .note.GNU-stack, "", @progbits
	.text

/* uint64_t rm_roundtrip(void): the whole trip; returns 0. The blob must
 * have been copied to RM_LOW and its data filled in. */
	.code64
	.globl rm_roundtrip
rm_roundtrip:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, A(rm_saved_rsp)
	pushq $SEL_CODE32
	pushq $A(pm32_down)
	lretq

	.balign 16
	.globl rm_blob
rm_blob:

/* ---- down ------------------------------------------------------------------ */
	.code32
pm32_down:				/* compatibility mode, runtime CS 0x08 */
	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %cr0, %eax			/* paging off: leaves IA-32e mode */
	and $0x7fffffff, %eax
	mov %eax, %cr0
	mov $MSR_EFER, %ecx
	rdmsr
	and $~0x100, %eax		/* LME off */
	wrmsr
	lgdt A(rm_gdtr)
	ljmp $T_CODE16, $O(pm16_down)

	.code16
pm16_down:				/* 16-bit protected mode, CS base RM_LOW */
	mov $T_DATA16, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %gs
	mov %ax, %ss
	mov $T_DATA32, %ax		/* FS keeps a 4 GiB limit into real mode */
	mov %ax, %fs
	mov $T_DATA16B, %ax		/* a 16-bit data segment with base 0x5a000 */
	mov %ax, %es
	movw $0xF66F, %es:0x10
	mov $T_DATA16, %ax
	mov %ax, %es
	mov %cr0, %eax
	and $~1, %eax			/* PE off */
	mov %eax, %cr0
	ljmp $RM_SEG, $O(rm_start)

/* ---- real mode ------------------------------------------------------------- */
rm_start:
	mov $RM_SEG, %ax
	mov %ax, %ds
	mov $RM_STACK_SEG, %ax
	mov %ax, %ss
	mov $0x8000, %sp
	lidt O(rm_ivt_ptr)
	movw $1, R(RES_REACHED)

	/* "big real mode": FS was not reloaded since protected mode, so its
	 * cached 4 GiB limit still applies to 32-bit offsets */
	mov $BIG_REAL_ADDR, %ebx
	movl $0x7E57BEEF, %fs:(%ebx)
	mov %fs:(%ebx), %eax
	mov %eax, R(RES_BIG_READ)
	/* DS, with a 64 KiB limit: offset 0x10000 raises #GP (IVT entry 13) */
	mov $0x10000, %ebx
	.globl rm_gp_insn
rm_gp_insn:
	mov (%ebx), %eax		/* 67 66 8b 03: 4 bytes */

	/* segment bases = selector << 4 */
	mov $0x5000, %ax
	mov %ax, %es
	movw $0xA11A, %es:0x10		/* 0x50010 */
	mov $0x5123, %ax
	mov %ax, %fs
	movw $0xB22B, %fs:0x20		/* 0x51250 */
	mov $0x5234, %ax
	mov %ax, %gs
	movw $0xC33C, %gs:0x30		/* 0x52370 */
	mov $0x5001, %ax
	mov %ax, %es
	mov %es:0, %ax			/* 0x50010 again, as 0x5001:0 */
	mov %ax, R(RES_ALIAS)
	mov $0x5400, %ax
	mov %ax, %es
	mov $0xFFF0, %bx
	mov $0x30, %si
	movw $0xE55E, %es:(%bx,%si)	/* offset wraps to 0x20: 0x54020 */
	mov %ss, %dx
	mov %sp, %cx
	mov $0x5300, %ax
	mov %ax, %ss
	mov $0x1000, %sp
	pushw $0xD44D			/* 0x53ffe */
	mov %sp, R(RES_SP_PUSH)
	mov %dx, %ss
	mov %cx, %sp

	/* far call with another CS for the same code, retf popping 4 bytes */
	pushw $0x1111
	pushw $0x2222
	mov %sp, R(RES_SP_BEFORE_CALL)
	lcall $(RM_SEG + 1), $(O(farfn) - 16)
	.globl rm_after_lcall
rm_after_lcall:
	mov %sp, R(RES_SP_AFTER_CALL)
	mov %ax, R(RES_FAR_RET)

	/* rep movsb between segments, rep movsw backwards, SI wrapping */
	mov $0x5500, %ax
	mov %ax, %ds
	mov $0x5600, %ax
	mov %ax, %es
	mov $0x10, %si
	mov $0x20, %di
	mov $100, %cx
	cld
	rep movsb
	mov %si, %cs:R(RES_MOVSB_SI)
	mov %di, %cs:R(RES_MOVSB_DI)
	mov %cx, %cs:R(RES_MOVSB_CX)
	mov $0x5700, %ax
	mov %ax, %es
	mov $(0x10 + 62), %si
	mov $(0x40 + 62), %di
	mov $32, %cx
	std
	rep movsw
	cld
	mov %si, %cs:R(RES_MOVSW_SI)
	mov %di, %cs:R(RES_MOVSW_DI)
	mov %cx, %cs:R(RES_MOVSW_CX)
	mov $0x5800, %ax
	mov %ax, %ds
	mov $0x5900, %ax
	mov %ax, %es
	mov $0xFFFC, %si
	xor %di, %di
	mov $8, %cx
	rep movsb
	mov %si, %cs:R(RES_WRAP_SI)
	mov %di, %cs:R(RES_WRAP_DI)
	mov $RM_SEG, %ax
	mov %ax, %ds

	/* 16-bit pushf/popf, and pushfl */
	mov %sp, %bx
	pushw $0x0CD5			/* CF PF AF ZF SF DF OF */
	popf
	pushf
	pop %ax
	mov %ax, R(RES_FLAGS16)
	mov %bx, %cx
	sub %sp, %cx
	mov %cx, R(RES_POPF_SPDIFF)
	pushw $0x0002
	popf
	mov %sp, %bx
	pushfl
	mov %bx, %cx
	sub %sp, %cx
	mov %cx, R(RES_PUSHFL_SPDIFF)
	popl %eax
	mov %eax, R(RES_PUSHFL)

	/* lgdt/sgdt/sidt in real mode: a 16-bit lgdt loads 24 bits of base */
	lgdtw O(rm_fake_gdtr)
	sgdtl R(RES_SGDT)
	sidtl R(RES_SIDT)
	lgdtl O(rm_gdtr)		/* the trip's GDT, for the way up */
	sgdtl R(RES_SGDT2)

	/* int through the IVT, and #DE through IVT entry 0 */
	mov %sp, R(RES_SP_BEFORE_INT)
	mov $0x1111, %ax
	stc
	sti
	int $0x42
	.globl rm_after_int
rm_after_int:
	pushf
	cli
	pop %dx
	mov %dx, R(RES_FLAGS_AFTER_INT)
	mov %ax, R(RES_INT_AX)
	mov %sp, R(RES_SP_AFTER_INT)
	xor %cl, %cl
	mov $1, %ax
	.globl rm_de_insn
rm_de_insn:
	div %cl
	movw $1, R(RES_DONE)

/* ---- up ---------------------------------------------------------------------- */
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $T_CODE32, $A(pm32_up)

farfn:					/* entered with CS = RM_SEG + 1 */
	mov %cs, %ax
	mov %ax, R(RES_FAR_CS)
	mov %sp, %bp
	mov (%bp), %ax
	mov %ax, R(RES_FAR_IP_PUSHED)
	mov 2(%bp), %ax
	mov %ax, R(RES_FAR_CS_PUSHED)
	mov 4(%bp), %ax
	mov %ax, R(RES_FAR_ARG)
	mov $0x4242, %ax
	lret $4

	.globl rm_int42, rm_de_handler
rm_int42:
	push %bp
	mov %sp, %bp
	mov 2(%bp), %ax
	mov %ax, R(RES_INT_IP)
	mov 4(%bp), %ax
	mov %ax, R(RES_INT_CS)
	mov 6(%bp), %ax
	mov %ax, R(RES_INT_FLAGS_PUSHED)
	pushf
	pop %ax
	mov %ax, R(RES_INT_FLAGS_INSIDE)
	incw R(RES_INT_COUNT)
	pop %bp
	mov $0x4242, %ax
	iret

	.globl rm_gp_handler
rm_gp_handler:
	push %bp
	mov %sp, %bp
	push %ax
	mov 2(%bp), %ax
	mov %ax, R(RES_GP_IP)
	mov 4(%bp), %ax
	mov %ax, R(RES_GP_CS)
	addw $4, 2(%bp)			/* past the faulting mov */
	incw R(RES_GP_COUNT)
	pop %ax
	pop %bp
	iret

rm_de_handler:
	push %bp
	mov %sp, %bp
	mov 2(%bp), %ax
	mov %ax, R(RES_DE_IP)
	mov 4(%bp), %ax
	mov %ax, R(RES_DE_CS)
	addw $2, 2(%bp)			/* past div %cl */
	incw R(RES_DE_COUNT)
	pop %bp
	iret

	.code32
pm32_up:				/* 32-bit protected mode, paging off */
	mov $T_DATA32, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov $MSR_EFER, %ecx
	rdmsr
	or $0x100, %eax			/* LME */
	wrmsr
	mov %cr0, %eax			/* CR4.PAE and CR3 were kept */
	or $0x80000000, %eax
	mov %eax, %cr0			/* IA-32e, compatibility mode */
	lgdt A(rt_gdtr)
	ljmp $SEL_CODE64, $A(lm64_up)

	.code64
lm64_up:
	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	xor %eax, %eax
	mov %eax, %fs
	mov %eax, %gs
	lgdt A(rt_gdtr)			/* again, with the 64-bit base */
	lidt A(rt_idtr)
	mov $MSR_GS_BASE, %ecx
	mov A(rm_saved_gsbase), %eax
	mov A(rm_saved_gsbase) + 4, %edx
	wrmsr
	mov A(rm_saved_rsp), %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	xor %eax, %eax
	ret

/* ---- data ---------------------------------------------------------------------- */
	.balign 16
	.globl rm_res
rm_res:
	.fill RES_SIZE, 1, 0
	.globl rm_saved_rsp, rm_saved_gsbase, rt_gdtr, rt_idtr
rm_saved_rsp:
	.quad 0
rm_saved_gsbase:
	.quad 0
rt_gdtr:				/* the runtime's, as sgdt in 64-bit mode stores it */
	.fill 16, 1, 0
rt_idtr:
	.fill 16, 1, 0
	.balign 8
rm_gdt:
	.quad 0
	.quad 0x00CF9A000000FFFF	/* T_CODE32 */
	.quad 0x00CF92000000FFFF	/* T_DATA32 */
	.quad 0x00009A000000FFFF + ((RM_LOW >> 16) << 32)	/* T_CODE16, base RM_LOW */
	.quad 0x000092000000FFFF	/* T_DATA16 */
	.quad 0x000092050000FFFF + (0xa000 << 16)	/* T_DATA16B, base 0x5a000 */
rm_gdt_end:
	.globl rm_gdtr
	.balign 8
	.word 0
rm_gdtr:
	.word rm_gdt_end - rm_gdt - 1
	.long A(rm_gdt)
	.balign 8
	.word 0
rm_fake_gdtr:
	.word FAKE_GDT_LIMIT
	.long FAKE_GDT_BASE
	.balign 8
	.word 0
rm_ivt_ptr:
	.word 0x3ff
	.long 0
	.globl rm_blob_end
rm_blob_end:
