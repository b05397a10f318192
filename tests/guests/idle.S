/* idle: halts with interrupts off forever, costing no host CPU. For the
 * tests of how wisp stops a guest that never ends: --timeout, SIGTERM,
 * SIGINT. */
	.section .note.GNU-stack, "", @progbits
	.text
	.code64
	.globl _start
_start:
	cli
	mov $'i', %al
	mov $0x3f8, %dx
	out %al, %dx
1:	hlt
	jmp 1b
