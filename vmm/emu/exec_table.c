/* The opcode table: every family fills its part. */
#include <string.h>

#include "exec.h"

void exec_table_init(struct exec_table *t)
{
	memset(t, 0, sizeof(*t));
	exec_register_alu(t);
	exec_register_shift(t);
	exec_register_muldiv(t);
	exec_register_bitops(t);
	exec_register_string(t);
	exec_register_control(t);
	/* Last, so that the system family may take over any opcode it shares
	 * with the others (it should not need to). */
	exec_register_system(t);
	exec_register_sse(t);
	exec_register_x87(t);
}
