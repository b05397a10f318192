/* The decoder against a table of encodings. Each case is a mode, the
 * instruction's bytes (exactly one instruction) and the expected result:
 * "ud" (DECODE_INVALID), "more" (DECODE_NEED_MORE), or a list of
 * key=value pairs checked against struct insn (keys not given are not
 * checked). Every DECODE_OK case is also decoded
 *  - truncated at every length (must be DECODE_NEED_MORE, reading only
 *    the available bytes: each buffer is a heap block of exactly that
 *    size, so ASan catches any over-read), and
 *  - followed by garbage bytes (must give the same length).
 * The length of an OK case is always checked against the byte count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/emu/decode.h"

#define R   EMU_MODE_REAL
#define P16 EMU_MODE_PROT16
#define P32 EMU_MODE_PROT32
#define L64 EMU_MODE_LONG64

struct dcase {
	enum emu_mode mode;
	const char *hex;
	const char *expect;
};

/* ---- 64-bit mode: registers, REX, operand size, immediates ------------- */
static const struct dcase cases_64[] = {
	{ L64, "90", "op=0x90 map=0 os=4 as=8 modrm=0 rex=0 pfx=0 sse=none seg=none base=none idx=none" },
	{ L64, "89 c0", "op=0x89 modrm=1 mod=3 reg=0 rm=0 os=4 base=none idx=none" },
	{ L64, "48 89 d8", "rex=0x48 os=8 mod=3 reg=3 rm=0" },
	{ L64, "4c 89 c0", "rex=0x4c os=8 reg=8 rm=0" },
	{ L64, "49 89 c0", "rex=0x49 reg=0 rm=8" },
	{ L64, "40 88 e0", "rex=0x40 op=0x88 reg=4 rm=0 os=4" },      /* mov al, spl */
	{ L64, "88 e0", "rex=0 reg=4 rm=0" },                           /* mov al, ah */
	{ L64, "48 66 89 c0", "rex=0 os=2 pfx=0x08 reg=0" },            /* REX not last: ignored */
	{ L64, "66 48 89 c0", "rex=0x48 os=8 pfx=0x08" },               /* REX.W beats 66 */
	{ L64, "40 90", "rex=0x40 op=0x90" },
	{ L64, "48 48 89 c0", "rex=0x48 os=8" },
	{ L64, "41 48 89 c0", "rex=0x48 rm=0" },                        /* last REX wins */
	{ L64, "48 f3 0f b8 c0", "rex=0 os=4 sse=f3 map=1 op=0xb8" },
	{ L64, "49 90", "rex=0x49 op=0x90" },
	{ L64, "f3 90", "sse=f3 pfx=0x02 op=0x90" },
	{ L64, "63 c1", "op=0x63 os=4 reg=0 rm=1" },
	{ L64, "48 63 c1", "os=8" },
	{ L64, "b8 78 56 34 12", "os=4 imm=0x12345678" },
	{ L64, "66 b8 34 12", "os=2 imm=0x1234" },
	{ L64, "41 b8 01 00 00 00", "rex=0x41 os=4 imm=1" },
	{ L64, "48 b8 88 77 66 55 44 33 22 11", "os=8 imm=0x1122334455667788" },
	{ L64, "49 bf ff ff ff ff ff ff ff ff", "os=8 rex=0x49 imm=-1" },
	{ L64, "b0 ff", "imm=0xff" },
	{ L64, "48 c7 c0 ff ff ff ff", "os=8 mod=3 imm=-1" },
	{ L64, "c7 c0 ff ff ff ff", "os=4 imm=-1" },
	{ L64, "48 05 ff ff ff ff", "os=8 imm=-1" },
	{ L64, "66 05 ff ff", "os=2 imm=-1" },
	{ L64, "05 00 00 00 80", "imm=0xffffffff80000000" },
	{ L64, "04 ff", "imm=0xff" },
	{ L64, "a8 80", "imm=0x80" },
	{ L64, "a9 00 00 00 80", "imm=0xffffffff80000000" },
	{ L64, "69 c0 00 01 00 00", "imm=0x100 reg=0 rm=0" },
	{ L64, "66 69 c0 00 01", "os=2 imm=0x100" },
	{ L64, "48 6b c0 80", "os=8 imm=-128" },
	{ L64, "83 c0 ff", "os=4 reg=0 imm=-1" },
	{ L64, "83 f8 7f", "reg=7 imm=0x7f" },
	{ L64, "80 c0 ff", "imm=0xff" },
	{ L64, "81 e9 00 10 00 00", "reg=5 imm=0x1000" },
	{ L64, "c0 e0 ff", "reg=4 imm=0xff" },
	{ L64, "c1 e0 80", "imm=0x80" },
	{ L64, "d1 e0", "reg=4 mod=3" },
	{ L64, "d3 f8", "reg=7" },
	{ L64, "c6 00 ff", "mod=0 base=0 imm=0xff" },
	{ L64, "66 c7 00 34 12", "os=2 imm=0x1234" },
	{ L64, "c7 44 24 08 01 00 00 00", "base=4 idx=none disp=8 imm=1" },
	{ L64, "48 c7 84 24 00 01 00 00 ff ff ff ff", "os=8 base=4 disp=0x100 imm=-1" },
	{ L64, "cd 80", "imm=0x80" },
	{ L64, "cc", "op=0xcc" },
	{ L64, "f1", "op=0xf1" },
	{ L64, "f4", "op=0xf4" },
	{ L64, "e4 80", "imm=0x80" },
	{ L64, "e5 40", "imm=0x40" },
	{ L64, "e6 ff", "imm=0xff" },
	{ L64, "e7 ff", "imm=0xff" },
	{ L64, "ec", "op=0xec" },
	{ L64, "6c", "op=0x6c" },
	{ L64, "9e", "op=0x9e" },
	{ L64, "d7", "op=0xd7" },
	{ L64, "8c d8", "reg=3 rm=0" },
	{ L64, "8e d8", "reg=3 rm=0" },
	{ L64, "cf", "os=4" },
	{ L64, "48 cf", "os=8" },
	{ L64, "cb", "os=4" },
	{ L64, "ca 08 00", "os=4 imm=8" },
	{ L64, "48 8d 05 00 00 00 00", "op=0x8d os=8 rip=1" },
	/* group 3: TEST has an immediate, the others do not */
	{ L64, "f6 c0 01", "reg=0 imm=1" },
	{ L64, "f6 c8 01", "reg=1 imm=1" },
	{ L64, "f6 d0", "reg=2 imm=0" },
	{ L64, "f6 d8", "reg=3" },
	{ L64, "f6 f1", "reg=6" },
	{ L64, "f6 4d 08 ff", "reg=1 base=5 disp=8 imm=0xff" },
	{ L64, "f7 c0 ff ff ff ff", "imm=-1" },
	{ L64, "66 f7 c0 34 12", "os=2 imm=0x1234" },
	{ L64, "48 f7 d8", "os=8 reg=3" },
	{ L64, "f7 f1", "reg=6" },
	{ L64, "48 f7 00 00 00 00 80", "os=8 reg=0 imm=0xffffffff80000000" },
	{ L64, "f7 05 10 00 00 00 01 00 00 00", "rip=1 disp=0x10 imm=1" },
	{ L64, "f7 15 10 00 00 00", "reg=2 rip=1 disp=0x10" },
	/* 64-bit operand-size defaults */
	{ L64, "50", "os=8" },
	{ L64, "66 50", "os=2" },
	{ L64, "41 5f", "os=8 rex=0x41" },
	{ L64, "48 50", "os=8" },
	{ L64, "68 fe ff ff ff", "os=8 imm=-2" },
	{ L64, "66 68 34 12", "os=2 imm=0x1234" },
	{ L64, "6a ff", "os=8 imm=-1" },
	{ L64, "6a 7f", "os=8 imm=0x7f" },
	{ L64, "9c", "os=8" },
	{ L64, "66 9c", "os=2" },
	{ L64, "9d", "os=8" },
	{ L64, "c3", "os=8" },
	{ L64, "66 c3", "os=2" },
	{ L64, "c2 08 00", "os=8 imm=8" },
	{ L64, "c8 10 00 01", "os=8 imm=16 imm2=1" },
	{ L64, "c8 ff ff 1f", "imm=0xffff imm2=0x1f" },
	{ L64, "c9", "os=8" },
	{ L64, "8f 00", "os=8 reg=0 base=0" },
	{ L64, "0f a0", "map=1 op=0xa0 os=8" },
	{ L64, "0f a1", "os=8" },
	{ L64, "0f a8", "os=8" },
	{ L64, "66 0f a9", "os=2" },
	{ L64, "ff d0", "os=8 reg=2 rm=0 mod=3" },
	{ L64, "66 ff d0", "os=8" },                     /* near branches ignore 66 */
	{ L64, "41 ff e3", "os=8 reg=4 rm=11" },
	{ L64, "ff 30", "os=8 reg=6 base=0" },
	{ L64, "66 ff 30", "os=2 reg=6" },
	{ L64, "ff 00", "os=4 reg=0" },
	{ L64, "48 ff c0", "os=8 reg=0" },
	{ L64, "ff 18", "os=4 reg=3" },
	{ L64, "48 ff 28", "os=8 reg=5" },
	{ L64, "fe c0", "reg=0" },
	/* branches */
	{ L64, "74 fe", "op=0x74 os=8 imm=-2" },
	{ L64, "0f 84 00 01 00 00", "map=1 op=0x84 os=8 imm=0x100" },
	{ L64, "0f 85 fa ff ff ff", "imm=-6" },
	{ L64, "66 0f 84 10 00 00 00", "os=8 imm=0x10" },
	{ L64, "e8 00 00 00 00", "os=8 imm=0" },
	{ L64, "e9 fb ff ff ff", "os=8 imm=-5" },
	{ L64, "66 e9 fb ff ff ff", "os=8 imm=-5" },
	{ L64, "eb 80", "os=8 imm=-128" },
	{ L64, "e2 fe", "os=8 imm=-2" },
	{ L64, "e0 10", "imm=16" },
	{ L64, "e3 05", "as=8 imm=5" },
	{ L64, "67 e3 05", "as=4 pfx=0x10 imm=5" },
	{ L64, "3e 74 05", "seg=none imm=5" },           /* branch hint */
	/* moffs */
	{ L64, "a1 88 77 66 55 44 33 22 11", "modrm=0 as=8 os=4 imm=0x1122334455667788 base=none" },
	{ L64, "67 a1 44 33 22 11", "as=4 imm=0x11223344" },
	{ L64, "48 a3 08 07 06 05 04 03 02 01", "os=8 as=8 imm=0x0102030405060708" },
	{ L64, "a0 00 00 00 00 00 00 00 80", "imm=0x8000000000000000" },
	{ L64, "66 a1 00 00 00 00 00 00 00 00", "os=2 as=8" },
	/* x87 */
	{ L64, "d9 c0", "op=0xd9 mod=3 reg=0" },
	{ L64, "dd 45 f8", "base=5 disp=-8 reg=0" },
	{ L64, "df e0", "reg=4 mod=3" },
	{ L64, "d9 2c 24", "reg=5 base=4 idx=none" },
	{ L64, "9b", "op=0x9b" },
	{ L64, "db e3", "reg=4 rm=3" },
	{ L64, "dc 0d 00 01 00 00", "rip=1 reg=1 disp=0x100" },
	{ L64, "de f9", "op=0xde" },
};

