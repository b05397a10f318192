/* exit-at-once: the smallest useful ELF64 guest. Entered in long mode, it
 * writes 0 to the debug-exit port (wisp exits with 1) and halts. For
 * start-up time measurements. */
	.section .note.GNU-stack, "", @progbits
	.text
	.code64
	.globl _start
_start:
	xor %eax, %eax
	out %eax, $0xF4
1:	hlt
	jmp 1b
