/* Shared by real_mode.c and real_mode.S: where the real-mode trip runs
 * and the layout of what it leaves behind. */
#ifndef REAL_MODE_H
#define REAL_MODE_H

#define RM_LOW      0x40000   /* the code is copied here (free conventional memory) */
#define RM_SEG      (RM_LOW >> 4)
#define RM_STACK_SEG 0x4800   /* real-mode stack: 0x48000 + SP 0x8000 */

/* Selectors of the trip's own GDT. */
#define T_CODE32    0x08      /* flat 32-bit code */
#define T_DATA32    0x10      /* flat 32-bit data */
#define T_CODE16    0x18      /* 16-bit code, base RM_LOW, limit 0xffff */
#define T_DATA16    0x20      /* 16-bit data, base 0, limit 0xffff */
#define T_DATA16B   0x28      /* 16-bit data, base 0x5a000, limit 0xffff */

/* Results, words at these offsets from rm_res unless noted. */
#define RES_REACHED          0
#define RES_ALIAS            2
#define RES_SP_PUSH          4
#define RES_FAR_CS           6
#define RES_FAR_IP_PUSHED    8
#define RES_FAR_CS_PUSHED    10
#define RES_FAR_ARG          12
#define RES_FAR_RET          14
#define RES_SP_BEFORE_CALL   16
#define RES_SP_AFTER_CALL    18
#define RES_MOVSB_SI         20
#define RES_MOVSB_DI         22
#define RES_MOVSB_CX         24
#define RES_MOVSW_SI         26
#define RES_MOVSW_DI         28
#define RES_MOVSW_CX         30
#define RES_WRAP_SI          32
#define RES_WRAP_DI          34
#define RES_FLAGS16          36
#define RES_POPF_SPDIFF      38
#define RES_PUSHFL_SPDIFF    40
#define RES_PUSHFL           44   /* dword */
#define RES_SGDT             48   /* 6 bytes */
#define RES_SIDT             56   /* 6 bytes */
#define RES_SGDT2            64   /* 6 bytes */
#define RES_INT_COUNT        72
#define RES_INT_IP           74
#define RES_INT_CS           76
#define RES_INT_FLAGS_PUSHED 78
#define RES_INT_FLAGS_INSIDE 80
#define RES_FLAGS_AFTER_INT  82
#define RES_INT_AX           84
#define RES_SP_BEFORE_INT    86
#define RES_SP_AFTER_INT     88
#define RES_DE_COUNT         90
#define RES_DE_IP            92
#define RES_DE_CS            94
#define RES_DONE             96
#define RES_BIG_READ         100  /* dword */
#define RES_GP_COUNT         104
#define RES_GP_IP            106
#define RES_GP_CS            108
#define RES_SIZE             128

#define BIG_REAL_ADDR  0x800010   /* reached through FS with its 4 GiB limit */
#define FAKE_GDT_LIMIT 0x1234
#define FAKE_GDT_BASE  0x12345678   /* lgdtw loads only its low 24 bits */

#endif