/* ---- 64-bit ModRM/SIB/displacement ------------------------------------- */
static const struct dcase cases_addr64[] = {
	{ L64, "48 8b 05 78 56 34 12", "rip=1 base=none idx=none disp=0x12345678 os=8 reg=0" },
	{ L64, "48 81 05 78 56 34 12 01 00 00 00", "rip=1 os=8 reg=0 disp=0x12345678 imm=1" },
	{ L64, "c7 05 f0 ff ff ff 44 33 22 11", "rip=1 disp=-16 imm=0x11223344" },
	{ L64, "66 c7 05 f0 ff ff ff 44 33", "rip=1 os=2 disp=-16 imm=0x3344" },
	{ L64, "80 3d 00 00 00 00 01", "rip=1 reg=7 imm=1" },
	{ L64, "66 0f 3a 0f 05 00 01 00 00 07", "rip=1 map=3 op=0x0f disp=0x100 imm=7" },
	{ L64, "8b 04 24", "base=4 idx=none sc=1 mod=0" },
	{ L64, "41 8b 04 24", "base=12 idx=none rex=0x41" },
	{ L64, "8b 45 00", "base=5 disp=0 mod=1" },
	{ L64, "41 8b 45 00", "base=13 disp=0" },
	{ L64, "41 8b 05 00 00 00 00", "rip=1 base=none rm=13" },   /* REX.B does not undo RIP-relative */
	{ L64, "8b 04 25 78 56 34 12", "rip=0 base=none idx=none disp=0x12345678" },
	{ L64, "8b 04 8d 00 01 00 00", "base=none idx=1 sc=4 disp=0x100" },
	{ L64, "42 8b 04 20", "base=0 idx=12 sc=1" },         /* r12 as index via REX.X */
	{ L64, "8b 04 20", "base=0 idx=none" },
	{ L64, "43 8b 44 fd 80", "base=13 idx=15 sc=8 disp=-128" },
	{ L64, "41 8b 04 25 00 10 00 00", "base=none idx=none disp=0x1000 rip=0" },
	{ L64, "8b 84 c8 00 00 00 80", "base=0 idx=1 sc=8 disp=-2147483648" },
	{ L64, "8b 80 78 56 34 12", "base=0 disp=0x12345678 mod=2" },
	{ L64, "8b 40 ff", "base=0 disp=-1 mod=1" },
	{ L64, "4d 8b 3f", "os=8 reg=15 rm=15 base=15" },
	{ L64, "4e 8b 3c 3f", "os=8 reg=15 base=7 idx=15" },
	{ L64, "67 8b 00", "as=4 base=0" },
	{ L64, "67 8b 05 10 00 00 00", "as=4 rip=1 disp=0x10" },
	{ L64, "67 41 8b 44 24 04", "as=4 base=12 disp=4" },
	{ L64, "8d 04 8d 00 00 00 00", "op=0x8d base=none idx=1 sc=4 disp=0" },
	{ L64, "0f b6 04 0a", "map=1 op=0xb6 base=2 idx=1 sc=1" },
	{ L64, "8b 64 24 f0", "reg=4 base=4 disp=-16" },
	{ L64, "8b 6c 85 10", "reg=5 base=5 idx=0 sc=4 disp=16" },
	{ L64, "8b 44 ad 00", "base=5 idx=5 sc=4 disp=0" },
	{ L64, "8b 04 ed 00 00 00 00", "base=none idx=5 sc=8" },
	{ L64, "64 48 8b 04 25 28 00 00 00", "seg=fs os=8 base=none disp=0x28" },
	{ L64, "65 48 8b 04 25 00 00 00 00", "seg=gs" },
	{ L64, "65 4c 89 24 25 10 00 00 00", "seg=gs reg=12" },
	{ L64, "2e 8b 00", "seg=none" },
	{ L64, "26 36 3e 8b 00", "seg=none" },
	{ L64, "64 3e 8b 00", "seg=fs" },
	{ L64, "3e 64 8b 00", "seg=fs" },
	{ L64, "65 64 8b 00", "seg=fs" },
};

