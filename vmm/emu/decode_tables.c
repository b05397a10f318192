/* The opcode descriptor tables of the decoder: for every (map, opcode),
 * whether a ModRM byte follows, which immediate, and the operand-size and
 * 64-bit-mode rules (flags in decode.h). Written out in full, 16 per row,
 * so a table lookup is the whole cost of knowing an opcode's shape.
 * Sources: the opcode maps of Intel SDM vol. 2 appendix A and AMD APM
 * vol. 3 appendix A. */
#include "decode.h"

/* Short names so each row fits on a line. */
#define N    0                                /* no ModRM, no immediate */
#define U    DEC_UD
#define M    DEC_MODRM
#define Mb   (DEC_MODRM | IMM_IB)
#define Mbs  (DEC_MODRM | IMM_IBS)
#define Mz   (DEC_MODRM | IMM_IZ)
#define Ib   IMM_IB
#define Iz   IMM_IZ
#define Iv   IMM_IV
#define P    DEC_PREFIX
#define X    DEC_I64                          /* no operands, not in 64-bit mode */
#define D    DEC_D64
#define REX  DEC_REXLIKE
#define Jb   (IMM_IBS | DEC_F64)              /* rel8 near branch */
#define Jz   (IMM_IZ | DEC_F64)               /* rel16/32 near branch */
#define Ob   IMM_MOFFS
#define ESC  DEC_ESCAPE
#define CRDR (DEC_MODRM | DEC_CRDR)
#define VEX  (DEC_MODRM | DEC_I64 | DEC_VEXLIKE)  /* LES/LDS/BOUND or VEX/EVEX */

