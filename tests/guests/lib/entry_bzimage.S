/* Entry of the protected-mode payload of a bzImage (see mkbzimage.py):
 * loaded at 1 MiB; offset 0 would be the 32-bit entry (not supported: it
 * halts), offset 0x200 is the 64-bit entry, RSI = &boot_params. The kernel
 * clears its own .bss, as Linux does (the payload file stops before it). */
#include "layout.h"

	.section .note.GNU-stack, "", @progbits

	.section .head, "ax"
	.code32
startup_32:
	cli
1:	hlt
	jmp 1b

	.org 0x200
	.code64
	.globl _start
_start:
	cli
	cld
	lea __bss_start(%rip), %rdi
	lea __bss_end(%rip), %rcx
	sub %rdi, %rcx
	shr $3, %rcx
	xor %eax, %eax
	rep stosq
	mov %rsi, boot_info_addr(%rip)
	movl $BOOT_BZIMAGE, boot_kind(%rip)
	lea cpu_kstacks + KSTACK_SIZE(%rip), %rsp
	jmp start64_from64