/* ---- legacy modes: 16-bit addressing, far pointers, size toggles ------- */
static const struct dcase cases_legacy[] = {
	{ R, "8b 00", "os=2 as=2 base=3 idx=6 sc=1" },            /* [bx+si] */
	{ R, "8b 01", "base=3 idx=7" },                           /* [bx+di] */
	{ R, "8b 02", "base=5 idx=6" },                           /* [bp+si] */
	{ R, "8b 03", "base=5 idx=7" },                           /* [bp+di] */
	{ R, "8b 04", "base=6 idx=none" },                        /* [si] */
	{ R, "8b 05", "base=7 idx=none" },                        /* [di] */
	{ R, "8b 06 34 12", "base=none idx=none disp=0x1234" },   /* [disp16] */
	{ R, "8b 07", "base=3 idx=none" },                        /* [bx] */
	{ R, "8b 46 fe", "base=5 idx=none disp=-2" },             /* [bp-2] */
	{ R, "8b 86 00 80", "base=5 disp=-32768" },
	{ R, "8b 40 10", "base=3 idx=6 disp=16" },
	{ R, "8b 99 34 12", "reg=3 base=3 idx=7 disp=0x1234" },
	{ R, "8b 9f 34 12", "reg=3 base=3 idx=none disp=0x1234" },
	{ R, "89 e5", "mod=3 reg=4 rm=5" },
	{ R, "66 8b 00", "os=4 as=2" },
	{ R, "67 8b 04 24", "as=4 os=2 base=4 idx=none" },
	{ R, "67 8b 05 78 56 34 12", "as=4 rip=0 base=none disp=0x12345678" },
	{ R, "66 67 8b 44 88 10", "os=4 as=4 base=0 idx=1 sc=4 disp=16" },
	{ R, "0f 84 fe 7f", "os=2 imm=0x7ffe" },
	{ R, "0f 84 00 80", "imm=0xffffffffffff8000" },
	{ R, "74 fe", "os=2 imm=-2" },
	{ R, "e3 fe", "as=2" },
	{ R, "e8 fd ff", "os=2 imm=-3" },
	{ R, "e9 00 10", "imm=0x1000" },
	{ R, "68 34 12", "os=2 imm=0x1234" },
	{ R, "66 68 78 56 34 12", "os=4 imm=0x12345678" },
	{ R, "6a 80", "os=2 imm=-128" },
	{ R, "b8 34 12", "os=2 imm=0x1234" },
	{ R, "66 b8 78 56 34 12", "os=4 imm=0x12345678" },
	{ R, "c8 08 00 00", "os=2 imm=8 imm2=0" },
	{ R, "cd 10", "imm=0x10" },
	{ R, "26 8b 07", "seg=es base=3" },
	{ R, "2e 8b 07", "seg=cs" },
	{ R, "36 8b 07", "seg=ss" },
	{ R, "3e 8b 07", "seg=ds" },
	{ R, "64 8b 07", "seg=fs" },
	{ R, "65 8b 07", "seg=gs" },
	{ R, "a0 34 12", "as=2 imm=0x1234" },
	{ R, "67 a0 78 56 34 12", "as=4 imm=0x12345678" },
	{ R, "ea 5b e0 00 f0", "imm=0xe05b imm2=0xf000 os=2" },
	{ R, "66 ea 78 56 34 12 08 00", "os=4 imm=0x12345678 imm2=8" },
	{ R, "0f 01 16 34 12", "reg=2 base=none disp=0x1234" },
	{ R, "0f 20 c0", "os=4 reg=0 rm=0" },
	{ R, "0f 22 c0", "os=4" },
	{ R, "40", "op=0x40 rex=0" },
	{ R, "62 c0", "ud" },
	{ R, "c4 c0", "ud" },
	{ R, "c4 06 34 12", "base=none disp=0x1234" },
	{ R, "8e d0", "reg=2" },
	{ R, "f3 a5", "pfx=0x02 os=2" },
	{ R, "e4 61", "imm=0x61" },
	{ P16, "ea 34 12 00 f0", "imm=0x1234 imm2=0xf000" },
	{ P16, "66 0f 84 78 56 34 12", "os=4 imm=0x12345678" },
	{ P16, "e9 00 10", "os=2" },
	{ P16, "c4 c0", "ud" },
	{ P16, "c5 f8 77", "ud" },
	{ P16, "9a 00 00 08 00", "imm=0 imm2=8" },
	{ P32, "8b 05 78 56 34 12", "as=4 os=4 rip=0 base=none disp=0x12345678" },
	{ P32, "66 8b 00", "os=2 as=4 base=0" },
	{ P32, "67 8b 00", "as=2 base=3 idx=6" },
	{ P32, "67 8b 06 34 12", "as=2 base=none disp=0x1234" },
	{ P32, "8b 04 24", "base=4 idx=none" },
	{ P32, "8b 44 8d 08", "base=5 idx=1 sc=4 disp=8" },
	{ P32, "40", "op=0x40 rex=0" },
	{ P32, "48", "op=0x48 rex=0" },
	{ P32, "4f", "op=0x4f" },
	{ P32, "06", "op=0x06" },
	{ P32, "07", "op=0x07" },
	{ P32, "0e", "op=0x0e" },
	{ P32, "1f", "op=0x1f" },
	{ P32, "27", "op=0x27" },
	{ P32, "60", "op=0x60" },
	{ P32, "61", "op=0x61" },
	{ P32, "ce", "op=0xce" },
	{ P32, "d6", "op=0xd6" },
	{ P32, "d4 0a", "imm=10" },
	{ P32, "d5 0a", "imm=10" },
	{ P32, "82 c0 01", "imm=1 reg=0" },
	{ P32, "62 00", "op=0x62 base=0" },
	{ P32, "62 c0", "ud" },
	{ P32, "c4 00", "op=0xc4 base=0" },
	{ P32, "c5 06", "op=0xc5 base=6" },
	{ P32, "c4 e2 79 00 c1", "ud" },
	{ P32, "c5 f8 77", "ud" },
	{ P32, "9a 78 56 34 12 08 00", "os=4 imm=0x12345678 imm2=8" },
	{ P32, "66 ea 34 12 10 00", "os=2 imm=0x1234 imm2=0x10" },
	{ P32, "66 0f 84 34 12", "os=2 imm=0x1234" },
	{ P32, "a1 44 33 22 11", "as=4 imm=0x11223344" },
	{ P32, "67 a1 34 12", "as=2 imm=0x1234" },
	{ P32, "64 8b 00", "seg=fs" },
	{ P32, "64 3e 8b 00", "seg=ds" },
	{ P32, "66 f3 2e 0f b8 c0", "seg=cs os=2 sse=f3 pfx=0x0a map=1 op=0xb8" },
	{ P32, "50", "os=4" },
	{ P32, "66 50", "os=2" },
	{ P32, "6a ff", "os=4 imm=-1" },
	{ P32, "ff 25 78 56 34 12", "os=4 reg=4 base=none disp=0x12345678" },
	{ P32, "e8 00 00 00 00", "os=4" },
	{ P32, "66 e8 00 00", "os=2" },
	{ P32, "c3", "os=4" },
	{ P32, "63 c1", "op=0x63" },
	{ P32, "0f 20 c0", "os=4" },
	{ P32, "66 0f 20 c0", "os=4" },
	{ P32, "0f 22 d8", "reg=3 rm=0 os=4" },
	{ P32, "0f 34", "op=0x34 map=1" },
	{ P32, "c8 00 01 00", "os=4 imm=0x100 imm2=0" },
};

