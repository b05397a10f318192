/* Entry of a PVH image: the Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY (18)
 * names the 32-bit entry, which gets EBX = &struct hvm_start_info in flat
 * 32-bit protected mode with paging off. */
#include "layout.h"

	.section .note.GNU-stack, "", @progbits

	.section .note.Xen, "a"
	.p2align 2
	.long 4				/* namesz: "Xen\0" */
	.long 4				/* descsz */
	.long 18			/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.p2align 2
	.long pvh_start

	.section .head, "ax"
	.code32
	.globl _start, pvh_start
_start:
pvh_start:
	cli
	cld
	mov %ebx, boot_info_addr
	movl $BOOT_PVH, boot_kind
	mov $(cpu_kstacks + KSTACK_SIZE), %esp
	jmp long_mode_from32
