/* Entry of a plain ELF64 image: long mode at e_entry, paging on with the
 * loader's identity map. Record the entry state for the hello guest, then
 * join the common start. */
#include "layout.h"

	.section .note.GNU-stack, "", @progbits

	.section .head, "ax"
	.code64
	.globl _start
_start:
	cli
	cld
	movq $0, entry_regs + 8 * ENTRY_CS(%rip)
	movw %cs, entry_regs + 8 * ENTRY_CS(%rip)
	movq $0, entry_regs + 8 * ENTRY_DS(%rip)
	movw %ds, entry_regs + 8 * ENTRY_DS(%rip)
	movq $0, entry_regs + 8 * ENTRY_ES(%rip)
	movw %es, entry_regs + 8 * ENTRY_ES(%rip)
	movq $0, entry_regs + 8 * ENTRY_SS(%rip)
	movw %ss, entry_regs + 8 * ENTRY_SS(%rip)
	mov %rsp, entry_regs + 8 * ENTRY_RSP(%rip)
	pushfq
	popq entry_regs + 8 * ENTRY_RFLAGS(%rip)
	mov %cr0, %rax
	mov %rax, entry_regs + 8 * ENTRY_CR0(%rip)
	mov %cr3, %rax
	mov %rax, entry_regs + 8 * ENTRY_CR3(%rip)
	mov %cr4, %rax
	mov %rax, entry_regs + 8 * ENTRY_CR4(%rip)
	mov $0xC0000080, %ecx
	rdmsr
	shl $32, %rdx
	or %rdx, %rax
	mov %rax, entry_regs + 8 * ENTRY_EFER(%rip)
	sgdt entry_regs + 8 * ENTRY_GDTR(%rip)
	sidt entry_regs + 8 * ENTRY_IDTR(%rip)
	movl $BOOT_ELF64, boot_kind(%rip)
	lea cpu_kstacks + KSTACK_SIZE(%rip), %rsp
	jmp start64_from64