/* ---- prefixes, SSE, the 0F and three-byte maps, system opcodes --------- */
static const struct dcase cases_0f[] = {
	{ L64, "66 f3 2e 0f b8 c0", "seg=none os=2 sse=f3 pfx=0x0a" },
	{ L64, "f3 66 0f b8 c0", "os=2 sse=f3" },
	{ L64, "f3 48 0f b8 c0", "os=8 rex=0x48 sse=f3" },
	{ L64, "f2 f3 0f 10 c1", "sse=f3 pfx=0x02" },
	{ L64, "f3 f2 0f 10 c1", "sse=f2 pfx=0x04" },
	{ L64, "66 0f 6f c1", "map=1 op=0x6f sse=66 reg=0 rm=1" },
	{ L64, "f3 0f 6f c1", "sse=f3" },
	{ L64, "0f 6f c1", "sse=none" },
	{ L64, "66 f3 0f 6f c1", "sse=f3 pfx=0x0a" },
	{ L64, "f3 66 0f 6f c1", "sse=f3" },
	{ L64, "66 f2 66 0f 7c c1", "sse=f2" },
	{ L64, "66 66 66 90", "os=2" },
	{ L64, "f3 a4", "pfx=0x02" },
	{ L64, "f2 ae", "pfx=0x04" },
	{ L64, "f3 48 a5", "pfx=0x02 os=8 rex=0x48" },
	{ L64, "f0 48 0f b1 0a", "pfx=0x01 os=8 reg=1 base=2" },
	{ L64, "f0 ff 00", "pfx=0x01" },
	{ L64, "f0 90", "pfx=0x01" },
	{ L64, "f0 f0 f0 83 00 01", "pfx=0x01 imm=1" },
	{ L64, "44 0f 28 c1", "reg=8 rm=1" },
	{ L64, "66 45 0f ef ff", "reg=15 rm=15 sse=66" },
	{ L64, "66 48 0f 7e c0", "os=8 sse=66" },
	{ L64, "66 0f d6 c1", "op=0xd6" },
	{ L64, "66 0f e7 00", "op=0xe7 base=0" },
	{ L64, "0f 77", "op=0x77" },
	{ L64, "66 0f 70 c1 1b", "imm=0x1b" },
	{ L64, "f2 0f 70 c1 1b", "sse=f2 imm=0x1b" },
	{ L64, "66 0f 73 f8 08", "reg=7 imm=8" },
	{ L64, "66 0f 73 d8 04", "reg=3 imm=4" },
	{ L64, "0f 71 d0 02", "reg=2 imm=2" },
	{ L64, "0f 72 e0 ff", "imm=0xff" },
	{ L64, "0f c2 c1 01", "imm=1" },
	{ L64, "66 0f c6 c1 44", "imm=0x44" },
	{ L64, "66 0f c4 c0 07", "imm=7" },
	{ L64, "0f c5 c1 03", "imm=3" },
	{ L64, "0f 10 04 24", "base=4" },
	{ L64, "0f 5a c1", "op=0x5a" },
	{ L64, "f2 0f f0 00", "sse=f2 op=0xf0" },
	{ L64, "0f ff 00", "op=0xff" },
	{ L64, "0f ba e0 05", "reg=4 imm=5" },
	{ L64, "48 0f ba 28 3f", "reg=5 os=8 imm=0x3f" },
	{ L64, "0f a4 c2 04", "imm=4" },
	{ L64, "0f ac c2 04", "imm=4" },
	{ L64, "0f a5 c2", "op=0xa5" },
	{ L64, "0f af c1", "op=0xaf" },
	{ L64, "0f 44 c1", "op=0x44" },
	{ L64, "0f 94 c0", "op=0x94" },
	{ L64, "0f c1 08", "op=0xc1 reg=1" },
	{ L64, "0f c8", "op=0xc8 modrm=0" },
	{ L64, "49 0f cf", "rex=0x49 os=8" },
	{ L64, "0f a3 c8", "op=0xa3" },
	{ L64, "0f b3 c8", "op=0xb3" },
	{ L64, "0f bb c8", "op=0xbb" },
	{ L64, "0f be c0", "op=0xbe" },
	{ L64, "48 0f bf c0", "os=8" },
	{ L64, "0f b2 00", "op=0xb2" },
	{ L64, "0f 02 c0", "op=0x02" },
	{ L64, "0f 03 c0", "op=0x03" },
	/* 0F AE */
	{ L64, "0f ae 10", "reg=2 mod=0 base=0" },
	{ L64, "0f ae 18", "reg=3" },
	{ L64, "0f ae f0", "reg=6 mod=3" },
	{ L64, "0f ae e8", "reg=5 mod=3" },
	{ L64, "0f ae f8", "reg=7 mod=3" },
	{ L64, "0f ae 38", "reg=7 mod=0" },
	{ L64, "66 0f ae 38", "reg=7 sse=66" },
	{ L64, "48 0f ae 00", "reg=0 rex=0x48 os=8" },
	{ L64, "0f ae 08", "reg=1" },
	{ L64, "0f ae 64 24 40", "reg=4 base=4 disp=0x40" },
	{ L64, "f3 48 0f ae c0", "sse=f3 reg=0 mod=3 os=8" },
	/* 0F C7 */
	{ L64, "0f c7 0e", "reg=1 base=6" },
	{ L64, "48 0f c7 0e", "reg=1 os=8" },
	{ L64, "f0 48 0f c7 0e", "pfx=0x01" },
	{ L64, "0f c7 f0", "reg=6 mod=3" },
	{ L64, "48 0f c7 f8", "reg=7 os=8" },
	{ L64, "f3 0f c7 f8", "reg=7 sse=f3" },
	/* 0F 01 and 0F 00 */
	{ L64, "0f 01 d0", "map=1 op=0x01 mod=3 reg=2 rm=0" },
	{ L64, "0f 01 d1", "reg=2 rm=1" },
	{ L64, "0f 01 f8", "reg=7 rm=0" },
	{ L64, "0f 01 f9", "reg=7 rm=1" },
	{ L64, "0f 01 c1", "reg=0 rm=1" },
	{ L64, "0f 01 ca", "reg=1 rm=2" },
	{ L64, "0f 01 cb", "reg=1 rm=3" },
	{ L64, "0f 01 15 00 10 00 00", "reg=2 rip=1 disp=0x1000" },
	{ L64, "0f 01 1c 24", "reg=3 base=4" },
	{ L64, "0f 01 38", "reg=7 base=0" },
	{ L64, "0f 01 04 25 00 00 00 00", "reg=0 base=none" },
	{ L64, "0f 00 d8", "reg=3 mod=3" },
	{ L64, "0f 00 10", "reg=2 base=0" },
	{ L64, "0f 00 e0", "reg=4" },
	/* prefetch and hint nops */
	{ L64, "0f 0d 08", "reg=1" },
	{ L64, "0f 18 08", "reg=1" },
	{ L64, "0f 18 00", "reg=0" },
	{ L64, "0f 1f 00", "op=0x1f" },
	{ L64, "0f 1f 44 00 00", "base=0 idx=0 disp=0" },
	{ L64, "66 0f 1f 84 00 00 00 00 00", "os=2 base=0 idx=0" },
	{ L64, "66 2e 0f 1f 84 00 00 00 00 00", "os=2 seg=none" },
	{ L64, "f3 0f 1e fa", "sse=f3 op=0x1e mod=3 reg=7 rm=2" },
	/* popcnt / tzcnt / lzcnt / bsf / bsr */
	{ L64, "f3 0f b8 c1", "sse=f3 op=0xb8" },
	{ L64, "f3 0f bc c1", "sse=f3 op=0xbc" },
	{ L64, "f3 48 0f bd c1", "sse=f3 os=8" },
	{ L64, "0f bc c1", "sse=none" },
	{ L64, "66 0f bd c1", "os=2 sse=66" },
	/* MOV CR/DR */
	{ L64, "0f 20 c0", "os=8 mod=3 reg=0 rm=0" },
	{ L64, "44 0f 20 c0", "os=8 reg=8" },
	{ L64, "0f 22 18", "mod=3 reg=3 rm=0 base=none" },
	{ L64, "0f 20 05", "mod=3 rm=5 rip=0 base=none" },
	{ L64, "0f 22 d8", "reg=3" },
	{ L64, "66 0f 22 d8", "os=8" },
	{ L64, "0f 23 f8", "reg=7 os=8" },
	{ L64, "0f 21 f0", "reg=6" },
	/* system */
	{ L64, "0f 05", "map=1 op=0x05 modrm=0" },
	{ L64, "0f 07", "op=0x07 os=4" },
	{ L64, "48 0f 07", "os=8" },
	{ L64, "0f a2", "op=0xa2" },
	{ L64, "0f 31", "op=0x31" },
	{ L64, "0f 30", "op=0x30" },
	{ L64, "0f 32", "op=0x32" },
	{ L64, "0f 06", "op=0x06" },
	{ L64, "0f 09", "op=0x09" },
	{ L64, "0f 0b", "op=0x0b" },
	{ L64, "0f b9 c0", "op=0xb9" },
	/* three-byte maps */
	{ L64, "66 0f 38 00 c1", "map=2 op=0x00 sse=66 reg=0 rm=1" },
	{ L64, "0f 38 00 c1", "map=2 sse=none" },
	{ L64, "66 0f 38 17 c1", "op=0x17" },
	{ L64, "66 0f 38 2a 00", "op=0x2a" },
	{ L64, "66 0f 38 3f c1", "op=0x3f" },
	{ L64, "66 0f 38 41 c1", "op=0x41" },
	{ L64, "66 0f 38 82 10", "op=0x82 reg=2" },
	{ L64, "66 0f 3a 0f c1 08", "map=3 op=0x0f imm=8" },
	{ L64, "66 0f 3a 0f 44 24 10 04", "map=3 base=4 disp=16 imm=4" },
	{ L64, "0f 38 f0 07", "map=2 op=0xf0 base=7" },
	{ L64, "0f 38 f1 07", "op=0xf1" },
	{ L64, "66 0f 38 f1 07", "os=2" },
	{ L64, "f2 0f 38 f1 c1", "sse=f2" },
	{ L64, "f2 48 0f 38 f1 c1", "sse=f2 os=8" },
	{ L64, "f2 0f 38 f0 c1", "sse=f2 op=0xf0" },
	{ L64, "66 0f 38 f6 c1", "op=0xf6" },
	{ L64, "66 0f 3a 63 c1 0c", "imm=0x0c" },
	{ L64, "66 0f 3a 44 c1 11", "imm=0x11" },
	{ L64, "66 0f 38 dc c1", "op=0xdc" },
	{ L64, "66 0f 3a df c1 01", "op=0xdf imm=1" },
	{ L64, "0f 3a cc c1 00", "op=0xcc imm=0" },
	{ L64, "66 0f 3a 16 c0 01", "imm=1" },
	{ L64, "66 48 0f 3a 16 c0 01", "os=8 imm=1" },
	{ L64, "66 0f 3a 22 c0 01", "op=0x22" },
	{ L64, "66 0f 3a 08 c1 04", "op=0x08" },
	{ L64, "66 41 0f 3a 0f 44 24 10 04", "base=12 disp=16 imm=4" },
};