const uint16_t emu_decode_table[MAP_COUNT][256] = {
[MAP_PRIMARY] = {
/*        0        1        2        3        4        5        6        7     */
/*        8        9        A        B        C        D        E        F     */
/* 00 */  M,       M,       M,       M,       Ib,      Iz,      X,       X,
/* 08 */  M,       M,       M,       M,       Ib,      Iz,      X,       ESC,
/* 10 */  M,       M,       M,       M,       Ib,      Iz,      X,       X,
/* 18 */  M,       M,       M,       M,       Ib,      Iz,      X,       X,
/* 20 */  M,       M,       M,       M,       Ib,      Iz,      P,       X,
/* 28 */  M,       M,       M,       M,       Ib,      Iz,      P,       X,
/* 30 */  M,       M,       M,       M,       Ib,      Iz,      P,       X,
/* 38 */  M,       M,       M,       M,       Ib,      Iz,      P,       X,
/* 40 */  REX,     REX,     REX,     REX,     REX,     REX,     REX,     REX,
/* 48 */  REX,     REX,     REX,     REX,     REX,     REX,     REX,     REX,
/* 50 */  D,       D,       D,       D,       D,       D,       D,       D,
/* 58 */  D,       D,       D,       D,       D,       D,       D,       D,
/* 60 */  X,       X,       VEX,     M,       P,       P,       P,       P,
/* 68 */  Iz | D,  Mz,      IMM_IBS | D, Mbs, N,       N,       N,       N,
/* 70 */  Jb,      Jb,      Jb,      Jb,      Jb,      Jb,      Jb,      Jb,
/* 78 */  Jb,      Jb,      Jb,      Jb,      Jb,      Jb,      Jb,      Jb,
/* 80 */  Mb,      Mz,      Mb | DEC_I64, Mbs, M,      M,       M,       M,
/* 88 */  M,       M,       M,       M,       M,       M,       M,       M | D,
/* 90 */  N,       N,       N,       N,       N,       N,       N,       N,
/* 98 */  N,       N,       IMM_AP | X, N,    D,       D,       N,       N,
/* A0 */  Ob,      Ob,      Ob,      Ob,      N,       N,       N,       N,
/* A8 */  Ib,      Iz,      N,       N,       N,       N,       N,       N,
/* B0 */  Ib,      Ib,      Ib,      Ib,      Ib,      Ib,      Ib,      Ib,
/* B8 */  Iv,      Iv,      Iv,      Iv,      Iv,      Iv,      Iv,      Iv,
/* C0 */  Mb,      Mb,      IMM_IW | D, D,    VEX,     VEX,     Mb,      Mz,
/* C8 */  IMM_ENTER | D, D, IMM_IW, N,       N,       Ib,      X,       N,
/* D0 */  M,       M,       M,       M,       Ib | X,  Ib | X,  X,       N,
/* D8 */  M,       M,       M,       M,       M,       M,       M,       M,
/* E0 */  Jb,      Jb,      Jb,      Jb,      Ib,      Ib,      Ib,      Ib,
/* E8 */  Jz,      Jz,      IMM_AP | X, Jb,   N,       N,       N,       N,
/* F0 */  P,       N,       P,       P,       N,       N,       M | IMM_GRP3B, M | IMM_GRP3Z,
/* F8 */  N,       N,       N,       N,       N,       N,       M,       M | DEC_GRP5,
},
[MAP_0F] = {
/* 00 */  M,       M,       M,       M,       U,       N,       N,       N,
/* 08 */  N,       N,       U,       N,       U,       M,       U,       U,     /* 0F 0F: 3DNow! */
/* 10 */  M,       M,       M,       M,       M,       M,       M,       M,
/* 18 */  M,       M,       M,       M,       M,       M,       M,       M,     /* prefetch, hint nops */
/* 20 */  CRDR,    CRDR,    CRDR,    CRDR,    U,       U,       U,       U,
/* 28 */  M,       M,       M,       M,       M,       M,       M,       M,
/* 30 */  N,       N,       N,       N,       N,       N,       U,       U,
/* 38 */  ESC,     U,       ESC,     U,       U,       U,       U,       U,
/* 40 */  M,       M,       M,       M,       M,       M,       M,       M,
/* 48 */  M,       M,       M,       M,       M,       M,       M,       M,
/* 50 */  M,       M,       M,       M,       M,       M,       M,       M,
/* 58 */  M,       M,       M,       M,       M,       M,       M,       M,
/* 60 */  M,       M,       M,       M,       M,       M,       M,       M,
/* 68 */  M,       M,       M,       M,       M,       M,       M,       M,
/* 70 */  Mb,      Mb,      Mb,      Mb,      M,       M,       M,       N,
/* 78 */  U,       U,       U,       U,       M,       M,       M,       M,     /* 78 79: VMREAD/VMWRITE, EXTRQ */
/* 80 */  Jz,      Jz,      Jz,      Jz,      Jz,      Jz,      Jz,      Jz,
/* 88 */  Jz,      Jz,      Jz,      Jz,      Jz,      Jz,      Jz,      Jz,
/* 90 */  M,       M,       M,       M,       M,       M,       M,       M,
/* 98 */  M,       M,       M,       M,       M,       M,       M,       M,
/* A0 */  D,       D,       N,       M,       Mb,      M,       U,       U,
/* A8 */  D,       D,       N,       M,       Mb,      M,       M,       M,
/* B0 */  M,       M,       M,       M,       M,       M,       M,       M,
/* B8 */  M,       M,       Mb,      M,       M,       M,       M,       M,
/* C0 */  M,       M,       Mb,      M,       Mb,      Mb,      Mb,      M,
/* C8 */  N,       N,       N,       N,       N,       N,       N,       N,
/* D0 */  M,       M,       M,       M,       M,       M,       M,       M,
/* D8 */  M,       M,       M,       M,       M,       M,       M,       M,
/* E0 */  M,       M,       M,       M,       M,       M,       M,       M,
/* E8 */  M,       M,       M,       M,       M,       M,       M,       M,
/* F0 */  M,       M,       M,       M,       M,       M,       M,       M,
/* F8 */  M,       M,       M,       M,       M,       M,       M,       M,     /* FF: UD0 /r */
},
/* 0F 38: SSSE3, SSE4.1/4.2, INVEPT/INVVPID/INVPCID, SHA, AES-NI, MOVBE,
 * CRC32, ADCX/ADOX, MOVDIR*; the empty slots are VEX-only or unused. */
[MAP_0F38] = {
/* 00 */  M,       M,       M,       M,       M,       M,       M,       M,
/* 08 */  M,       M,       M,       M,       U,       U,       U,       U,
/* 10 */  M,       U,       U,       U,       M,       M,       U,       M,
/* 18 */  U,       U,       U,       U,       M,       M,       M,       U,
/* 20 */  M,       M,       M,       M,       M,       M,       U,       U,
/* 28 */  M,       M,       M,       M,       U,       U,       U,       U,
/* 30 */  M,       M,       M,       M,       M,       M,       U,       M,
/* 38 */  M,       M,       M,       M,       M,       M,       M,       M,
/* 40 */  M,       M,       U,       U,       U,       U,       U,       U,
/* 48 */  U,       U,       U,       U,       U,       U,       U,       U,
/* 50 */  U,       U,       U,       U,       U,       U,       U,       U,
/* 58 */  U,       U,       U,       U,       U,       U,       U,       U,
/* 60 */  U,       U,       U,       U,       U,       U,       U,       U,
/* 68 */  U,       U,       U,       U,       U,       U,       U,       U,
/* 70 */  U,       U,       U,       U,       U,       U,       U,       U,
/* 78 */  U,       U,       U,       U,       U,       U,       U,       U,
/* 80 */  M,       M,       M,       U,       U,       U,       U,       U,
/* 88 */  U,       U,       U,       U,       U,       U,       U,       U,
/* 90 */  U,       U,       U,       U,       U,       U,       U,       U,
/* 98 */  U,       U,       U,       U,       U,       U,       U,       U,
/* A0 */  U,       U,       U,       U,       U,       U,       U,       U,
/* A8 */  U,       U,       U,       U,       U,       U,       U,       U,
/* B0 */  U,       U,       U,       U,       U,       U,       U,       U,
/* B8 */  U,       U,       U,       U,       U,       U,       U,       U,
/* C0 */  U,       U,       U,       U,       U,       U,       U,       U,
/* C8 */  M,       M,       M,       M,       M,       M,       U,       M,
/* D0 */  U,       U,       U,       U,       U,       U,       U,       U,
/* D8 */  U,       U,       U,       M,       M,       M,       M,       M,
/* E0 */  U,       U,       U,       U,       U,       U,       U,       U,
/* E8 */  U,       U,       U,       U,       U,       U,       U,       U,
/* F0 */  M,       M,       U,       U,       U,       U,       M,       U,
/* F8 */  M,       M,       U,       U,       U,       U,       U,       U,
},
/* 0F 3A: SSSE3 PALIGNR, SSE4.1/4.2, PCLMULQDQ, SHA, GFNI, AES; every one
 * takes ModRM and an ib. */
[MAP_0F3A] = {
/* 00 */  U,       U,       U,       U,       U,       U,       U,       U,
/* 08 */  Mb,      Mb,      Mb,      Mb,      Mb,      Mb,      Mb,      Mb,
/* 10 */  U,       U,       U,       U,       Mb,      Mb,      Mb,      Mb,
/* 18 */  U,       U,       U,       U,       U,       U,       U,       U,
/* 20 */  Mb,      Mb,      Mb,      U,       U,       U,       U,       U,
/* 28 */  U,       U,       U,       U,       U,       U,       U,       U,
/* 30 */  U,       U,       U,       U,       U,       U,       U,       U,
/* 38 */  U,       U,       U,       U,       U,       U,       U,       U,
/* 40 */  Mb,      Mb,      Mb,      U,       Mb,      U,       U,       U,
/* 48 */  U,       U,       U,       U,       U,       U,       U,       U,
/* 50 */  U,       U,       U,       U,       U,       U,       U,       U,
/* 58 */  U,       U,       U,       U,       U,       U,       U,       U,
/* 60 */  Mb,      Mb,      Mb,      Mb,      U,       U,       U,       U,
/* 68 */  U,       U,       U,       U,       U,       U,       U,       U,
/* 70 */  U,       U,       U,       U,       U,       U,       U,       U,
/* 78 */  U,       U,       U,       U,       U,       U,       U,       U,
/* 80 */  U,       U,       U,       U,       U,       U,       U,       U,
/* 88 */  U,       U,       U,       U,       U,       U,       U,       U,
/* 90 */  U,       U,       U,       U,       U,       U,       U,       U,
/* 98 */  U,       U,       U,       U,       U,       U,       U,       U,
/* A0 */  U,       U,       U,       U,       U,       U,       U,       U,
/* A8 */  U,       U,       U,       U,       U,       U,       U,       U,
/* B0 */  U,       U,       U,       U,       U,       U,       U,       U,
/* B8 */  U,       U,       U,       U,       U,       U,       U,       U,
/* C0 */  U,       U,       U,       U,       U,       U,       U,       U,
/* C8 */  U,       U,       U,       U,       Mb,      U,       Mb,      Mb,
/* D0 */  U,       U,       U,       U,       U,       U,       U,       U,
/* D8 */  U,       U,       U,       U,       U,       U,       U,       Mb,
/* E0 */  U,       U,       U,       U,       U,       U,       U,       U,
/* E8 */  U,       U,       U,       U,       U,       U,       U,       U,
/* F0 */  U,       U,       U,       U,       U,       U,       U,       U,
/* F8 */  U,       U,       U,       U,       U,       U,       U,       U,
},
};
