/* Entry of a multiboot (v1) image: the header in the first 8 KiB, entry at
 * the ELF entry point in flat 32-bit protected mode with paging off,
 * EAX = 0x2BADB002 and EBX = &multiboot_info. */
#include "layout.h"

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003		/* page-align modules, memory info */

	.section .note.GNU-stack, "", @progbits

	.section .head, "ax"
	.p2align 2
multiboot_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.code32
	.globl _start
_start:
	cli
	cld
	mov %eax, boot_magic
	mov %ebx, boot_info_addr
	movl $BOOT_MULTIBOOT, boot_kind
	mov $(cpu_kstacks + KSTACK_SIZE), %esp
	jmp long_mode_from32