/* ---- invalid, truncated, and the 15-byte limit -------------------------- */
static const struct dcase cases_bad[] = {
	{ L64, "06", "ud" }, { L64, "07", "ud" }, { L64, "0e", "ud" },
	{ L64, "16", "ud" }, { L64, "17", "ud" }, { L64, "1e", "ud" },
	{ L64, "1f", "ud" }, { L64, "27", "ud" }, { L64, "2f", "ud" },
	{ L64, "37", "ud" }, { L64, "3f", "ud" }, { L64, "60", "ud" },
	{ L64, "61", "ud" }, { L64, "62 00", "ud" }, { L64, "62 c0", "ud" },
	{ L64, "82 c0 01", "ud" }, { L64, "9a 00 00 00 00 00 00", "ud" },
	{ L64, "c4 e2 79 00 c1", "ud" }, { L64, "c5 f8 77", "ud" },
	{ L64, "c4 00", "ud" }, { L64, "ce", "ud" }, { L64, "d4 0a", "ud" },
	{ L64, "d5 0a", "ud" }, { L64, "d6", "ud" },
	{ L64, "ea 00 00 00 00 00 00", "ud" },
	{ L64, "66 06", "ud" },
	{ L64, "62 f1 7c 48 10 00", "ud" },             /* EVEX */
	{ L64, "0f 0f c1 b4", "ud" },                   /* 3DNow! */
	{ L64, "0f 0e", "ud" },
	{ L64, "0f 04", "ud" },
	{ L64, "0f 0a", "ud" },
	{ L64, "0f 24 c0", "ud" },
	{ L64, "0f 36", "ud" },
	{ L64, "0f 39", "ud" },
	{ L64, "0f 3b", "ud" },
	{ L64, "0f 78 c0", "ud" },
	{ L64, "0f a6", "ud" },
	{ L64, "0f 38 0c c1", "ud" },
	{ L64, "0f 38 ff c1", "ud" },
	{ L64, "0f 3a 00 c1 00", "ud" },
	{ L64, "0f 3a ff c1 00", "ud" },
	/* truncated */
	{ L64, "", "more" },
	{ L64, "66", "more" },
	{ L64, "48", "more" },
	{ P32, "48", "op=0x48" },
	{ L64, "0f", "more" },
	{ L64, "0f 38", "more" },
	{ L64, "66 0f 3a 0f c1", "more" },
	{ L64, "48 b8 01 02 03 04 05 06 07", "more" },
	{ L64, "8b 04", "more" },
	{ L64, "8b 80 00 00 00", "more" },
	{ P32, "c4", "more" },
	{ P32, "62", "more" },
	{ L64, "f6 c0", "more" },
	/* 15 bytes: 14 prefixes + opcode is fine, 15 + opcode is not */
	{ L64, "66 66 66 66 66 66 66 66 66 66 66 66 66 66 90", "os=2" },
	{ L64, "66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 90", "ud" },
	{ L64, "66 66 66 66 66 66 66 66 66 66 66 66 66 66 66", "ud" },
	{ L64, "66 66 66 66 66 66 66 66 66 66 66 66 66 66", "more" },
	{ L64, "26 2e 3e 48 81 84 c8 78 56 34 12 01 00 00 00", "os=8 base=0 idx=1 sc=8 disp=0x12345678 imm=1" },
	{ L64, "26 2e 3e 36 48 81 84 c8 78 56 34 12 01 00 00 00", "ud" },
	{ L64, "26 2e 3e 36 48 81 84 c8 78 56 34", "ud" },   /* known too long before the end */
	{ L64, "f3 f3 f3 f3 f3 f3 f3 f3 f3 f3 f3 f3 f3 f3 f3 f3 f3", "ud" },
	{ R, "66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 90", "ud" },
	{ R, "66 66 66 66 66 66 66 66 66 66 66 66 66 b8 34 12 00", "ud" },
	{ R, "66 66 66 66 66 66 66 66 66 66 66 66 b8 34 12", "ud" },        /* 66: imm32 */
	{ R, "26 26 26 26 26 26 26 26 26 26 26 26 b8 34 12", "os=2 imm=0x1234 seg=es" },
};

