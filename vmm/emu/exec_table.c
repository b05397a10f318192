/* The opcode table: every family fills its part. */
#include <string.h>

#include "exec.h"

/* Until sse.c and x87.c exist, these empty registrations let the core
 * link; each family's own file overrides its function with a strong
 * definition. In a static library an object is only pulled in for a
 * symbol nothing has defined yet, so when sse.c or x87.c lands, its stub
 * here has to go (otherwise the stub wins and the family is silently
 * absent). */
__attribute__((weak)) void exec_register_sse(struct exec_table *t)
{
	(void)t;
}

__attribute__((weak)) void exec_register_x87(struct exec_table *t)
{
	(void)t;
}

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
