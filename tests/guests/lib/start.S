/* The runtime's assembly: the common path into 64-bit mode, the interrupt
 * stubs, ring-3 calls and the application-processor trampoline. */
#include "layout.h"

#define MSR_EFER 0xC0000080

	.section .note.GNU-stack, "", @progbits

	.text

/* ---- 32-bit protected mode (PVH, multiboot) -> long mode ------------------
 * Entered with paging off, flat segments, ESP on the boot stack. Builds the
 * identity map of 4 GiB in .bss (2 MiB pages; the last GiB uncached),
 * turns on PAE, EFER.LME and paging, loads the runtime GDT and far-jumps
 * into 64-bit code. */
	.code32
	.globl long_mode_from32
long_mode_from32:
	mov $pt_pd, %edi
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $21, %eax
	or $0x87, %eax			/* P | RW | US | PS */
	cmp $1536, %ecx
	jb 2f
	or $0x18, %eax			/* PWT | PCD above 3 GiB */
2:	mov %eax, (%edi,%ecx,8)
	movl $0, 4(%edi,%ecx,8)
	inc %ecx
	cmp $2048, %ecx
	jb 1b

	mov $pt_pdpt, %edi
	mov $(pt_pd + 7), %eax
	xor %ecx, %ecx
3:	mov %eax, (%edi,%ecx,8)
	movl $0, 4(%edi,%ecx,8)
	add $4096, %eax
	inc %ecx
	cmp $4, %ecx
	jb 3b
	movl $(pt_pdpt + 7), pt_pml4
	movl $0, pt_pml4 + 4

	mov %cr4, %eax
	or $0x20, %eax			/* PAE */
	mov %eax, %cr4
	mov $pt_pml4, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $0x100, %eax			/* LME */
	wrmsr
	mov %cr0, %eax
	or $0x80010001, %eax		/* PG | WP | PE */
	mov %eax, %cr0
	lgdt gdt_ptr
	ljmp $SEL_CODE64, $start64

/* ---- 64-bit entries (ELF64, bzImage) ---------------------------------------
 * Entered in long mode on the loader's page tables with RSP on the boot
 * stack: switch to the runtime's page tables and GDT. */
	.code64
	.globl start64_from64
start64_from64:
	call pt_build			/* returns the PML4 address */
	mov %rax, %cr3
	lgdt gdt_ptr(%rip)
	lea start64(%rip), %rax
	pushq $SEL_CODE64
	push %rax
	lretq

/* ---- common 64-bit start of the bootstrap processor ------------------------ */
	.globl start64
start64:
	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	xor %eax, %eax
	mov %eax, %fs
	mov %eax, %gs
	lea cpu_kstacks + KSTACK_SIZE(%rip), %rsp
	xor %ebp, %ebp
	call runtime_bsp_main
4:	cli
	hlt
	jmp 4b

/* ---- interrupt and exception stubs -----------------------------------------
 * One 16-byte stub per vector: push a zero error code where the CPU pushes
 * none, push the vector, and go to the common part, which saves the general
 * registers as a struct irq_frame and calls isr_dispatch(frame). */
	.align 16
	.globl isr_stubs
isr_stubs:
	vec = 0
	.rept 256
	.align 16
	.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq $0
	.endif
	pushq $vec
	jmp isr_common
	vec = vec + 1
	.endr

isr_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	cld
	call isr_dispatch
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp
	iretq

/* ---- ring 3 ------------------------------------------------------------------
 * uint64_t run_user(uint64_t (*fn)(uint64_t), uint64_t arg): call fn(arg)
 * at CPL 3 with IOPL 3 and interrupts off, on this CPU's user stack (the
 * TSS I/O bitmap opens ports 0-0x3ff to ring 3 as well, for hosts that
 * do not honour IOPL at CPL 3, such as KVM's PVM flavour). fn
 * returns with int $VEC_USER_RETURN (DPL-3 gate); isr_dispatch then calls
 * run_user_return(rax), which resumes here. The kernel stack below the
 * saved registers becomes the TSS RSP0 stack meanwhile. */
	.globl run_user
run_user:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %gs:CPU_SAVED_RSP
	mov %gs:CPU_TSS, %rax
	mov %rsp, %rcx
	and $-16, %rcx
	mov %rcx, 4(%rax)		/* tss.rsp0 */
	mov %gs:CPU_USTACK_TOP, %rcx
	pushq $SEL_UDATA
	push %rcx
	pushq $0x3002			/* IOPL 3, IF 0 */
	pushq $SEL_UCODE64
	lea user_entry(%rip), %rax
	push %rax
	mov $SEL_UDATA, %eax
	mov %eax, %ds
	mov %eax, %es
	iretq

user_entry:
	mov %rdi, %rax
	mov %rsi, %rdi
	call *%rax
	.globl user_return_insn
user_return_insn:
	int $VEC_USER_RETURN
	ud2

/* noreturn void run_user_return(uint64_t value): called at CPL 0 (from the
 * return gate or a fault handler that gives up on the ring-3 code) to make
 * the pending run_user() return value. */
	.globl run_user_return
run_user_return:
	mov %rdi, %rax
	mov %gs:CPU_SAVED_RSP, %rsp
	mov $SEL_DATA, %ecx
	mov %ecx, %ds
	mov %ecx, %es
	mov %ecx, %ss
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret

/* ---- application processors ---------------------------------------------------
 * The trampoline is copied to TRAMPOLINE_ADDR (page aligned, SIPI vector
 * TRAMPOLINE_ADDR >> 12) and its data patched by smp.c: the GDT pointer
 * (the runtime GDT), CR3, EFER and the 64-bit entry. It goes real mode ->
 * protected mode -> long mode and jumps to ap_entry64 at its link address. */
	.code16
	.globl tramp_start, tramp_end, tramp_gdtr, tramp_cr3, tramp_efer, tramp_entry
tramp_start:
	cli
	cld
	mov %cs, %ax
	mov %ax, %ds
	lgdtl (tramp_gdtr - tramp_start)
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $SEL_CODE32, $(TRAMPOLINE_ADDR + tramp32 - tramp_start)

	.code32
tramp32:
	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %cr4, %eax
	or $0x20, %eax
	mov %eax, %cr4
	mov (TRAMPOLINE_ADDR + tramp_cr3 - tramp_start), %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	mov (TRAMPOLINE_ADDR + tramp_efer - tramp_start), %eax
	xor %edx, %edx
	wrmsr
	mov %cr0, %eax
	or $0x80010000, %eax
	mov %eax, %cr0
	ljmp $SEL_CODE64, $(TRAMPOLINE_ADDR + tramp64 - tramp_start)

	.code64
tramp64:
	mov (TRAMPOLINE_ADDR + tramp_entry - tramp_start), %rax
	jmp *%rax

	.align 8
tramp_gdtr:
	.word 0
	.long 0
	.align 8
tramp_cr3:
	.long 0
tramp_efer:
	.long 0
tramp_entry:
	.quad 0
tramp_end:

/* 64-bit, at the link address: take a CPU index and its stack, call
 * ap_main_c(index). */
	.globl ap_entry64
ap_entry64:
	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	xor %eax, %eax
	mov %eax, %fs
	mov %eax, %gs
	mov $1, %eax
	lock xadd %eax, ap_next_index(%rip)
	cmp $MAX_CPUS, %eax
	jae 6f
	mov %eax, %edi
	lea 1(%rax), %rcx
	imul $KSTACK_SIZE, %rcx
	lea cpu_kstacks(%rip), %rsp
	add %rcx, %rsp
	xor %ebp, %ebp
	call ap_main_c
6:	cli
	hlt
	jmp 6b