/* ---- the checker -------------------------------------------------------- */

static size_t parse_hex(const char *s, uint8_t *buf, size_t cap)
{
	size_t n = 0;

	while (*s) {
		char *end;
		unsigned long v;

		if (*s == ' ') {
			s++;
			continue;
		}
		v = strtoul(s, &end, 16);
		assert_true(end == s + 2 && v <= 0xff && n < cap);
		buf[n++] = (uint8_t)v;
		s = end;
	}
	return n;
}

static uint64_t parse_value(const char *key, const char *v)
{
	static const char *const segs[] = { "es", "cs", "ss", "ds", "fs", "gs" };
	static const char *const sses[] = { "none", "66", "f3", "f2" };

	if (!strcmp(key, "sse")) {
		for (unsigned i = 0; i < 4; i++)
			if (!strcmp(v, sses[i]))
				return i;
		fail_msg("bad sse value %s", v);
	}
	if (!strcmp(v, "none"))
		return 0xff;
	if (!strcmp(key, "seg"))
		for (unsigned i = 0; i < 6; i++)
			if (!strcmp(v, segs[i]))
				return i;
	return strtoull(v, NULL, 0);  /* "-1" wraps to all ones, as wanted */
}

static uint64_t field(const struct insn *in, const char *key)
{
	if (!strcmp(key, "len")) return in->len;
	if (!strcmp(key, "map")) return in->map;
	if (!strcmp(key, "op")) return in->op;
	if (!strcmp(key, "pfx")) return in->prefixes;
	if (!strcmp(key, "sse")) return in->sse_prefix;
	if (!strcmp(key, "seg")) return in->seg;
	if (!strcmp(key, "rex")) return in->rex;
	if (!strcmp(key, "os")) return in->opsize;
	if (!strcmp(key, "as")) return in->adsize;
	if (!strcmp(key, "modrm")) return in->has_modrm;
	if (!strcmp(key, "mod")) return in->mod;
	if (!strcmp(key, "reg")) return in->reg;
	if (!strcmp(key, "rm")) return in->rm;
	if (!strcmp(key, "base")) return in->base;
	if (!strcmp(key, "idx")) return in->index;
	if (!strcmp(key, "sc")) return in->scale;
	if (!strcmp(key, "rip")) return in->rip_relative;
	if (!strcmp(key, "disp")) return (uint64_t)in->disp;
	if (!strcmp(key, "imm")) return in->imm;
	if (!strcmp(key, "imm2")) return in->imm2;
	fail_msg("unknown key %s", key);
	return 0;
}

