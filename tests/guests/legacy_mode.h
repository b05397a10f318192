/* Shared by legacy_mode.c and legacy_mode.S. */
#ifndef LEGACY_MODE_H
#define LEGACY_MODE_H

/* Selectors of the trip's GDT (lg_gdt). */
#define LG_CODE0  0x08   /* flat 32-bit code, DPL 0 */
#define LG_DATA0  0x10   /* flat data, DPL 0 */
#define LG_UCODE  0x1B   /* flat 32-bit code, DPL 3 (index 3, RPL 3) */
#define LG_UDATA  0x23   /* flat data, DPL 3 (index 4, RPL 3) */
#define LG_TSS    0x28   /* 32-bit TSS */
#define LG_GDT_ENTRIES 6

/* Test pages, in the first 4 MiB (mapped by a 4 KiB page table). */
#define LG_PG_NP   0x300000   /* not present */
#define LG_PG_RO   0x301000   /* read-only */
#define LG_PG_SUP  0x302000   /* supervisor */
#define LG_PG_NX   0x303000   /* NX under PAE paging */
#define LG_PG_RSVD 0x304000   /* a reserved address bit under PAE paging */
#define LG_BIG     0x800000   /* a 4 MiB page (32-bit paging), PDE index 2 */
#define LG_NOPSE   0xC00000   /* PDE index 3: PS set, but a page table when CR4.PSE=0 */
#define LG_NOPSE_PHYS 0x310000 /* ... whose first entry maps this page */

/* The handlers' log: entries of LG_LOG_WORDS 32-bit words. */
#define LG_NLOG 16
#define LG_LOG_WORDS 12
#define LGL_VEC    0
#define LGL_ERR    1
#define LGL_EIP    2
#define LGL_CS     3
#define LGL_EFLAGS 4
#define LGL_CR2    5
#define LGL_ESP    6   /* from ring 3 only */
#define LGL_SS     7   /* from ring 3 only */
#define LGL_FRAME  8   /* ESP in the handler: where the frame is */
#define LGL_STEP   9   /* lg_step when it happened */

/* Results (32-bit words of lg_res). */
#define LGR_STEP_DONE   0   /* the last step reached */
#define LGR_ABORTED     1   /* an unexpected exception ended the trip early */
#define LGR_PDE_READ    2   /* the 4 MiB PDE after a read */
#define LGR_INT_EFLAGS  3   /* EFLAGS in the int $0x40 (trap gate) handler */
#define LGR_NOPSE_VAL   4   /* read at LG_NOPSE + 0x10 with CR4.PSE=0 */
#define LGR_RESULTS     8

/* Steps, in order (lg_step while each runs). */
#define ST_DE        1
#define ST_GP_SEL    2
#define ST_INT_TRAP  3
#define ST_PG32_NP_R 4
#define ST_PG32_NP_W 5
#define ST_PG32_RO_W 6
#define ST_PG32_BIG  7
#define ST_PAE_NX    8
#define ST_PAE_NP_R  9
#define ST_RING3_PF  10
#define ST_RING3_INT 11
#define ST_PG32_WP0  12
#define ST_PG32_NOPSE 13
#define ST_PAE_RSVD  14
#define ST_END       15

#endif