/* Decode from a heap block of exactly n bytes so over-reads are caught. */
static enum decode_status decode_exact(struct insn *in, const uint8_t *bytes, size_t n,
				       enum emu_mode mode)
{
	uint8_t *copy = malloc(n ? n : 1);
	enum decode_status st;

	assert_non_null(copy);
	memcpy(copy, bytes, n);
	memset(in, 0, sizeof(*in));  /* padding too, for the memcmp below */
	st = emu_decode(in, copy, n, mode);
	free(copy);
	return st;
}

/* Returns the number of mismatches (reported on stdout). */
static int check_case(const struct dcase *c)
{
	uint8_t bytes[32];
	size_t n = parse_hex(c->hex, bytes, sizeof(bytes));
	struct insn in;
	enum decode_status st = decode_exact(&in, bytes, n, c->mode);
	int bad = 0;

	if (!strcmp(c->expect, "ud") || !strcmp(c->expect, "more")) {
		enum decode_status want = c->expect[0] == 'u' ? DECODE_INVALID : DECODE_NEED_MORE;

		if (st != want) {
			printf("[%s] mode %d: status %d, want %s\n", c->hex, c->mode, st, c->expect);
			return 1;
		}
		return 0;
	}
	if (st != DECODE_OK) {
		printf("[%s] mode %d: status %d, want ok\n", c->hex, c->mode, st);
		return 1;
	}
	if (in.len != n) {
		printf("[%s] mode %d: len %u, want %zu\n", c->hex, c->mode, in.len, n);
		bad++;
	}

	/* key=value pairs */
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", c->expect);
	for (char *save, *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');

		assert_non_null(eq);
		*eq = 0;
		uint64_t want = parse_value(tok, eq + 1), got = field(&in, tok);
		if (got != want) {
			printf("[%s] mode %d: %s = %#llx, want %#llx\n", c->hex, c->mode, tok,
			       (unsigned long long)got, (unsigned long long)want);
			bad++;
		}
	}

	/* invariants of every OK decode */
	if (in.opsize != 2 && in.opsize != 4 && in.opsize != 8)
		bad++, printf("[%s]: opsize %u\n", c->hex, in.opsize);
	if (in.scale != 1 && in.scale != 2 && in.scale != 4 && in.scale != 8)
		bad++, printf("[%s]: scale %u\n", c->hex, in.scale);
	if (!insn_has_mem(&in) && (in.base != INSN_NO_REG || in.index != INSN_NO_REG ||
				   in.disp || in.rip_relative))
		bad++, printf("[%s]: memory fields without a memory operand\n", c->hex);
	if (in.rex && c->mode != L64)
		bad++, printf("[%s]: rex outside 64-bit mode\n", c->hex);

	/* every truncation needs more bytes */
	for (size_t k = 0; k < n; k++) {
		struct insn t;

		st = decode_exact(&t, bytes, k, c->mode);
		if (st != DECODE_NEED_MORE) {
			printf("[%s] mode %d: truncated to %zu: status %d, want more\n", c->hex,
			       c->mode, k, st);
			bad++;
		}
	}

	/* trailing bytes change nothing */
	uint8_t padded[32];
	struct insn p;
	memset(&p, 0, sizeof(p));
	memcpy(padded, bytes, n);
	memset(padded + n, 0x0f, sizeof(padded) - n);
	st = emu_decode(&p, padded, sizeof(padded), c->mode);
	if (st != DECODE_OK || memcmp(&p, &in, offsetof(struct insn, next_rip)) != 0) {
		printf("[%s] mode %d: differs with trailing bytes\n", c->hex, c->mode);
		bad++;
	}
	return bad;
}

static void run_cases(const struct dcase *cases, size_t n)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++)
		bad += check_case(&cases[i]);
	assert_int_equal(bad, 0);
}

#define RUN(name, arr) \
	static void name(void **state) { run_cases(arr, sizeof(arr) / sizeof(arr[0])); }
RUN(long_mode, cases_64)
RUN(addressing_64, cases_addr64)
RUN(legacy_modes, cases_legacy)
RUN(two_and_three_byte_maps, cases_0f)
RUN(invalid_truncated_limit, cases_bad)

/* Every opcode of every map in every mode: a decode either succeeds with
 * a length it can justify, or fails; never reads past the buffer. The
 * following bytes are chosen so ModRM has a SIB and a disp32 (the worst
 * case), and the result must not depend on trailing bytes. */
static void every_opcode(void **state)
{
	static const uint8_t esc[MAP_COUNT][2] = { { 0 }, { 0x0f }, { 0x0f, 0x38 }, { 0x0f, 0x3a } };
	static const unsigned esc_len[MAP_COUNT] = { 0, 1, 2, 2 };
	unsigned ok = 0;

	for (int mode = EMU_MODE_REAL; mode <= EMU_MODE_LONG64; mode++) {
		for (unsigned map = 0; map < MAP_COUNT; map++) {
			for (unsigned op = 0; op < 256; op++) {
				uint8_t b[16] = { 0 };
				struct insn in;
				unsigned k = esc_len[map];

				memcpy(b, esc[map], k);
				b[k] = (uint8_t)op;
				b[k + 1] = 0x84;  /* mod 10, rm 100: SIB + disp32 */
				b[k + 2] = 0x24;
				enum decode_status st = emu_decode(&in, b, sizeof(b), (enum emu_mode)mode);
				uint16_t d = emu_decode_table[map][op];

				/* prefixes and escapes are covered by the other maps */
				if ((d & (DEC_PREFIX | DEC_ESCAPE)) ||
				    ((d & DEC_REXLIKE) && mode == EMU_MODE_LONG64))
					continue;
				if (st != DECODE_OK)
					continue;
				ok++;
				assert_int_equal(in.map, map);
				assert_true(in.len >= 1 && in.len <= INSN_MAX_LEN);
				assert_int_equal(in.has_modrm, (d & DEC_MODRM) != 0);
				assert_false(d & DEC_UD);
				/* truncated: always more */
				unsigned len = in.len;
				for (unsigned t = 0; t < len; t++)
					assert_int_equal(decode_exact(&in, b, t, (enum emu_mode)mode),
							 DECODE_NEED_MORE);
			}
		}
	}
	printf("every_opcode: %u (mode, map, opcode) decode\n", ok);
	assert_true(ok > 4 * 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(long_mode),
		cmocka_unit_test(addressing_64),
		cmocka_unit_test(legacy_modes),
		cmocka_unit_test(two_and_three_byte_maps),
		cmocka_unit_test(invalid_truncated_limit),
		cmocka_unit_test(every_opcode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
